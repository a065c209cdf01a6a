// Read-only questions the operator asks of the database (hosts, facts, the audit query, the last
// run). Parameterised SQL over the SQLite handle; the plan of the audit query uses facts_audit.
import type Database from 'better-sqlite3';

export interface HostRow {
  name: string;
  isProd: boolean;
  status: string | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastOutcome: string | null;
  lastCode: string | null;
  lastMessage: string | null;
  sapiAt: string | null;
}

export interface HostFilter {
  failed?: boolean;
  /** no success at or after this instant (epoch ms) */
  staleBefore?: number;
  prod?: boolean;
}

export function listHosts(db: Database.Database, f: HostFilter = {}): HostRow[] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.failed) where.push("last_outcome IS NOT NULL AND last_outcome NOT IN ('ok', 'partial')");
  if (f.staleBefore !== undefined) { where.push('(last_success_at IS NULL OR last_success_at < ?)'); params.push(new Date(f.staleBefore).toISOString()); }
  if (f.prod) where.push('is_prod = 1');
  const sql = `SELECT name, is_prod, status, last_attempt_at, last_success_at, last_outcome, last_code, last_message, sapi_at
    FROM hosts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name`;
  return (db.prepare(sql).all(...params) as Record<string, unknown>[]).map((r) => ({
    name: r.name as string,
    isProd: r.is_prod === 1,
    status: r.status as string | null,
    lastAttemptAt: r.last_attempt_at as string | null,
    lastSuccessAt: r.last_success_at as string | null,
    lastOutcome: r.last_outcome as string | null,
    lastCode: r.last_code as string | null,
    lastMessage: r.last_message as string | null,
    sapiAt: r.sapi_at as string | null,
  }));
}

export function hostExists(db: Database.Database, name: string): boolean {
  return db.prepare('SELECT 1 FROM hosts WHERE name = ?').get(name) !== undefined;
}

export interface FactInterval {
  type: string;
  subtype: string;
  value: string;
  firstSeen: string;
  lastSeen: string;
  current: boolean;
}

/** A host's current facts, or with `history` every interval, oldest first within a subtype. */
export function hostFacts(db: Database.Database, host: string, opts: { type?: string; history?: boolean } = {}): FactInterval[] {
  const rows = db.prepare(
    `SELECT f.type, f.subtype, f.value, f.first_seen, f.last_seen, f.is_current FROM facts f JOIN hosts h ON h.id = f.host_id
      WHERE h.name = ? AND (? IS NULL OR f.type = ?) AND (? = 1 OR f.is_current = 1)
      ORDER BY f.type, f.subtype, f.first_seen`,
  ).all(host, opts.type ?? null, opts.type ?? null, opts.history ? 1 : 0) as Record<string, unknown>[];
  return rows.map((r) => ({
    type: r.type as string, subtype: r.subtype as string, value: r.value as string,
    firstSeen: r.first_seen as string, lastSeen: r.last_seen as string, current: r.is_current === 1,
  }));
}

export interface AuditQuery {
  type: string;
  subtype?: string;
  value?: string;
  like?: string;
}

export interface AuditHit {
  host: string;
  subtype: string;
  value: string;
  since: string;
  lastSeen: string;
}

/**
 * Built per call from fixed fragments (values stay parameters), so the planner sees plain
 * equalities and walks facts_audit (type, subtype, value) instead of every fact of the type.
 */
function auditSql(q: AuditQuery): { sql: string; params: unknown[] } {
  const where = ['f.type = ?', 'f.is_current = 1'];
  const params: unknown[] = [q.type];
  if (q.subtype !== undefined) { where.push('f.subtype = ?'); params.push(q.subtype); }
  if (q.value !== undefined) { where.push('f.value = ?'); params.push(q.value); }
  if (q.like !== undefined) { where.push("f.value LIKE ? ESCAPE '\\'"); params.push(q.like); }
  const sql = `SELECT h.name AS host, f.subtype, f.value, f.first_seen, f.last_seen
    FROM facts f JOIN hosts h ON h.id = f.host_id WHERE ${where.join(' AND ')} ORDER BY h.name, f.subtype`;
  return { sql, params };
}

/** Which hosts have it now, and since when: "who runs openssl 1.1?" */
export function auditQuery(db: Database.Database, q: AuditQuery): AuditHit[] {
  const { sql, params } = auditSql(q);
  return (db.prepare(sql).all(...params) as Record<string, string>[]).map((r) => ({
    host: r.host as string, subtype: r.subtype as string, value: r.value as string, since: r.first_seen as string, lastSeen: r.last_seen as string,
  }));
}

export function auditPlan(db: Database.Database, q: AuditQuery): string[] {
  const { sql, params } = auditSql(q);
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
}

export interface LastRun {
  id: number;
  mode: string;
  startedAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  summary: Record<string, unknown> | null;
}

export function lastRuns(db: Database.Database): LastRun[] {
  const rows = db.prepare(
    `SELECT r.id, r.mode, r.started_at, r.finished_at, r.exit_code, r.summary FROM runs r
      WHERE r.id IN (SELECT MAX(id) FROM runs GROUP BY mode) ORDER BY r.mode`,
  ).all() as Record<string, unknown>[];
  return rows.map((r) => {
    let summary: Record<string, unknown> | null = null;
    try { summary = r.summary ? JSON.parse(r.summary as string) : null; } catch { summary = null; }
    return { id: r.id as number, mode: r.mode as string, startedAt: r.started_at as string, finishedAt: r.finished_at as string | null, exitCode: r.exit_code as number | null, summary };
  });
}
