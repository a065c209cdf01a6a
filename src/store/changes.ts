// The fleet's change feed (SPEC §9): the fact intervals that opened or closed in a window, paired
// per key (host, type, subtype) into added / removed / changed, and the hosts whose first
// collection falls in the window. One SQL text for both engines over the indexes of migration 8:
// facts_opened and facts_closed_at find the window; a closing and an opening of the same key at
// the same collection are paired here into a change.
import type { AllRows } from './queries.js';

export interface ChangeQuery {
  /** window start, inclusive (ISO-8601 UTC, as stored) */
  since: string;
  /** window end, exclusive */
  until: string;
  type?: string;
  subtype?: string;
  /** exact stored host name */
  host?: string;
  /** sites (the inventory's pop), any case */
  sites?: string[];
  srvtypes?: string[];
  prod?: boolean;
}

export type ChangeKind = 'added' | 'removed' | 'changed' | 'new_host';

/** A type, not an interface: a row is also a plain record for the csv and ndjson formats. */
export type ChangeRow = {
  at: string;
  host: string;
  type: string | null;
  subtype: string | null;
  change: ChangeKind;
  old: string | null;
  new: string | null;
};

export interface ChangeRows {
  /** every added, removed or changed interval, unordered */
  events: ChangeRow[];
  /** host name -> its first collection (in the window) */
  newHosts: Map<string, string>;
}

/**
 * Equality of two subtypes: PostgreSQL's facts_audit index holds a 200-character prefix (a B-tree entry is
 * bounded), so the prefix is compared first for the planner and the whole text after.
 */
function sameSubtype(dialect: 'sqlite' | 'postgresql', a: string, b: string): string {
  return dialect === 'postgresql' ? `left(${a}, 200) = left(${b}, 200) AND ${a} = ${b}` : `${a} = ${b}`;
}

/** The hosts the filters keep: id -> name (one read of the hosts table, a few thousand rows). */
async function selectedHosts(select: AllRows, q: ChangeQuery): Promise<Map<number, string>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.host !== undefined) { where.push('name = ?'); params.push(q.host); }
  if (q.sites?.length) { where.push(`lower(pop) IN (${q.sites.map(() => '?').join(', ')})`); params.push(...q.sites.map((s) => s.toLowerCase())); }
  if (q.srvtypes?.length) { where.push(`srvtype IN (${q.srvtypes.map(() => '?').join(', ')})`); params.push(...q.srvtypes); }
  if (q.prod) where.push('is_prod = 1');
  const rows = await select(`SELECT id, name FROM hosts${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`, params);
  return new Map(rows.map((r) => [Number(r.id), String(r.name)]));
}

/** The fact filters over the alias `f`: type, subtype, and the one host of --host. */
function factWhere(q: ChangeQuery, f: string, dialect: 'sqlite' | 'postgresql', hostId: number | undefined): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (hostId !== undefined) { where.push(`${f}.host_id = ?`); params.push(hostId); }
  // Without a subtype the window's own index is the narrow one (a type holds most facts): in
  // SQLite, which has no statistics unless analysed, `+` keeps type out of the index choice.
  // With a subtype, (type, subtype) finds the few rows of one package on every host.
  if (q.type !== undefined) { where.push(`${dialect === 'sqlite' && q.subtype === undefined ? '+' : ''}${f}.type = ?`); params.push(q.type); }
  if (q.subtype !== undefined) {
    const sql = sameSubtype(dialect, `${f}.subtype`, '?');
    where.push(sql);
    params.push(...sql.split('?').slice(1).map(() => q.subtype));
  }
  return { sql: where.map((w) => ` AND ${w}`).join(''), params };
}

export async function changeRows(select: AllRows, dialect: 'sqlite' | 'postgresql', q: ChangeQuery): Promise<ChangeRows> {
  const hosts = await selectedHosts(select, q);
  const events: ChangeRow[] = [];
  const newHosts = new Map<string, string>();
  if (hosts.size === 0) return { events, newHosts };
  const oneHost = q.host !== undefined ? [...hosts.keys()][0] : undefined;
  const opened = factWhere(q, 'f', dialect, oneHost);
  // Two range scans over the window's indexes; the pairing is done here, by key and instant: a
  // value closed by the collection that opened another for the same key is a change. (A join per
  // row costs an index probe each: measured about twice the time on a month of 10,000 hosts.)
  const closedRows = await select(
    `SELECT f.host_id, f.type, f.subtype, f.value, f.closed_at AS at FROM facts f
      WHERE f.is_current = 0 AND f.closed_at >= ? AND f.closed_at < ?${opened.sql}`,
    [q.since, q.until, ...opened.params],
  );
  const key = (r: Record<string, unknown>) => `${String(r.host_id)}\u0000${String(r.at)}\u0000${String(r.type)}\u0000${String(r.subtype)}`;
  const closedAt = new Map<string, Record<string, unknown>>();
  for (const r of closedRows) if (hosts.has(Number(r.host_id))) closedAt.set(key(r), r);
  const openRows = await select(
    `SELECT f.host_id, f.type, f.subtype, f.value, f.first_seen AS at FROM facts f
      WHERE f.first_seen >= ? AND f.first_seen < ?${opened.sql}`,
    [q.since, q.until, ...opened.params],
  );
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const windowHosts = new Set<number>();
  for (const r of openRows) {
    const name = hosts.get(Number(r.host_id));
    if (name === undefined) continue;
    windowHosts.add(Number(r.host_id));
    const k = key(r);
    const before = closedAt.get(k);
    if (before) closedAt.delete(k);
    events.push({ at: String(r.at), host: name, type: String(r.type), subtype: String(r.subtype), change: before ? 'changed' : 'added', old: before ? text(before.value) : null, new: text(r.value) });
  }
  for (const r of closedAt.values()) {
    events.push({ at: String(r.at), host: hosts.get(Number(r.host_id))!, type: String(r.type), subtype: String(r.subtype), change: 'removed', old: text(r.value), new: null });
  }
  // Hosts first collected in the window: nothing (kept or archived) opened before it. A host
  // seen before answers on the first index entry it finds, so this is one seek per host.
  const candidates = q.type === undefined && q.subtype === undefined ? [...windowHosts]
    : (await select(`SELECT DISTINCT f.host_id FROM facts f WHERE f.first_seen >= ? AND f.first_seen < ?${oneHost !== undefined ? ' AND f.host_id = ?' : ''}`,
      [q.since, q.until, ...(oneHost !== undefined ? [oneHost] : [])])).map((r) => Number(r.host_id)).filter((id) => hosts.has(id));
  for (let i = 0; i < candidates.length; i += 500) {
    const ids = candidates.slice(i, i + 500);
    const rows = await select(
      `SELECT h.id, (SELECT MIN(f.first_seen) FROM facts f WHERE f.host_id = h.id) AS first
         FROM hosts h
        WHERE h.id IN (${ids.map(() => '?').join(', ')})
          AND NOT EXISTS (SELECT 1 FROM facts b WHERE b.host_id = h.id AND b.first_seen < ?)
          AND NOT EXISTS (SELECT 1 FROM facts_archive a WHERE a.host_id = h.id AND a.first_seen < ?)`,
      [...ids, q.since, q.since],
    );
    for (const r of rows) newHosts.set(hosts.get(Number(r.id))!, String(r.first));
  }
  return { events, newHosts };
}
