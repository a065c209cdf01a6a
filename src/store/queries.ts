// Read-only questions the operator asks of the database: hosts, one host's facts, the audit query
// ("who runs openssl 1.1?"), the last runs. Written once over a Driver (`?` placeholders, the few
// words that differ from SqlWords); every engine failure becomes a StorageError (exit 74).
import type { InventoryHost } from '../inventory/host.js';
import { guarded, type Driver, type SqlWords } from './driver.js';
import { FACT_LAST_SEEN, JOIN_FACT_TYPES } from './migrations.js';

const read = <T>(d: Driver, what: string, fn: () => T | Promise<T>): Promise<T> => guarded(d.name, `cannot read ${what}`, fn);

/** `fragment` added to `where`, `value` bound once per `?` in it. */
export function bind(where: string[], params: unknown[], fragment: string, value: unknown): void {
  where.push(fragment);
  for (let i = fragment.split('?').length - 1; i > 0; i--) params.push(value);
}

// ---- hosts ----

export interface HostRow {
  name: string;
  isProd: boolean;
  srvtype: string | null;
  pop: string | null;
  status: string | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastOutcome: string | null;
  lastCode: string | null;
  lastMessage: string | null;
  sapiAt: string | null;
}

export interface HostFilter {
  /** last outcome is neither ok nor partial (hosts never attempted are not "failed") */
  failed?: boolean;
  /** no success at or after this instant (epoch ms), or never */
  staleBefore?: number;
  prod?: boolean;
  /** the inventory's pop is one of these (any case) */
  sites?: string[];
  /** the inventory's srvtype is one of these (exact) */
  srvtypes?: string[];
}

export const HOST_COLUMNS = 'name, is_prod, srvtype, pop, status, last_attempt_at, last_success_at, last_outcome, last_code, last_message, sapi_at';

/** A row of HOST_COLUMNS read as an array (10,000 hosts: a third of the time of rows as objects). */
export function hostRowOf(r: unknown[]): HostRow {
  return {
    name: r[0] as string, isProd: Number(r[1]) === 1, srvtype: r[2] as string | null, pop: r[3] as string | null, status: r[4] as string | null,
    lastAttemptAt: r[5] as string | null, lastSuccessAt: r[6] as string | null, lastOutcome: r[7] as string | null,
    lastCode: r[8] as string | null, lastMessage: r[9] as string | null, sapiAt: r[10] as string | null,
  };
}

export async function listHosts(d: Driver, f: HostFilter = {}): Promise<HostRow[]> {
  const rows = (await read(d, 'hosts', () => d.arrays(`SELECT ${HOST_COLUMNS} FROM hosts ORDER BY name`))).map(hostRowOf);
  return filterHosts(rows, f);
}

/** The rows of the hosts named so (any order; a name the database does not hold has none). */
export async function hostsNamed(d: Driver, names: readonly string[]): Promise<HostRow[]> {
  if (names.length === 0) return [];
  return (await read(d, 'hosts', () => d.arrays(`SELECT ${HOST_COLUMNS} FROM hosts WHERE ${d.sql.inList('name')}`, [d.list(names)]))).map(hostRowOf);
}

/**
 * Every stored host (id and name), and a mark that changes whenever a host is added (hosts are
 * never renamed or deleted): the number of hosts and the newest id.
 */
export async function hostNames(d: Driver): Promise<[number, string][]> {
  return (await read(d, 'hosts', () => d.arrays('SELECT id, name FROM hosts'))).map((r) => [Number(r[0]), r[1] as string]);
}
export async function hostsMark(d: Driver): Promise<string> {
  const [r] = await read(d, 'hosts', () => d.arrays('SELECT COUNT(*), MAX(id) FROM hosts'));
  return `${String(r?.[0])}/${String(r?.[1])}`;
}

/** One host's row, by id. */
export async function hostRow(d: Driver, host: HostRef): Promise<HostRow | undefined> {
  const [r] = await read(d, 'hosts', () => d.arrays(`SELECT ${HOST_COLUMNS} FROM hosts WHERE id = ?`, [host.id]));
  return r ? hostRowOf(r) : undefined;
}

