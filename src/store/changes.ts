// The fleet's change feed (SPEC §9): the additions, removals and changes the store appended to
// fact_changes as it wrote them (migration 12), in a window, and the hosts whose first collection
// falls in it (hosts.first_facts_at). One SQL text for both engines.
import type { SqlWords } from './driver.js';
import { bind, type AllRows } from './queries.js';

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

/**
 * A type, not an interface: a row is also a plain record for the csv and ndjson formats. Every
 * row is made with its keys in this (sorted) order, so the JSON forms print it as it is.
 */
export type ChangeRow = {
  at: string;
  host: string;
  type: string | null;
  subtype: string | null;
  change: ChangeKind;
  old: string | null;
  new: string | null;
};

/**
 * A piece of the feed, oldest first: `rows`, and `complete`, the instant before which every row of
 * the window has been handed on (the rows of a later piece are at or after it; rows at it may
 * continue there). The last piece's `complete` is the window's end.
 */
export interface ChangeSlice { complete: string; rows: ChangeRow[] }

export interface ChangeRows {
  /** the names of the hosts the filters keep (whose rows these can be) */
  hosts: string[];
  /** every addition, removal and change after a host's first collection, oldest first, a stretch at a time */
  slices: AsyncIterable<ChangeSlice>;
  /** host name -> its first collection (in the window) */
  newHosts: Map<string, string>;
  /** with `newHostFacts`: the new hosts' first facts as added rows (in no order) */
  newHostFacts?: ChangeRow[];
}

/** The host filters over the alias `h` (the hosts table), as ` AND ...` terms and their parameters. */
function hostWhere(q: ChangeQuery, h: string): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.host !== undefined) { where.push(`${h}.name = ?`); params.push(q.host); }
  if (q.sites?.length) { where.push(`lower(${h}.pop) IN (${q.sites.map(() => '?').join(', ')})`); params.push(...q.sites.map((s) => s.toLowerCase())); }
  if (q.srvtypes?.length) { where.push(`${h}.srvtype IN (${q.srvtypes.map(() => '?').join(', ')})`); params.push(...q.srvtypes); }
  if (q.prod) where.push(`${h}.is_prod = 1`);
  return { sql: where.map((w) => ` AND ${w}`).join(''), params };
}

/** The hosts the filters keep: id -> name (one read of the hosts table, a few thousand rows). */
async function selectedHosts(select: AllRows, q: ChangeQuery): Promise<Map<number, string>> {
  const where = hostWhere(q, 'h');
  const rows = await select(`SELECT h.id, h.name FROM hosts h WHERE 1 = 1${where.sql}`, where.params);
  return new Map(rows.map((r) => [Number(r.id), String(r.name)]));
}

/** The fact filters over the alias `f`: type, subtype, and the one host of --host. */
function factWhere(q: ChangeQuery, f: string, w: SqlWords, hostId: number | undefined): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (hostId !== undefined) bind(where, params, `${f}.host_id = ?`, hostId);
  // Without a subtype the window's own index is the narrow one (a type holds most facts): in
  // SQLite, which has no statistics unless analysed, `+` keeps type out of the index choice.
  // With a subtype, (type, subtype) finds the few rows of one package on every host.
  if (q.type !== undefined) bind(where, params, q.subtype === undefined ? w.noIndex(`${f}.type = ?`) : `${f}.type = ?`, q.type);
  if (q.subtype !== undefined) bind(where, params, w.sameSubtype(`${f}.subtype`, '?'), q.subtype);
  return { sql: where.map((x) => ` AND ${x}`).join(''), params };
}

/** Rows one statement reads (see changeRows): a piece small enough to be let go young. */
const PIECE_ROWS = 4096;

export async function changeRows(select: AllRows, raw: RawRows, w: SqlWords, q: ChangeQuery): Promise<ChangeRows> {
  const hosts = await selectedHosts(select, q);
  const newHosts = new Map<string, string>();
  if (hosts.size === 0) return { hosts: [], slices: (async function* () { /* nothing */ })(), newHosts };
  const oneHost = q.host !== undefined ? [...hosts.keys()][0] : undefined;
  const where = factWhere(q, 'c', w, oneHost);
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  // The store appends each change as it writes it (migration 12): the window is one range scan
  // of fact_changes in time order (then id: the order they were written), read a few thousand
  // rows at a time from where the last piece ended and handed on, so a month of millions of rows
  // is never held and each piece dies young (PostgreSQL's client holds a whole answer). The rows
  // come as the objects printed, keys in sorted order (the host filters are the join's).
  // --host is the feed's own filter (c.host_id, its index); the join filters the rest.
  const onHosts = hostWhere({ ...q, host: undefined }, 'h');
  async function* slices(): AsyncGenerator<ChangeSlice> {
    /** the instant the last piece ended at, and how many rows of that instant it held */
    let at = q.since;
    let skip = 0;
    for (;;) {
      const rows = await select(
        `SELECT c.at, c.change, h.name AS host, c.new_value AS "new", c.old_value AS "old", c.subtype, c.type
           FROM fact_changes c JOIN hosts h ON h.id = c.host_id
          WHERE c.at >= ? AND c.at < ?${where.sql}${onHosts.sql}
          ORDER BY c.at, c.id LIMIT ${PIECE_ROWS} OFFSET ${skip}`,
        [at, q.until, ...where.params, ...onHosts.params],
      ) as ChangeRow[];
      const last = rows[rows.length - 1];
      if (rows.length < PIECE_ROWS || !last) {
        yield { complete: q.until, rows };
        return;
      }
      let same = 0;
      for (let i = rows.length - 1; i >= 0 && rows[i]!.at === last.at; i--) same++;
      skip = last.at === at ? skip + same : same;
      at = last.at;
      yield { complete: at, rows };
    }
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
    const facts = factWhere({ ...q, host: undefined }, 'f', w, undefined);
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
  return { hosts: [...hosts.values()], slices: slices(), newHosts, ...(added.length ? { newHostFacts: added } : {}) };
}
