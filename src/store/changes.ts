// The fleet's change feed (SPEC §9): the fact intervals that opened or closed in a window, paired
// per key (host, type, subtype) into added / removed / changed, and the hosts whose first
// collection falls in the window. One SQL text for both engines over the indexes of migration 8:
// facts_opened and facts_closed_at find the window, facts_key pairs a closing with the opening of
// the same key at the same collection.
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

export interface ChangeRow {
  at: string;
  host: string;
  type: string | null;
  subtype: string | null;
  change: ChangeKind;
  old: string | null;
  new: string | null;
}


export interface ChangeRows {
  /** every added, removed or changed interval, unordered */
  events: ChangeRow[];
  /** host name -> its first collection (in the window) */
  newHosts: Map<string, string>;
}

/**
 * Equality of two subtypes: PostgreSQL's key index holds a 200-character prefix (a B-tree entry is
 * bounded), so the prefix is compared first for the planner and the whole text after.
 */
function sameSubtype(dialect: 'sqlite' | 'postgresql', a: string, b: string): string {
  return dialect === 'postgresql' ? `left(${a}, 200) = left(${b}, 200) AND ${a} = ${b}` : `${a} = ${b}`;
}

/** The host filters as SQL over `hosts h`, with their parameters. */
function hostWhere(q: ChangeQuery): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.host !== undefined) { where.push('h.name = ?'); params.push(q.host); }
  if (q.sites?.length) { where.push(`lower(h.pop) IN (${q.sites.map(() => '?').join(', ')})`); params.push(...q.sites.map((s) => s.toLowerCase())); }
  if (q.srvtypes?.length) { where.push(`h.srvtype IN (${q.srvtypes.map(() => '?').join(', ')})`); params.push(...q.srvtypes); }
  if (q.prod) where.push('h.is_prod = 1');
  return { sql: where.map((w) => ` AND ${w}`).join(''), params };
}

/** The fact filters over the alias `f`. */
function factWhere(q: ChangeQuery, f: string, dialect: 'sqlite' | 'postgresql'): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
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
  const hosts = hostWhere(q);
  const opened = factWhere(q, 'o', dialect);
  const closed = factWhere(q, 'c', dialect);
  // Intervals that opened in the window, with the value their key had until then when a closing
  // at the same collection precedes them (a change), else none (an addition).
  const openRows = await select(
    `SELECT h.name AS host, o.type, o.subtype, o.value AS new_value, o.first_seen AS at, p.value AS old_value
       FROM facts o JOIN hosts h ON h.id = o.host_id
       LEFT JOIN facts p ON p.host_id = o.host_id AND p.type = o.type AND ${sameSubtype(dialect, 'p.subtype', 'o.subtype')}
                        AND p.is_current = 0 AND p.closed_at = o.first_seen
      WHERE o.first_seen >= ? AND o.first_seen < ?${opened.sql}${hosts.sql}`,
    [q.since, q.until, ...opened.params, ...hosts.params],
  );
  // Intervals closed in the window with nothing opened for their key at that collection.
  const closeRows = await select(
    `SELECT h.name AS host, c.type, c.subtype, c.value AS old_value, c.closed_at AS at
       FROM facts c JOIN hosts h ON h.id = c.host_id
      WHERE c.is_current = 0 AND c.closed_at >= ? AND c.closed_at < ?${closed.sql}${hosts.sql}
        AND NOT EXISTS (SELECT 1 FROM facts n WHERE n.host_id = c.host_id AND n.type = c.type
                          AND ${sameSubtype(dialect, 'n.subtype', 'c.subtype')} AND n.first_seen = c.closed_at)`,
    [q.since, q.until, ...closed.params, ...hosts.params],
  );
  // Hosts first collected in the window: something opened in it and nothing (kept or archived)
  // opened before it. An old host's first key already answers the NOT EXISTS, so this stays cheap.
  const newRows = await select(
    `SELECT h.name AS host, MIN(o.first_seen) AS at
       FROM facts o JOIN hosts h ON h.id = o.host_id
      WHERE o.first_seen >= ? AND o.first_seen < ?${hosts.sql}
        AND NOT EXISTS (SELECT 1 FROM facts b WHERE b.host_id = o.host_id AND b.first_seen < ?)
        AND NOT EXISTS (SELECT 1 FROM facts_archive a WHERE a.host_id = o.host_id AND a.first_seen < ?)
      GROUP BY h.name`,
    [q.since, q.until, ...hosts.params, q.since, q.since],
  );
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const events: ChangeRow[] = [];
  for (const r of openRows) {
    const old = text(r.old_value);
    events.push({ at: String(r.at), host: String(r.host), type: String(r.type), subtype: String(r.subtype), change: old === null ? 'added' : 'changed', old, new: text(r.new_value) });
  }
  for (const r of closeRows) {
    events.push({ at: String(r.at), host: String(r.host), type: String(r.type), subtype: String(r.subtype), change: 'removed', old: text(r.old_value), new: null });
  }
  return { events, newHosts: new Map(newRows.map((r) => [String(r.host), String(r.at)])) };
}
