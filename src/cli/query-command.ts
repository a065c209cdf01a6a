// `jellyfish query`: the audit question, "which hosts have this now, and since when?"
import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { printError } from '../app/log.js';
import { timeFlag } from '../app/time-arg.js';
import { predicateError, runQuery, SCHEME_CHOICES, VERSION_OPS, type LeftOut, type QueryRequest, type QueryView, type SchemeChoice, type VersionPredicate } from '../app/query.js';
import { renderOutput, type Printable } from '../report/output.js';
import { cell, firstLine, relativeAge, shortTime } from '../report/table.js';
import { addConfigFlag, addHostFilterFlags, addOutputFlags, configFrom, hostFilterFrom, outputFormat, type CommonFlags, type HostFilterFlags, type OutputFlags } from './options.js';
import { withReadStore } from './read-store.js';

/** The query options by their flag names (commander's camelCase); the storage API builds one from its parameters. */
export interface QueryFlags extends CommonFlags, OutputFlags, HostFilterFlags {
  type: string; subtype?: string; value?: string; like?: string;
  versionLt?: string; versionLe?: string; versionEq?: string; versionGe?: string; versionGt?: string;
  scheme: SchemeChoice; countBy?: 'value'; at?: string;
}

const OP_FLAG = { lt: 'versionLt', le: 'versionLe', eq: 'versionEq', ge: 'versionGe', gt: 'versionGt' } as const;
const OP_WORD = { lt: 'older than', le: 'older than or equal to', eq: 'equal to', ge: 'newer than or equal to', gt: 'newer than' } as const;
/** Hosts named per warning line before "+N more" (the JSON lists them all under left_out). */
const WARN_HOSTS = 10;

/** The request as flags gave it; a predicate version the scheme refuses is a usage error naming its flag. */
export function requestFrom(flags: QueryFlags): QueryRequest {
  if (flags.value !== undefined && flags.like !== undefined) throw new UsageError('give --value or --like, not both');
  const versions: VersionPredicate[] = [];
  for (const op of VERSION_OPS) {
    const v = flags[OP_FLAG[op]];
    if (v === undefined) continue;
    const bad = predicateError(v, flags.scheme);
    if (bad) throw new UsageError(`--version-${op} ${JSON.stringify(v)}: ${bad}`);
    versions.push({ op, version: v });
  }
  return {
    type: flags.type,
    ...(flags.subtype !== undefined ? { subtype: flags.subtype } : {}),
    ...(flags.value !== undefined ? { value: flags.value } : {}),
    ...(flags.like !== undefined ? { like: flags.like } : {}),
    ...(versions.length ? { versions, scheme: flags.scheme } : {}),
    ...(flags.countBy ? { countBy: flags.countBy } : {}),
    ...(flags.at !== undefined ? { at: new Date(timeFlag('--at', flags.at, Date.now())).toISOString() } : {}),
    ...hostFilterFrom(flags),
  };
}

/** The request echoed in the JSON, with the flags' spelling (version_lt, count_by). */
function requestJson(q: QueryRequest): Record<string, unknown> {
  const { versions, countBy, ...rest } = q;
  return {
    ...rest,
    ...Object.fromEntries((versions ?? []).map((p) => [`version_${p.op}`, p.version])),
    ...(countBy ? { count_by: countBy } : {}),
  };
}

/** One stderr line per reason, hosts named (escaped: they come from the database) up to WARN_HOSTS. */
function leftOutWarnings(leftOut: LeftOut[]): string[] {
  const byReason = new Map<string, LeftOut[]>();
  for (const l of leftOut) {
    const rows = byReason.get(l.reason);
    if (rows) rows.push(l); else byReason.set(l.reason, [l]);
  }
  return [...byReason].map(([reason, rows]) => {
    const named = rows.slice(0, WARN_HOSTS).map((r) => `${r.host} (${r.subtype} ${firstLine(r.value)})`).join(', ');
    const more = rows.length > WARN_HOSTS ? `, +${rows.length - WARN_HOSTS} more (--json lists them under left_out)` : '';
    return cell(`jellyfish: warning: ${rows.length} left out of the version comparison, ${reason}: ${named}${more}`);
  });
}

