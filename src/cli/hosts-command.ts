// `jellyfish hosts`: per inventory host, the last attempt, last success, last outcome and error;
// filters for the questions asked most (what failed, what is stale, production only). Parses
// flags, calls app/hosts-view.ts, renders.
import type { Command } from 'commander';
import { InventoryError, UsageError } from '../core/errors.js';
import { HOST_RECORD_COLUMNS, hostsView, type HostRecord, type HostsView } from '../app/hosts-view.js';
import { Log } from '../app/log.js';
import { readInventory } from '../inventory/csv.js';
import { parseDuration } from '../config/values.js';
import { renderOutput, type Printable } from '../report/output.js';
import { firstLine, relativeAge } from '../report/table.js';
import type { HostFilter } from '../store/queries.js';
import { addConfigFlag, addHostFilterFlags, collectList, addInventoryFlag, addOutputFlags, configFrom, hostFilterFrom, inventoryFrom, outputFormat, type CommonFlags, type HostFilterFlags, type OutputFlags } from './options.js';
import { withReadStore } from './read-store.js';

/** The hosts options by their flag names; the storage API builds one from its parameters. */
export interface HostsOptions extends HostFilterFlags { failed?: boolean; stale?: string; all?: boolean }
interface HostsFlags extends CommonFlags, OutputFlags, HostsOptions { columns?: string[] }

/** The filter the flags ask; a bad --stale is a usage error. */
export function hostsFilter(flags: HostsOptions, now: number): HostFilter {
  const filter: HostFilter = { ...hostFilterFrom(flags) };
  if (flags.failed) filter.failed = true;
  if (flags.stale !== undefined) {
    const age = parseDuration(flags.stale);
    if (age === undefined) throw new UsageError(`--stale ${flags.stale}: expected a duration such as 30m, 12h or 3d`);
    filter.staleBefore = now - age;
  }
  return filter;
}

type Column = (typeof HOST_RECORD_COLUMNS)[number];
/** The table's header of each column; the default table shows the first six. */
const HEADERS: Record<Column, string> = {
  host: 'HOST', prod: 'PROD', status: 'STATUS', srvtype: 'SRVTYPE', pop: 'POP',
  last_attempt_at: 'LAST ATTEMPT', last_success_at: 'LAST SUCCESS', last_outcome: 'OUTCOME', last_code: 'CODE', last_message: 'MESSAGE', sapi_at: 'SAPI AT',
};
const TABLE_COLUMNS: readonly Column[] = ['host', 'prod', 'last_attempt_at', 'last_success_at', 'last_outcome', 'last_code'];

/** One table cell: times relative to now, prod as yes/no, a message's first line, nothing as `-` or blank. */
function tableCell(r: HostRecord, c: Column, now: number): string {
  switch (c) {
    case 'prod': return r.prod ? 'yes' : 'no';
    case 'last_attempt_at': case 'last_success_at': return relativeAge(r[c], now);
    case 'sapi_at': return r.sapi_at ? relativeAge(r.sapi_at, now) : '';
    case 'last_outcome': return r.last_outcome ?? '-';
    case 'last_message': return firstLine(r.last_message ?? '');
    default: return r[c] ?? '';
  }
}

/** `--columns host,pop,status`: known names, in the order given. */
function columnsFrom(list: string[] | undefined): readonly Column[] | undefined {
  if (!list?.length) return undefined;
  const known = new Set<string>(HOST_RECORD_COLUMNS);
  const bad = list.filter((c) => !known.has(c));
  if (bad.length) throw new UsageError(`--columns: unknown column ${bad.map((b) => JSON.stringify(b)).join(', ')}; the columns are ${HOST_RECORD_COLUMNS.join(', ')}`);
  return list as Column[];
}

/** The answer in every format (`--format json`, an array, is what GET /api/v1/hosts sends too). */
export function hostsPrintable(view: HostsView, columns?: readonly Column[]): Printable {
  return {
    json: () => view.hosts,
    columns: columns ?? HOST_RECORD_COLUMNS,
    records: () => (columns ? view.hosts.map((h) => Object.fromEntries(columns.map((c) => [c, h[c]]))) : view.hosts),
    table: () => {
      const now = Date.now();
      const shown = columns ?? TABLE_COLUMNS;
      return { headers: shown.map((c) => HEADERS[c]), rows: view.hosts.map((r) => shown.map((c) => tableCell(r, c, now))) };
    },
  };
}

export function registerHosts(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('hosts')
    .description('one row per inventory host, in inventory order: last attempt, last success, last outcome and error code; filters combine (AND)')
    .option('--failed', 'only hosts whose last attempt failed (outcome other than ok or partial)')
    .option('--stale <age>', 'only hosts with no success within AGE (30m, 12h, 3d), or never')
    .option('--all', 'every host the database knows, also those no longer in the inventory (in natural order: web2 before web10)')
    .option('--columns <list>', `the columns of the table, csv and ndjson, in this order (comma-separated): ${HOST_RECORD_COLUMNS.join(', ')}; default table: ${TABLE_COLUMNS.join(',')}`, collectList);
  addHostFilterFlags(cmd);
  addOutputFlags(cmd);
  addConfigFlag(cmd);
  addInventoryFlag(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish hosts --failed
  jellyfish hosts --prod --stale 12h --format csv > stale.csv
  jellyfish hosts --failed --format ndjson | jq -r '.host + " " + .last_code'
  jellyfish hosts --no-headers --format csv | cut -d, -f1
  jellyfish hosts --site ams,fra --srvtype web --failed
  jellyfish hosts --columns host,pop,srvtype,status,last_outcome
--site matches the inventory's pop without regard to case; several values of one flag are
alternatives (OR), different flags combine (AND).
JSON carries every column (status, srvtype, pop, last_message, sapi_at too); so do ndjson and csv\nunless --columns picks some.
Ages in the table are relative to now ("3h ago", "never"); JSON has ISO-8601 UTC times.
Without -b the inventory is [collector] servercsv; when that cannot be read, every host in the
database is listed (natural order), with a warning.
Exit codes: 0 (also when no host matches), 64 bad AGE, 65 the -b inventory is unusable,
74 no or unreadable database, 78 config error; 64 also for an unknown --columns name.`);
  cmd.action(async (flags: HostsFlags) => {
    const out = outputFormat(flags);
    const columns = columnsFrom(flags.columns);
    const filter = hostsFilter(flags, Date.now());
    const config = configFrom(flags);
    const inventory = flags.all ? undefined : readHostsInventory(flags, config);
    const view = await withReadStore(config, (s) => hostsView(s, { ...(inventory ? { inventory } : {}), filter }));
    process.stdout.write(renderOutput(out, hostsPrintable(view, columns)));
    setExit(0);
  });
}

/** The inventory's hosts; undefined (list the database's) when the default inventory is unreadable. */
function readHostsInventory(flags: HostsFlags, config: ReturnType<typeof configFrom>) {
  const file = inventoryFrom(flags, config);
  try {
    return readInventory(file, { prodStatuses: config.collector.prodStatuses }).hosts;
  } catch (e) {
    // An inventory named on the command line must be usable; the INI's default may be absent
    // where only the database was copied (a reporting host).
    if (flags.servercsv || !(e instanceof InventoryError)) throw e;
    new Log(false).warn(`${e.message}; listing every host in the database`);
    return undefined;
  }
}
