// `jellyfish hosts`: per host known to the database, the last attempt, last success, last outcome
// and error; filters for the questions asked most (what failed, what is stale, production only).
import type { Command } from 'commander';
import { UsageError } from '../app/errors.js';
import { parseDuration } from '../config/values.js';
import { renderJson } from '../report/status-json.js';
import { relativeAge, renderTable } from '../report/table.js';
import { listHosts, type HostFilter } from '../store/queries.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';
import { withReadStore } from './read-store.js';

interface HostsFlags extends CommonFlags { failed?: boolean; stale?: string; prod?: boolean; json?: boolean }

export function registerHosts(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('hosts')
    .description('one row per host in the database (named as in the inventory): last attempt, last success, last outcome and error code; filters combine (AND)')
    .option('--failed', 'only hosts whose last attempt failed (outcome other than ok or partial)')
    .option('--stale <age>', 'only hosts with no success within AGE (30m, 12h, 3d), or never')
    .option('--prod', 'only production hosts')
    .option('--json', 'print JSON (sorted keys; with last_message) instead of a table');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Ages in the table are relative to now ("3h ago", "never"); JSON has ISO-8601 UTC times.
Exit codes: 0 (also when no host matches), 64 bad AGE, 74 no or unreadable database, 78 config error.`);
  cmd.action((flags: HostsFlags) => {
    const filter: HostFilter = {};
    if (flags.failed) filter.failed = true;
    if (flags.prod) filter.prod = true;
    if (flags.stale !== undefined) {
      const age = parseDuration(flags.stale);
      if (age === undefined) throw new UsageError(`--stale ${flags.stale}: expected a duration such as 30m, 12h or 3d`);
      filter.staleBefore = Date.now() - age;
    }
    const config = configFrom(flags);
    const rows = withReadStore(config, (s) => listHosts(s.database, filter));
    if (flags.json) {
      process.stdout.write(renderJson(rows.map((r) => ({
        host: r.name, prod: r.isProd, status: r.status, srvtype: r.srvtype, pop: r.pop,
        last_attempt_at: r.lastAttemptAt, last_success_at: r.lastSuccessAt,
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
