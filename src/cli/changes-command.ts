// `jellyfish changes`: the fleet's change feed over a window (SPEC §9). Parses flags, calls
// app/changes.ts, renders.
import type { Command } from 'commander';
import { changesStream, type ChangesRequest, type ChangesStream, type ChangesView } from '../app/changes.js';
import { UsageError } from '../core/errors.js';
import { printError } from '../app/log.js';
import { timeFlag } from '../app/time-arg.js';
import { outputChunks, streamedRecordChunks, type OutputOptions, type Printable } from '../report/output.js';
import { renderJsonStreamed } from '../report/status-json.js';
import type { ChangeRow } from '../store/changes.js';
import { firstLine, shortTime } from '../report/table.js';
import { EXIT_UNKNOWN_HOST } from './facts-command.js';
import { addConfigFlag, addHostFilterFlags, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';
import { withReadStore } from './read-store.js';
import { writeChunks } from './write-out.js';

/** The change-feed options by their flag names (camelCase). */
export interface ChangesOptions {
  since: string; until?: string; type?: string; subtype?: string; host?: string;
  site?: string[]; srvtype?: string[]; prod?: boolean; includeNewHosts?: boolean;
}
interface ChangesFlags extends CommonFlags, OutputFlags, ChangesOptions {}

const COLUMNS = ['at', 'host', 'type', 'subtype', 'change', 'old', 'new'] as const;

/** The request the flags (or the storage API's parameters of the same names) ask; a bad time is a usage error. */
export function changesRequest(flags: ChangesOptions, now: number): ChangesRequest {
  const since = timeFlag('--since', flags.since, now);
  const until = flags.until === undefined ? now : timeFlag('--until', flags.until, now);
  if (until <= since) throw new UsageError(`--until (${new Date(until).toISOString()}) must be after --since (${new Date(since).toISOString()})`);
  return {
    since, until,
    ...(flags.type !== undefined ? { type: flags.type } : {}),
    ...(flags.subtype !== undefined ? { subtype: flags.subtype } : {}),
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(flags.site ? { sites: flags.site } : {}),
    ...(flags.srvtype ? { srvtypes: flags.srvtype } : {}),
    ...(flags.prod ? { prod: true } : {}),
    ...(flags.includeNewHosts ? { includeNewHosts: true } : {}),
  };
}

/** The answer in every format (`--format json` is what GET /api/v1/changes sends too). */
export function changesPrintable(view: ChangesView): Printable {
  return {
    json: () => view,
    columns: COLUMNS,
    records: () => view.changes,
    table: () => ({
      headers: COLUMNS.map((c) => c.toUpperCase()),
      rows: view.changes.map((r) => [shortTime(r.at), r.host, r.type ?? '', r.subtype ?? '', r.change, firstLine(r.old ?? ''), firstLine(r.new ?? '')]),
    }),
  };
}

/**
 * The feed written as the store reads it, in the asked format: json, ndjson and csv a day of the
 * window at a time (a month of a big fleet is millions of rows, never held); the table needs
 * every row for its column widths.
 */
async function* changesChunks(out: OutputOptions, s: ChangesStream): AsyncGenerator<string> {
  if (out.format === 'table') {
    const changes: ChangeRow[] = [];
    for await (const batch of s.batches) for (const r of batch) changes.push(r);
    const { batches: _, ...rest } = s;
    yield* outputChunks(out, changesPrintable({ ...rest, count: changes.length, changes }));
    return;
  }
  if (out.format === 'json') {
    let count = 0;
    const counted = async function* () { for await (const b of s.batches) { count += b.length; yield b; } };
    // Rows are flat with their keys in sorted order (the store's and changesStream's): printed as they are.
    yield* renderJsonStreamed('changes', counted(), () => ({ count, filters: s.filters, new_hosts: s.new_hosts, since: s.since, until: s.until }), out.compact, true);
    yield '\n';
    return;
  }
  yield* streamedRecordChunks(out, COLUMNS, s.batches, true);
}

export function registerChanges(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('changes')
    .description('the fleet\'s change feed: every fact added, removed or changed in a window, oldest first; hosts first collected in it once as new_host')
    .requiredOption('--since <T>', '(required) window start: an ISO 8601 date or date-time (no offset = UTC) or an age (30m, 24h, 7d)')
    .option('--until <T>', 'window end, exclusive (default: now)')
    .option('--type <type>', 'only this collection type (packages, release, ...)')
    .option('--subtype <subtype>', 'only this subtype (a package name, an os-release key, ...)')
    .option('--host <host>', 'only this host, as written in the inventory')
    .option('--include-new-hosts', 'list a new host\'s first facts as added rows instead of one new_host row');
  addHostFilterFlags(cmd);
  addOutputFlags(cmd);
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Each row is {at, host, type, subtype, change, old, new}: added (a subtype with no interval
before), removed (its interval closed, none opened; at = the first collection that no longer
saw it), changed (closed and reopened with another value). ndjson prints one row per line.
Examples:
  jellyfish changes --since 24h
  jellyfish changes --since 7d --type packages --prod --format csv > week.csv
  jellyfish changes --since 2026-12-01 --until 2026-12-02 --host web7.ams --json
Exit codes: 0 (also when nothing changed), ${EXIT_UNKNOWN_HOST} --host is not in the database,
64 usage (a bad time, an unknown format), 74 no or unreadable database, 78 config error.`);
  cmd.action(async (flags: ChangesFlags) => {
    const out = outputFormat(flags);
    const req = changesRequest(flags, Date.now());
    const config = configFrom(flags);
    // The rows are written while the store reads them: the store stays open until the last one.
    const code = await withReadStore(config, async (store) => {
      const stream = await changesStream(store, req);
      if ('unknownHost' in stream) {
        const hint = stream.similar.length ? `; similar: ${stream.similar.join(', ')}` : '';
        printError(`jellyfish: ${stream.unknownHost} is not in the database (hosts are named as in the inventory)${hint}`);
        return EXIT_UNKNOWN_HOST;
      }
      await writeChunks(changesChunks(out, stream));
      return 0;
    });
    setExit(code);
  });
}