/** The answer in every format (`--format json` is what GET /api/v1/query sends too). */
export function printable(q: QueryRequest, view: QueryView): Printable {
  const versioned = Boolean(q.versions?.length);
  const leftOut = versioned ? { left_out: view.leftOut } : {};
  const base = { query: requestJson(q), count: view.count, host_count: view.hostCount, ...leftOut };
  if (view.counts) {
    const counts = view.counts;
    return {
      json: () => ({ ...base, values: counts }),
      columns: ['count', 'value'],
      records: () => counts.map((c) => ({ count: c.count, value: c.value, hosts: c.hosts })),
      table: () => ({ headers: ['COUNT', 'VALUE'], rows: counts.map((c) => [String(c.count), firstLine(c.value)]) }),
    };
  }
  const record = (h: QueryView['hits'][number]) => ({
    host: h.host, subtype: h.subtype, value: h.value, since: h.since, last_seen: h.lastSeen, ...(versioned ? { scheme: h.scheme } : {}),
  });
  return {
    json: () => ({ ...base, hosts: view.hits.map(record) }),
    columns: ['host', 'subtype', 'value', 'since', 'last_seen', ...(versioned ? ['scheme'] : [])],
    records: () => view.hits.map(record),
    table: () => {
      const now = Date.now();
      return {
        headers: ['HOST', 'SUBTYPE', 'VALUE', 'SINCE', 'LAST SEEN'],
        rows: view.hits.map((h) => [h.host, h.subtype, firstLine(h.value), shortTime(h.since), relativeAge(h.lastSeen, now)]),
      };
    },
  };
}

export function registerQuery(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('query')
    .description('which hosts have a fact now (current intervals only; with --at, then), since when and when last seen: the audit question, e.g. "who runs openssl 1.1?"; with version predicates "who runs openssl older than X?"; with --count-by value "how many hosts run each version?"')
    .requiredOption('--type <type>', 'collection type (packages, release, rkernel, ...)')
    .option('--subtype <subtype>', 'subtype: a package name, an os-release key, ... (give it: it makes the query an index lookup)')
    .option('--value <value>', 'exact value')
    .option('--like <pattern>', "SQL LIKE pattern on the value: % any run, _ one character, \\ escapes them; ASCII letters match either case");
  for (const op of VERSION_OPS) cmd.option(`--version-${op} <version>`, `only values ${OP_WORD[op]} VERSION in the version order (--scheme); several combine (AND)`);
  cmd.addOption(new Option('--scheme <scheme>', 'the order of the --version-* predicates: dpkg (Debian, Ubuntu), rpm (RHEL, Fedora, SUSE), or auto: per host from its release facts ID and ID_LIKE; a host neither names is left out, with a warning')
    .choices(SCHEME_CHOICES).default('auto'));
  cmd.addOption(new Option('--count-by <what>', 'one row per distinct value with its host count, most hosts first (JSON and ndjson also list the hosts)').choices(['value']));
  cmd.option('--at <T>', 'what was true at T instead of now: an ISO 8601 date or date-time (no offset = UTC) or an age (30m, 24h, 7d); --scheme auto reads the release facts of then too');
  addHostFilterFlags(cmd);
  addOutputFlags(cmd);
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish query --type packages --subtype openssl --like '1.1%'
  jellyfish query --type packages --subtype openssl --version-lt 3.0.11-1~deb12u2
  jellyfish query --type packages --subtype openssl --version-ge 1:3.0 --version-lt 1:3.1 --scheme rpm
  jellyfish query --type packages --subtype openssl --count-by value
  jellyfish query --type release --subtype VERSION_ID --value 12 --format csv > debian12.csv
  jellyfish query --type rkernel --format ndjson | jq -r .host
  jellyfish query --type packages --subtype openssl --at 2026-11-01 --count-by value
  jellyfish query --type rkernel --site ams,fra --srvtype web --prod --at 7d
--at T answers with the interval that covered T: opened at or before T and still current, or
closed (first not seen) after T. History moved out by \`prune\` is not consulted.
--site, --srvtype and --prod keep the hosts whose stored pop (any case), srvtype or production
status match; several values of one flag are alternatives, different flags combine.
Versions compare as dpkg --compare-versions and rpm's rpmvercmp do (epochs, ~, ^, +b1, leading
zeros). A stored value the host's order refuses (dpkg: an empty revision, a bad epoch) is left out
with a warning, as are hosts whose release facts name neither family (--scheme auto); --json lists
them under left_out. Hosts are in natural order (127.1.0.2 before 127.1.0.10).
A type never stored draws a warning on stderr listing the known types.
Exit codes: 0 (also when nothing matches), 64 usage (--value with --like, no --type, a version
the scheme refuses, a bad --format, --scheme or --at), 74 no or unreadable database, 78 config error.`);
  cmd.action(async (flags: QueryFlags) => {
    const out = outputFormat(flags);
    const q = requestFrom(flags);
    const view = await withReadStore(configFrom(flags), (s) => runQuery(s, q));
    if (view.knownTypes) printError(`jellyfish: warning: no fact of type ${JSON.stringify(q.type)} was ever stored; known types: ${view.knownTypes.join(', ') || '(none)'}`);
    for (const w of leftOutWarnings(view.leftOut)) printError(w);
    process.stdout.write(renderOutput(out, printable(q, view)));
    setExit(0);
  });
}
