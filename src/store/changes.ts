// The fleet's change feed (SPEC §9): the additions, removals and changes the store appended to
// fact_changes as it wrote them (migration 12), in a window, and the hosts whose first collection
// falls in it (hosts.first_facts_at). One SQL text for both engines.
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
  /** also each new host's first facts, as `added` rows (`--include-new-hosts`) */
  newHostFacts?: boolean;
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
  /** every addition, removal and change after a host's first collection, oldest first */
  events: ChangeRow[];
  /** host name -> its first collection (in the window) */
  newHosts: Map<string, string>;
  /** with `newHostFacts`: the new hosts' first facts as added rows (in no order) */
  newHostFacts?: ChangeRow[];
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

/** How much of the window one scan reads (see changeRows). */
const SLICE_MS = 86_400_000;

export async function changeRows(select: AllRows, raw: RawRows, dialect: 'sqlite' | 'postgresql', q: ChangeQuery): Promise<ChangeRows> {
  const hosts = await selectedHosts(select, q);
  const events: ChangeRow[] = [];
  const newHosts = new Map<string, string>();
  if (hosts.size === 0) return { events, newHosts };
  const oneHost = q.host !== undefined ? [...hosts.keys()][0] : undefined;
  const where = factWhere(q, 'c', dialect, oneHost);
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  // The store appends each change as it writes it (migration 12): the window is one range scan
  // of fact_changes in time order, read a day at a time so a month is never one answer in memory
  // (PostgreSQL's client holds a whole result). Rows come as arrays: a month is millions of them.
  const start = Date.parse(q.since);
  const end = Date.parse(q.until);
  for (let from = q.since, t = start; from < q.until; t += SLICE_MS) {
    const to = t + SLICE_MS >= end || !Number.isFinite(start + end) ? q.until : new Date(t + SLICE_MS).toISOString();
    const rows = await raw(
      `SELECT c.at, c.host_id, c.type, c.subtype, c.change, c.old_value, c.new_value FROM fact_changes c
        WHERE c.at >= ? AND c.at < ?${where.sql} ORDER BY c.at`,
      [from, to, ...where.params],
    );
    for (const r of rows) {
      const name = hosts.get(Number(r[1]));
      if (name === undefined) continue;
      // Each row's keys in sorted order, as the JSON forms print them (nothing to reorder per row).
      events.push({ at: String(r[0]), change: r[4] as ChangeKind, host: name, new: text(r[6]), old: text(r[5]), subtype: String(r[3]), type: String(r[2]) });
    }
    from = to;
  }

  // Hosts first collected in the window (hosts.first_facts_at; their first facts are not in the feed).
  const firsts = await select('SELECT id, first_facts_at FROM hosts WHERE first_facts_at >= ? AND first_facts_at < ?', [q.since, q.until]);
  const fresh: number[] = [];
  for (const r of firsts) {
    const name = hosts.get(Number(r.id));
    if (name === undefined) continue;
    newHosts.set(name, String(r.first_facts_at));
    fresh.push(Number(r.id));
  }
  // Asked for: a new host's first facts, as the additions they were.
  const added: ChangeRow[] = [];
  if (q.newHostFacts) {
    const facts = factWhere({ ...q, host: undefined }, 'f', dialect, undefined);
    for (let i = 0; i < fresh.length; i += 500) {
      const ids = fresh.slice(i, i + 500);
      const rows = await raw(
        `SELECT f.host_id, f.type, f.subtype, f.value, h.first_facts_at FROM facts f JOIN hosts h ON h.id = f.host_id
          WHERE f.host_id IN (${ids.map(() => '?').join(', ')}) AND f.first_seen = h.first_facts_at${facts.sql}`,
        [...ids, ...facts.params],
      );
      for (const r of rows) added.push({ at: String(r[4]), change: 'added', host: hosts.get(Number(r[0]))!, new: text(r[3]), old: null, subtype: String(r[2]), type: String(r[1]) });
    }
  }
  return { events, newHosts, ...(added.length ? { newHostFacts: added } : {}) };
}