/**
 * The filter in code, not SQL: `hosts` also applies it to inventory hosts the database has never
 * seen, and one pass over even 10,000 rows costs well under a millisecond.
 */
export function filterHosts(rows: HostRow[], f: HostFilter): HostRow[] {
  // Timestamps are stored as ISO-8601 UTC with milliseconds, so text order is time order.
  const staleIso = f.staleBefore === undefined ? undefined : new Date(f.staleBefore).toISOString();
  // Sites match without regard to case, as the site collectors read them (`--site ams` is pop AMS).
  const sites = f.sites?.length ? new Set(f.sites.map((x) => x.toLowerCase())) : undefined;
  const srvtypes = f.srvtypes?.length ? new Set(f.srvtypes) : undefined;
  return rows.filter((r) =>
    (!f.failed || (r.lastOutcome !== null && r.lastOutcome !== 'ok' && r.lastOutcome !== 'partial'))
    && (staleIso === undefined || r.lastSuccessAt === null || r.lastSuccessAt < staleIso)
    && (!f.prod || r.isProd)
    && (!sites || (r.pop !== null && sites.has(r.pop.toLowerCase())))
    && (!srvtypes || (r.srvtype !== null && srvtypes.has(r.srvtype))));
}

/**
 * The inventory's hosts in inventory order, each with what the database knows of it (a host it
 * has never seen has no attempt yet); production and the inventory columns as the inventory says
 * now. Hosts the database holds but the inventory no longer lists are left out.
 */
export function inventoryHostRows(inventory: InventoryHost[], stored: HostRow[]): HostRow[] {
  const byName = new Map(stored.map((r) => [r.name, r]));
  return inventory.map((h) => {
    const r = byName.get(h.label);
    return {
      name: h.label, isProd: h.isProd, srvtype: h.srvtype, pop: h.pop, status: h.status,
      lastAttemptAt: r?.lastAttemptAt ?? null, lastSuccessAt: r?.lastSuccessAt ?? null,
      lastOutcome: r?.lastOutcome ?? null, lastCode: r?.lastCode ?? null, lastMessage: r?.lastMessage ?? null,
      sapiAt: r?.sapiAt ?? null,
    };
  });
}

export interface HostRef {
  id: number;
  /** as stored: the inventory's spelling */
  name: string;
}

/** The host named exactly so; else the one host equal to it without regard to case (`DB7.ams` finds `db7.ams`). */
export async function findHost(d: Driver, name: string): Promise<HostRef | undefined> {
  return read(d, 'hosts', async () => {
    const [exact] = await d.arrays('SELECT id, name FROM hosts WHERE name = ?', [name]);
    if (exact) return { id: Number(exact[0]), name: exact[1] as string };
    const folded = await d.arrays('SELECT id, name FROM hosts WHERE lower(name) = lower(?) LIMIT 2', [name]);
    return folded.length === 1 ? { id: Number(folded[0]![0]), name: folded[0]![1] as string } : undefined;
  });
}

/** Up to `limit` stored names containing `text` (any case): suggestions for a name not found. */
export async function similarHosts(d: Driver, text: string, limit = 5): Promise<string[]> {
  if (text.trim() === '') return [];
  return (await read(d, 'hosts', () => d.arrays(`SELECT name FROM hosts WHERE ${d.sql.containsFolded('name', '?')} ORDER BY name LIMIT ?`, [text, limit])))
    .map((r) => r[0] as string);
}

// ---- one host's facts ----

export interface FactsOptions {
  type?: string;
  /** every interval, closed ones too */
  history?: boolean;
  /** what was true at this instant (ISO-8601 UTC): the one interval of each subtype covering it */
  at?: string;
}

/**
 * "The interval covers the instant P" over `facts f`, in SQL both engines speak, with the
 * placeholder P repeated (`?` or `$n`): it opened at or before P, and it is still current or it
 * closed after P. `closed_at` is the first collection that no longer saw the value: between its
 * last sighting and that collection the value stood, as far as anyone can tell. A closed row
 * without closed_at (none is left after migration 8; kept for safety) falls back to its last
 * sighting. SQLite callers write `+` before it, so the planner picks no index for these columns.
 */
