// `jellyfish query`: the audit question, "which hosts have this now, and since when?"
import type { Command } from 'commander';
import { UsageError } from '../app/errors.js';
import { printError } from '../app/log.js';
import { renderJson } from '../report/status-json.js';
import { firstLine, relativeAge, renderTable, shortTime } from '../report/table.js';
import type { AuditQuery } from '../store/queries.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';
import { withReadStore } from './read-store.js';

interface QueryFlags extends CommonFlags { type: string; subtype?: string; value?: string; like?: string; json?: boolean }

export function registerQuery(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('query')
    .description('which hosts have a fact now (current intervals only), since when and when last seen: the audit question, e.g. "who runs openssl 1.1?"')
    .requiredOption('--type <type>', 'collection type (packages, release, rkernel, ...)')
    .option('--subtype <subtype>', 'subtype: a package name, an os-release key, ... (give it: it makes the query an index lookup)')
    .option('--value <value>', 'exact value')
    .option('--like <pattern>', "SQL LIKE pattern on the value: % any run, _ one character, \\ escapes them; ASCII letters match either case")
    .option('--json', 'print JSON (sorted keys) instead of a table')
    .option('--compact', 'print the JSON on one line (implies --json)');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish query --type packages --subtype openssl --like '1.1%'
  jellyfish query --type release --subtype VERSION_ID --value 12 --json
A type never stored draws a warning on stderr listing the known types.
Exit codes: 0 (also when nothing matches), 64 usage (--value with --like, no --type),
74 no or unreadable database, 78 config error.`);
  cmd.action(async (flags: QueryFlags) => {
    if (flags.value !== undefined && flags.like !== undefined) throw new UsageError('give --value or --like, not both');
    const q: AuditQuery = {
      type: flags.type,
      ...(flags.subtype !== undefined ? { subtype: flags.subtype } : {}),
      ...(flags.value !== undefined ? { value: flags.value } : {}),
      ...(flags.like !== undefined ? { like: flags.like } : {}),
    };
    const config = configFrom(flags);
    const { hits, known } = await withReadStore(config, async (s) => {
      const found = await s.auditQuery(q);
      // No hit at all may be a typo in --type: worth a word, found by index seeks only.
      const types = found.length === 0 && !(await s.typeExists(q.type)) ? await s.factTypes() : undefined;
      return { hits: found, known: types };
    });
    if (known) printError(`jellyfish: warning: no fact of type ${JSON.stringify(q.type)} was ever stored; known types: ${known.join(', ') || '(none)'}`);
    if (flags.json || flags.compact) {
      process.stdout.write(renderJson({
        query: q,
        count: hits.length,
        host_count: new Set(hits.map((h) => h.host)).size,
        hosts: hits.map((h) => ({ host: h.host, subtype: h.subtype, value: h.value, since: h.since, last_seen: h.lastSeen })),
      }, Boolean(flags.compact)) + '\n');
    } else {
      const now = Date.now();
      process.stdout.write(renderTable(
        ['HOST', 'SUBTYPE', 'VALUE', 'SINCE', 'LAST SEEN'],
        hits.map((h) => [h.host, h.subtype, firstLine(h.value), shortTime(h.since), relativeAge(h.lastSeen, now)]),
      ));
    }
    setExit(0);
  });
}
