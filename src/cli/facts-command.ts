// `jellyfish facts HOST`: what a host looks like now, grouped by type; or its whole history.
// Parses flags, calls app/facts-view.ts, renders.
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { printError } from '../app/log.js';
import { hostAuditsView } from '../audits/audits-view.js';
import { timeFlag } from '../app/time-arg.js';
import { renderOutput, type Printable } from '../report/output.js';
import { firstLine, relativeAge, shortTime } from '../report/table.js';
import { FACT_RECORD_COLUMNS, factRecords, factsView, type FactEntry, type FactsRequest, type FactsView } from '../app/facts-view.js';
import { addConfigFlag, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';
import { withReadStore } from './read-store.js';

/** Exit code when the host is not in the database. */
export const EXIT_UNKNOWN_HOST = 1;

/** The facts options by their flag names; the storage API builds one from its parameters. */
export interface FactsOptions { type?: string; subtype?: string; history?: boolean; at?: string }
interface FactsFlags extends CommonFlags, OutputFlags, FactsOptions { audits?: boolean }

/** The request the flags ask; --at with --history, or a bad --at, is a usage error. */
export function factsRequest(flags: FactsOptions, now: number): FactsRequest {
  if (flags.at !== undefined && flags.history) throw new UsageError('--at asks for one instant, --history for every interval: give one of them');
  const at = flags.at === undefined ? undefined : new Date(timeFlag('--at', flags.at, now)).toISOString();
  return {
    ...(flags.type !== undefined ? { type: flags.type } : {}),
    ...(flags.subtype !== undefined ? { subtype: flags.subtype } : {}),
    ...(flags.history ? { history: true } : {}),
    ...(at !== undefined ? { at } : {}),
  };
}

/** The answer in every format (`--format json` is what GET /api/v1/hosts/HOST/facts sends too). */
export function factsPrintable(view: FactsView): Printable {
  return {
    json: () => view,
    columns: FACT_RECORD_COLUMNS,
    records: () => factRecords(view),
    table: () => {
      // At an instant, relative ages of now say little: the interval's own times, as in --history.
      const spans = view.history || view.at !== undefined;
      return {
        headers: spans ? ['TYPE', 'SUBTYPE', 'VALUE', 'FIRST SEEN', 'LAST SEEN', 'STATE'] : ['TYPE', 'SUBTYPE', 'VALUE', 'SINCE', 'LAST SEEN'],
        rows: tableRows(view.facts, spans, Date.now()),
      };
    },
  };
}

/** Table rows grouped by type: the type is written on the first row of its group only. */
function tableRows(facts: FactEntry[], history: boolean, now: number): string[][] {
  let previous: string | undefined;
  return facts.map((f) => {
    const type = f.type === previous ? '' : f.type;
    previous = f.type;
    const value = firstLine(f.value);
    return history
      ? [type, f.subtype, value, shortTime(f.first_seen), shortTime(f.last_seen), f.current ? 'current' : 'closed']
      : [type, f.subtype, value, shortTime(f.first_seen), relativeAge(f.last_seen, now)];
  });
}

export function registerFacts(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('facts')
    .argument('<host>', 'the host as written in the inventory (an unambiguous different case is accepted)')
    .description("a host's current facts grouped by type (subtype, value, since when, last seen); --at T for those of an instant, --history for every interval")
    .option('--type <type>', 'only this collection type (packages, release, rkernel, ...)')
    .option('--subtype <subtype>', 'only this subtype (a package name, an os-release key, ...)')
    .option('--history', 'every interval first_seen..last_seen, closed ones included, oldest first')
    .option('--at <T>', 'what was true at T: an ISO 8601 date or date-time (no offset = UTC) or an age (30m, 24h, 7d); not with --history')
    .option('--audits', "the host's current audit results instead (failing first): result, since, fixed at (see `jellyfish analyze`)");
  addOutputFlags(cmd);
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish facts web7.ams --type packages --subtype openssl --history
  jellyfish facts web7.ams --type packages --format csv > web7-packages.csv
  jellyfish facts web7.ams --format ndjson | jq -r 'select(.type == "release") | .subtype + "=" + .value'
  jellyfish facts web7.ams --at 2026-11-01T02:00 --type packages --subtype openssl
  jellyfish facts web7.ams --at 7d --type release --json
  jellyfish facts web7.ams --audits
--at T lists the interval of each fact that covered T: opened at or before T and still current,
or closed (first not seen) after T; the table shows its first and last sighting and whether it is
still current. History moved out by \`prune\` is not consulted.
In the table a multi-line value shows its first line; json, ndjson and csv carry every value
whole (csv quotes it, RFC 4180); ndjson and csv rows also name the host.
Exit codes: 0, ${EXIT_UNKNOWN_HOST} the host is not in the database (message on stderr, with similar names),
64 usage (--at with --history, a bad --at), 74 no or unreadable database, 78 config error.`);
  cmd.action(async (host: string, flags: FactsFlags) => {
    const out = outputFormat(flags);
    const req = factsRequest(flags, Date.now());
    const config = configFrom(flags);
    if (flags.audits) {
      const found = await withReadStore(config, async (s): Promise<{ missing: string[] } | { name: string; audits: Awaited<ReturnType<typeof hostAuditsView>> }> => {
        const ref = await s.findHost(host);
        return ref ? { name: ref.name, audits: await hostAuditsView(s, ref.id) } : { missing: await s.similarHosts(host) };
      });
      if (!('audits' in found)) {
        const hint = found.missing.length ? `; similar: ${found.missing.join(', ')}` : '';
        printError(`jellyfish: ${host} is not in the database (hosts are named as in the inventory)${hint}`);
        setExit(EXIT_UNKNOWN_HOST);
        return;
      }
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
    const answer = await withReadStore(config, (s) => factsView(s, host, req));
    if ('unknownHost' in answer) {
      const hint = answer.similar.length ? `; similar: ${answer.similar.join(', ')}` : '';
      printError(`jellyfish: ${answer.unknownHost} is not in the database (hosts are named as in the inventory)${hint}`);
      setExit(EXIT_UNKNOWN_HOST);
      return;
    }
    if (answer.knownTypes) printError(`jellyfish: warning: no fact of type ${JSON.stringify(flags.type)} was ever stored; known types: ${answer.knownTypes.join(', ') || '(none)'}`);
    const { view } = answer;
    process.stdout.write(renderOutput(out, factsPrintable(view)));
    setExit(0);
  });
}