export function atSql(p: string): { sql: string; params: (at: string) => string[] } {
  return {
    sql: `(f.first_seen <= ${p} AND (f.is_current = 1 OR f.closed_at > ${p} OR (f.closed_at IS NULL AND f.last_seen >= ${p})))`,
    params: (at) => [at, at, at],
  };
}

export interface FactInterval {
  type: string;
  subtype: string;
  value: string;
  firstSeen: string;
  lastSeen: string;
  current: boolean;
}

/**
 * A host's current facts, or with `history` every interval (closed ones too), ordered by type,
 * subtype, then oldest first. No ORDER BY in the SQL: without statistics SQLite would walk
 * facts_audit (type, ...) to save a sort, reading the type's rows of every host (measured: 7.5 s
 * for one host's packages on 10,000 hosts, against under 2 ms through facts_host_type). A few
 * hundred rows sort in no time here.
 */
export function factsSql(w: SqlWords, host: HostRef, opts: FactsOptions): { sql: string; params: unknown[] } {
  const where = ['f.host_id = ?'];
  const params: unknown[] = [host.id];
  if (opts.type !== undefined) { where.push('f.type = ?'); params.push(opts.type); }
  if (opts.at !== undefined) {
    // The host's intervals, current and closed, found through facts_host_type; the instant is
    // compared on those rows only (SQLite: facts_opened over first_seen would walk every host's).
    const at = atSql('?');
    where.push(w.noIndex(at.sql));
    params.push(...at.params(opts.at));
  } else if (!opts.history) {
    // Without a type, SQLite must not pick an index for is_current, or facts_closed (is_current, ...)
    // wins and walks every current fact of every host.
    where.push(opts.type !== undefined ? 'f.is_current = 1' : w.noIndex('f.is_current = 1'));
  }
  return {
    sql: `SELECT f.id, f.type, f.subtype, f.value, f.first_seen, ${FACT_LAST_SEEN} AS last_seen, f.is_current
      FROM facts f ${JOIN_FACT_TYPES} WHERE ${where.join(' AND ')}`,
    params,
  };
}

export const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export async function hostFacts(d: Driver, host: HostRef, opts: FactsOptions = {}): Promise<FactInterval[]> {
  const { sql, params } = factsSql(d.sql, host, opts);
  return toFactIntervals(await read(d, `the facts of ${host.name}`, () => d.all(sql, params)));
}

/** Rows of id, type, subtype, value, first_seen, last_seen, is_current, sorted by type, subtype, then oldest first. */
export function toFactIntervals(rows: Record<string, unknown>[]): FactInterval[] {
  rows.sort((a, b) => byText(a.type as string, b.type as string) || byText(a.subtype as string, b.subtype as string)
    || byText(a.first_seen as string, b.first_seen as string) || Number(a.id) - Number(b.id));
  return rows.map((r) => ({
    type: r.type as string, subtype: r.subtype as string, value: r.value as string,
    firstSeen: r.first_seen as string, lastSeen: r.last_seen as string, current: Number(r.is_current) === 1,
  }));
}

// ---- the audit query ----

export interface AuditQuery {
  type: string;
  subtype?: string;
  /** exact value */
  value?: string;
  /** SQL LIKE pattern on the value (`\` escapes `%` and `_`) */
  like?: string;
  /** what was true at this instant (ISO-8601 UTC) instead of now: the intervals covering it */
  at?: string;
}

/** A fact the audit query found: what it is, before its times are read (AuditHit adds them). */
export interface AuditKey {
  /** the interval's row (factTimes reads its times) */
  id: number;
  /** the host's row (hostNames names it) */
  hostId: number;
  subtype: string;
  value: string;
}

export interface AuditHit {
  host: string;
  subtype: string;
  value: string;
  /** first_seen of the current interval (with `at`, of the interval covering it) */
  since: string;
  lastSeen: string;
}

export interface FactTimes { since: string; lastSeen: string }

