// `jellyfish hosts`: per host, the last attempt, last success, last outcome and error.
import type { Command } from 'commander';
import { UsageError } from '../app/errors.js';
import { parseDuration } from '../config/values.js';
import { renderJson } from '../report/status-json.js';
import { relativeAge, renderTable } from '../report/table.js';
import { listHosts } from '../store/queries.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';
import { withReadStore } from './read-store.js';

export function registerHosts(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('hosts')
    .description('one row per host in the database: last attempt, last success, last outcome and error code')
    .option('--failed', 'only hosts whose last attempt failed')
    .option('--stale <age>', 'only hosts with no success within AGE (e.g. 1d, 12h), or never')
    .option('--prod', 'only production hosts')
    .option('--json', 'print JSON');
  addConfigFlag(cmd);
  cmd.addHelpText('after', '\nExit codes: 0, 64 bad AGE, 74 no or unreadable database, 78 config error.');
  cmd.action((flags: CommonFlags & { failed?: boolean; stale?: string; prod?: boolean; json?: boolean }) => {
    let staleBefore: number | undefined;
    if (flags.stale !== undefined) {
      const age = parseDuration(flags.stale);
      if (age === undefined) throw new UsageError(`--stale ${flags.stale}: expected a duration such as 30m, 12h or 3d`);
      staleBefore = Date.now() - age;
    }
    const config = configFrom(flags);
    const rows = withReadStore(config, (s) => listHosts(s.database, { ...(flags.failed ? { failed: true } : {}), ...(staleBefore !== undefined ? { staleBefore } : {}), ...(flags.prod ? { prod: true } : {}) }));
    if (flags.json) {
      process.stdout.write(renderJson(rows.map((r) => ({
        host: r.name, prod: r.isProd, status: r.status, last_attempt_at: r.lastAttemptAt, last_success_at: r.lastSuccessAt,
        last_outcome: r.lastOutcome, last_code: r.lastCode, last_message: r.lastMessage, sapi_at: r.sapiAt,
      }))) + '\n');
    } else {
      const now = Date.now();
      process.stdout.write(renderTable(
        ['HOST', 'PROD', 'LAST ATTEMPT', 'LAST SUCCESS', 'OUTCOME', 'CODE'],
        rows.map((r) => [r.name, r.isProd ? 'yes' : 'no', relativeAge(r.lastAttemptAt, now), relativeAge(r.lastSuccessAt, now), r.lastOutcome ?? '-', r.lastCode ?? '']),
      ));
    }
    setExit(0);
  });
}
