// The fleet's change feed (SPEC §9): the fact intervals that opened or closed in a window, paired
// per key (host, type, subtype) into added / removed / changed, and the hosts whose first
// collection falls in the window. One SQL text for both engines over the indexes of migration 8:
// facts_opened and facts_closed_at find the window; a closing and an opening of the same key at
// the same collection are paired here into a change.
import type { AllRows } from './queries.js';

/** Rows of one parameterised statement as arrays, columns in the statement's order (no object per row). */
export type RawRows = (sql: string, params: unknown[]) => unknown[][] | Promise<unknown[][]>;

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
  /** every added, removed or changed interval, oldest first */
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

/** How much of the window one pair of scans reads (see changeRows). */
const SLICE_MS = 86_400_000;

export async function changeRows(select: AllRows, raw: RawRows, dialect: 'sqlite' | 'postgresql', q: ChangeQuery): Promise<ChangeRows> {
  const hosts = await selectedHosts(select, q);
  const events: ChangeRow[] = [];
  const newHosts = new Map<string, string>();
  if (hosts.size === 0) return { events, newHosts };
  const oneHost = q.host !== undefined ? [...hosts.keys()][0] : undefined;
  const opened = factWhere(q, 'f', dialect, oneHost);
  // The window is read a day at a time: an instant falls in one slice, and a slice's rows are
  // let go before the next is read, so a month never holds millions of raw rows at once.
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const key = (r: unknown[]) => `${String(r[0])}\u0000${String(r[1])}\u0000${String(r[2])}`;
  const windowHosts = new Set<number>();
  const closedNow = new Map<string, unknown[]>();
  const start = Date.parse(q.since);
  const end = Date.parse(q.until);
  for (let from = q.since, t = start; from < q.until; t += SLICE_MS) {
    const to = t + SLICE_MS >= end || !Number.isFinite(start + end) ? q.until : new Date(t + SLICE_MS).toISOString();
    await pairSlice(from, to);
    from = to;
  }

  // Two range scans over the slice, each in the order of its index (the instant), and a merge of
  // the two by instant: a value closed by the collection that opened another for the same key is
  // a change. Only the rows of one instant (one collection's changes) are held in a map at a
  // time. (A join per row costs an index probe each: about twice the time on a month of 10,000
  // hosts; one map of every closed row, about as much again in memory and hashing.)
  // Rows come as arrays [host_id, type, subtype, value, at]: a month is millions of them.
  async function pairSlice(from: string, to: string): Promise<void> {
    const closedRows = await raw(
      `SELECT f.host_id, f.type, f.subtype, f.value, f.closed_at FROM facts f
        WHERE f.is_current = 0 AND f.closed_at >= ? AND f.closed_at < ?${opened.sql}
        ORDER BY f.closed_at`,
      [from, to, ...opened.params],
    );
    const openRows = await raw(
      `SELECT f.host_id, f.type, f.subtype, f.value, f.first_seen FROM facts f
        WHERE f.first_seen >= ? AND f.first_seen < ?${opened.sql}
        ORDER BY f.first_seen`,
      [from, to, ...opened.params],
    );
    let i = 0;
    let j = 0;
    while (i < closedRows.length || j < openRows.length) {
      const at = String(j >= openRows.length || (i < closedRows.length && String(closedRows[i]![4]) < String(openRows[j]![4])) ? closedRows[i]![4] : openRows[j]![4]);
      for (; i < closedRows.length && String(closedRows[i]![4]) === at; i++) {
        const r = closedRows[i]!;
        if (hosts.has(Number(r[0]))) closedNow.set(key(r), r);
      }
      // Each row's keys in sorted order, as the JSON forms print them (nothing to reorder per row).
      for (; j < openRows.length && String(openRows[j]![4]) === at; j++) {
        const r = openRows[j]!;
        const id = Number(r[0]);
        const name = hosts.get(id);
        if (name === undefined) continue;
        windowHosts.add(id);
        const k = key(r);
        const before = closedNow.get(k);
        if (before) closedNow.delete(k);
        events.push({ at, change: before ? 'changed' : 'added', host: name, new: text(r[3]), old: before ? text(before[3]) : null, subtype: String(r[2]), type: String(r[1]) });
      }
      for (const r of closedNow.values()) {
        events.push({ at, change: 'removed', host: hosts.get(Number(r[0]))!, new: null, old: text(r[3]), subtype: String(r[2]), type: String(r[1]) });
      }
      closedNow.clear();
    }
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
