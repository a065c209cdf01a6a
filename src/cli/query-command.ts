// `jellyfish query`: the audit question, "which hosts have this now, and since when?"
import type { Command } from 'commander';
import { UsageError } from '../app/errors.js';
import { renderJson } from '../report/status-json.js';
import { renderTable } from '../report/table.js';
import { auditQuery } from '../store/queries.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';
import { withReadStore } from './read-store.js';

export function registerQuery(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('query')
    .description('which hosts have a fact now, with since-when: e.g. query --type packages --subtype openssl --like "1.1%"')
    .requiredOption('--type <type>', 'collection type (packages, release, rkernel, ...)')
    .option('--subtype <subtype>', 'subtype (a package name, an os-release key, ...)')
    .option('--value <value>', 'exact value')
    .option('--like <pattern>', 'SQL LIKE pattern on the value (% any run, _ one character)')
    .option('--json', 'print JSON');
  addConfigFlag(cmd);
  cmd.addHelpText('after', '\nExit codes: 0 (also when nothing matches), 64 --value with --like, 74 no or unreadable database, 78 config error.');
  cmd.action((flags: CommonFlags & { type: string; subtype?: string; value?: string; like?: string; json?: boolean }) => {
    if (flags.value !== undefined && flags.like !== undefined) throw new UsageError('give --value or --like, not both');
    const config = configFrom(flags);
    const hits = withReadStore(config, (s) => auditQuery(s.database, {
      type: flags.type,
      ...(flags.subtype !== undefined ? { subtype: flags.subtype } : {}),
      ...(flags.value !== undefined ? { value: flags.value } : {}),
      ...(flags.like !== undefined ? { like: flags.like } : {}),
    }));
    if (flags.json) {
      process.stdout.write(renderJson({ count: hits.length, hosts: hits.map((h) => ({ host: h.host, subtype: h.subtype, value: h.value, since: h.since, last_seen: h.lastSeen })) }) + '\n');
    } else {
      process.stdout.write(renderTable(['HOST', 'SUBTYPE', 'VALUE', 'SINCE', 'LAST SEEN'], hits.map((h) => [h.host, h.subtype, h.value, h.since, h.lastSeen])));
      process.stderr.write(`${hits.length} match${hits.length === 1 ? '' : 'es'}\n`);
    }
    setExit(0);
  });
}
