// `jellyfish facts HOST`: what a host looks like now, grouped by type; or its whole history.
import type { Command } from 'commander';
import { printError } from '../app/log.js';
import { hostAuditsView, type HostAuditEntry } from '../audits/audits-view.js';
import { renderOutput } from '../report/output.js';
import { firstLine, relativeAge, shortTime } from '../report/table.js';
import type { FactInterval } from '../store/queries.js';
import { addConfigFlag, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';
import { withReadStore } from './read-store.js';

/** Exit code when the host is not in the database. */
export const EXIT_UNKNOWN_HOST = 1;

interface FactsFlags extends CommonFlags, OutputFlags { type?: string; subtype?: string; history?: boolean; audits?: boolean }

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
    .option('--audits', "the host's current audit results instead (failing first): result, since, fixed at (see `jellyfish analyze`)");
  addOutputFlags(cmd);
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish facts web7.ams --type packages --subtype openssl --history
  jellyfish facts web7.ams --type packages --format csv > web7-packages.csv
  jellyfish facts web7.ams --format ndjson | jq -r 'select(.type == "release") | .subtype + "=" + .value'
  jellyfish facts web7.ams --audits
In the table a multi-line value shows its first line; json, ndjson and csv carry every value
whole (csv quotes it, RFC 4180); ndjson and csv rows also name the host.
Exit codes: 0, ${EXIT_UNKNOWN_HOST} the host is not in the database (message on stderr, with similar names),
64 usage, 74 no or unreadable database, 78 config error.`);
  cmd.action(async (host: string, flags: FactsFlags) => {
    const out = outputFormat(flags);
    const config = configFrom(flags);
    const found = await withReadStore(config, async (s): Promise<{ missing: string[] } | { name: string; facts: FactInterval[]; known?: string[]; audits?: HostAuditEntry[] }> => {
      const ref = await s.findHost(host);
      if (!ref) return { missing: await s.similarHosts(host) };
      if (flags.audits) return { name: ref.name, facts: [], audits: await hostAuditsView(s, ref.id) };
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
    if (found.audits) {
      const { name, audits } = found;
      process.stdout.write(renderOutput(out, {
        json: () => ({ host: name, audits }),
        columns: ['host', 'audit', 'priority', 'result', 'since', 'fixed_at', 'last_seen', 'stale', 'bucket', 'link'],
        records: () => audits.map((a) => ({ host: name, ...a })),
        table: () => ({
          headers: ['AUDIT', 'PRIO', 'RESULT', 'SINCE', 'FIXED AT'],
          rows: audits.map((a) => [a.audit, String(a.priority), a.stale ? `${a.result} (stale)` : a.result, shortTime(a.since), shortTime(a.fixed_at)]),
        }),
      }));
      setExit(0);
      return;
    }
    if (found.known) printError(`jellyfish: warning: no fact of type ${JSON.stringify(flags.type)} was ever stored; known types: ${found.known.join(', ') || '(none)'}`);
    const { name, facts } = found;
    const record = (f: FactInterval) => ({ host: name, type: f.type, subtype: f.subtype, value: f.value, first_seen: f.firstSeen, last_seen: f.lastSeen, current: f.current });
    process.stdout.write(renderOutput(out, {
      json: () => ({ host: name, history: Boolean(flags.history), facts: facts.map(({ type, subtype, value, firstSeen, lastSeen, current }) => ({ type, subtype, value, first_seen: firstSeen, last_seen: lastSeen, current })) }),
      columns: ['host', 'type', 'subtype', 'value', 'first_seen', 'last_seen', 'current'],
      records: () => facts.map(record),
      table: () => ({
        headers: flags.history ? ['TYPE', 'SUBTYPE', 'VALUE', 'FIRST SEEN', 'LAST SEEN', 'STATE'] : ['TYPE', 'SUBTYPE', 'VALUE', 'SINCE', 'LAST SEEN'],
        rows: tableRows(facts, Boolean(flags.history), Date.now()),
      }),
    }));
    setExit(0);
  });
}