/**
 * Built per call from fixed fragments (values stay parameters), so the planner sees plain
 * equalities on facts_audit (type, subtype, value). `+is_current` keeps that column out of index
 * choice: without statistics SQLite otherwise rates facts_closed (is_current, last_seen) as good
 * as facts_audit and walks every current fact of every type (measured: `--type rkernel` on
 * 10,000 hosts x 500 packages took ~400 ms that way, ~35 ms through facts_audit).
 * Without `times` it reads no time, no host name and sorts nothing: on SQLite, facts_audit holds
 * every column it reads (10,000 hosts: 5 ms, against 38 ms with names and the times of every
 * row); a page then reads the times of the rows it shows (factTimes). With `times`, rows come sorted by host, subtype, value
 * (code-unit order, which makes the caller's natural sort cheap).
 */
export function auditSql(w: SqlWords, q: AuditQuery, times = false): { sql: string; params: unknown[] } {
  const where = ['f.type = ?'];
  const params: unknown[] = [q.type];
  if (q.subtype !== undefined) bind(where, params, w.sameSubtype('f.subtype', '?'), q.subtype);
  if (q.value !== undefined) { where.push('f.value = ?'); params.push(q.value); }
  if (q.like !== undefined) { where.push(`f.value ${w.likeFolded} ? ESCAPE '\\'`); params.push(q.like); }
  if (q.at !== undefined) {
    // The same facts_audit seek, over closed intervals too; the instant is compared on the rows found.
    const at = atSql('?');
    where.push(w.noIndex(at.sql));
    params.push(...at.params(q.at));
  } else {
    where.push(w.noIndex('f.is_current = 1'));
  }
  const sql = times
    ? `SELECT f.id, h.name AS host, f.subtype, f.value, f.first_seen, ${FACT_LAST_SEEN} FROM facts f JOIN hosts h ON h.id = f.host_id ${JOIN_FACT_TYPES}
       WHERE ${where.join(' AND ')} ORDER BY h.name, f.subtype, f.value`
    : `SELECT f.id AS id, f.host_id AS host_id, f.subtype AS subtype, f.value AS value FROM facts f WHERE ${where.join(' AND ')}`;
  return { sql, params };
}

/** Which hosts have it now (or had it at `q.at`): the facts found, in no order. */
export async function auditKeys(d: Driver, q: AuditQuery): Promise<AuditKey[]> {
  const { sql, params } = auditSql(d.sql, q);
  // As columns: a query may match every host.
  const [ids, hosts, subtypes, values] = await read(d, 'facts', () => d.columns(sql, params, ['id', 'host_id', 'subtype', 'value'])) as [unknown[], unknown[], string[], string[]];
  return ids.map((id, i) => ({ id: Number(id), hostId: Number(hosts[i]), subtype: subtypes[i]!, value: values[i]! }));
}

/** Since when each of these intervals holds and when it was last seen, by row id. */
export async function factTimes(d: Driver, ids: readonly number[]): Promise<Map<number, FactTimes>> {
  const out = new Map<number, FactTimes>();
  if (ids.length === 0) return out;
  const rows = await read(d, 'facts', () => d.arrays(
    `SELECT f.id, f.first_seen, ${FACT_LAST_SEEN} FROM facts f ${JOIN_FACT_TYPES} WHERE ${d.sql.inList('f.id')}`, [d.list(ids)]));
  for (const r of rows) out.set(Number(r[0]), { since: r[1] as string, lastSeen: r[2] as string });
  return out;
}

/** Which hosts have it now, and since when: every fact found, with its times, by host, subtype and value (code-unit order). */
export async function auditQuery(d: Driver, q: AuditQuery): Promise<AuditHit[]> {
  // One statement (the times of every row are wanted): faster than factTimes over every id.
  const { sql, params } = auditSql(d.sql, q, true);
  return (await read(d, 'facts', () => d.arrays(sql, params))).map((r): AuditHit => ({
    host: r[1] as string, subtype: r[2] as string, value: r[3] as string, since: r[4] as string, lastSeen: r[5] as string,
  }));
}

/** A fact found, named, with its times (factTimes' answer; an interval pruned in between keeps empty times). */
export function withTimes(k: Pick<AuditKey, 'id' | 'subtype' | 'value'> & { host: string }, times: Map<number, FactTimes>): AuditHit {
  const t = times.get(k.id);
  return { host: k.host, subtype: k.subtype, value: k.value, since: t?.since ?? '', lastSeen: t?.lastSeen ?? '' };
}

