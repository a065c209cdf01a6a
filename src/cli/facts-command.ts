// `jellyfish facts HOST`: what a host looks like now, grouped by type; or its whole history.
import type { Command } from 'commander';
import { printError } from '../app/log.js';
import { renderJson } from '../report/status-json.js';
import { firstLine, relativeAge, renderTable, shortTime } from '../report/table.js';
import type { FactInterval } from '../store/queries.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';
import { withReadStore } from './read-store.js';

/** Exit code when the host is not in the database. */
export const EXIT_UNKNOWN_HOST = 1;

interface FactsFlags extends CommonFlags { type?: string; subtype?: string; history?: boolean; json?: boolean }

/** Table rows grouped by type: the type is written on the first row of its group only. */
function tableRows(facts: FactInterval[], history: boolean, now: number): string[][] {
  let previous: string | undefined;
  return facts.map((f) => {
    const type = f.type === previous ? '' : f.type;
    previous = f.type;
    const value = firstLine(f.value);
    return history
      ? [type, f.subtype, value, shortTime(f.firstSeen), shortTime(f.lastSeen), f.current ? 'current' : 'closed']
      : [type, f.subtype, value, shortTime(f.firstSeen), relativeAge(f.lastSeen, now)];
  });
}

export function registerFacts(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('facts')
    .argument('<host>', 'the host as written in the inventory (an unambiguous different case is accepted)')
    .description("a host's current facts grouped by type (subtype, value, since when, last seen); --history for every interval")
    .option('--type <type>', 'only this collection type (packages, release, rkernel, ...)')
    .option('--subtype <subtype>', 'only this subtype (a package name, an os-release key, ...)')
    .option('--history', 'every interval first_seen..last_seen, closed ones included, oldest first')
    .option('--json', 'print JSON (sorted keys; whole values) instead of a table')
    .option('--compact', 'print the JSON on one line (implies --json)');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
In the table a multi-line value shows its first line; --json carries every value whole.
Exit codes: 0, ${EXIT_UNKNOWN_HOST} the host is not in the database (message on stderr, with similar names),
64 usage, 74 no or unreadable database, 78 config error.`);
  cmd.action(async (host: string, flags: FactsFlags) => {
    const config = configFrom(flags);
    const found = await withReadStore(config, async (s): Promise<{ missing: string[] } | { name: string; facts: FactInterval[]; known?: string[] }> => {
      const ref = await s.findHost(host);
      if (!ref) return { missing: await s.similarHosts(host) };
      const opts = { ...(flags.type !== undefined ? { type: flags.type } : {}), ...(flags.history ? { history: true } : {}) };
      const facts = (await s.hostFacts(ref, opts)).filter((f) => flags.subtype === undefined || f.subtype === flags.subtype);
      // Nothing of a type no host ever had is likely a typo in --type: say so, as query does.
      const known = facts.length === 0 && flags.type !== undefined && !(await s.typeExists(flags.type)) ? await s.factTypes() : undefined;
      return { name: ref.name, facts, ...(known ? { known } : {}) };
    });
    if ('missing' in found) {
      const hint = found.missing.length ? `; similar: ${found.missing.join(', ')}` : '';
      printError(`jellyfish: ${host} is not in the database (hosts are named as in the inventory)${hint}`);
      setExit(EXIT_UNKNOWN_HOST);
      return;
    }
    if (found.known) printError(`jellyfish: warning: no fact of type ${JSON.stringify(flags.type)} was ever stored; known types: ${found.known.join(', ') || '(none)'}`);
    if (flags.json || flags.compact) {
      process.stdout.write(renderJson({
        host: found.name,
        history: Boolean(flags.history),
        facts: found.facts.map((f) => ({ type: f.type, subtype: f.subtype, value: f.value, first_seen: f.firstSeen, last_seen: f.lastSeen, current: f.current })),
      }, Boolean(flags.compact)) + '\n');
    } else {
      const headers = flags.history
        ? ['TYPE', 'SUBTYPE', 'VALUE', 'FIRST SEEN', 'LAST SEEN', 'STATE']
        : ['TYPE', 'SUBTYPE', 'VALUE', 'SINCE', 'LAST SEEN'];
      process.stdout.write(renderTable(headers, tableRows(found.facts, Boolean(flags.history), Date.now())));
    }
    setExit(0);
  });
}