/** Whether any fact (current or closed) of this type was ever stored: tells a typo from "nobody has it". */
export async function typeExists(d: Driver, type: string): Promise<boolean> {
  return (await read(d, 'facts', () => d.arrays('SELECT 1 FROM facts WHERE type = ? LIMIT 1', [type]))).length > 0;
}

/** Every stored fact type, by seeking facts_audit from one type to the next (not a scan of every fact). */
export async function factTypes(d: Driver): Promise<string[]> {
  return (await read(d, 'fact types', () => d.arrays(
    `WITH RECURSIVE t(type) AS (
       SELECT MIN(type) FROM facts
       UNION ALL SELECT (SELECT MIN(type) FROM facts WHERE type > t.type) FROM t WHERE t.type IS NOT NULL)
     SELECT type FROM t WHERE type IS NOT NULL`,
  ))).map((r) => r[0] as string);
}

// ---- runs ----

export const RUN_MODES = ['run', 'gap-fix', 'ingest'] as const;

export interface RunRecord {
  id: number;
  mode: string;
  startedAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  pid: number | null;
  hostname: string | null;
  scope: string | null;
  /** the stored final JSON, parsed (null when absent or unreadable) */
  summary: Record<string, unknown> | null;
}

export function toRun(r: Record<string, unknown>): RunRecord {
  let summary: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = typeof r.summary === 'string' ? JSON.parse(r.summary) : null;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) summary = parsed as Record<string, unknown>;
  } catch { summary = null; }
  return {
    id: r.id as number, mode: r.mode as string, startedAt: r.started_at as string, finishedAt: r.finished_at as string | null,
    exitCode: r.exit_code as number | null, pid: r.pid as number | null, hostname: r.hostname as string | null,
    scope: (r.scope as string | null | undefined) ?? null, summary,
  };
}

export interface ModeRuns {
  mode: string;
  /** the part of the inventory these runs covered (sites, shard); null = the whole inventory */
  scope: string | null;
  /** the newest finished run of this mode and scope */
  lastFinished: RunRecord | undefined;
  /** unfinished runs newer than that, newest first (running now, or killed): at most 5 */
  unfinished: RunRecord[];
}

export const RUN_COLUMNS = 'id, mode, started_at, finished_at, exit_code, pid, hostname, summary, scope';

/**
 * Per mode (run, gap-fix, ingest) and scope (each site collector's part of the inventory), the
 * newest finished run and the unfinished ones after it. A few small queries that walk runs
 * backwards from the newest row, rather than one GROUP BY over the whole table (every ingest adds
 * a row, so it grows; ingests have no scope).
 */
/** Rows of one parameterised statement (`?` placeholders), from either backend. */
export type AllRows = (sql: string, params: unknown[]) => Record<string, unknown>[] | Promise<Record<string, unknown>[]>;

/** The runs questions of `status`, in SQL both backends speak (`IS NOT DISTINCT FROM`: SQLite 3.39+). */
export async function lastRunsOf(all: AllRows): Promise<ModeRuns[]> {
  const out: ModeRuns[] = [];
  for (const mode of RUN_MODES) {
    const scopes = mode === 'ingest' ? [null]
      : (await all('SELECT DISTINCT scope FROM runs WHERE mode = ? ORDER BY scope', [mode])).map((r) => r.scope as string | null);
    for (const scope of scopes.length ? scopes : [null]) {
      const [done] = await all(`SELECT ${RUN_COLUMNS} FROM runs WHERE mode = ? AND scope IS NOT DISTINCT FROM ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1`, [mode, scope]);
      const open = await all(`SELECT ${RUN_COLUMNS} FROM runs WHERE mode = ? AND scope IS NOT DISTINCT FROM ? AND finished_at IS NULL AND id > ? ORDER BY id DESC LIMIT 5`,
        [mode, scope, (done?.id as number | undefined) ?? 0]);
      out.push({ mode, scope, lastFinished: done ? toRun(done) : undefined, unfinished: open.map(toRun) });
    }
  }
  return out;
}

export function lastRuns(d: Driver): Promise<ModeRuns[]> {
  return lastRunsOf((sql, params) => read(d, 'runs', () => d.all(sql, params)));
}
