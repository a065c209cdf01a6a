// The audit tables of migration 9, shared by both engines: the shapes analyze reads and writes,
// and the read questions (`jellyfish audits`, `facts HOST --audits`) in SQL both engines speak
// (`?` placeholders; the PostgreSQL store numbers them). The bulk writes live in each store.
import type { AllRows } from './queries.js';
import type { Dialect, SqlWords } from './driver.js';

/** An audit as stored: what the files said of it. */
export interface AuditMeta {
  name: string;
  vulnName: string;
  file: string;
  line: number;
  priority: number;
  shortDescription: string;
  longDescription: string;
  primaryLink: string;
  links: Record<string, string>;
}

/** A host as analyze sees it. */
export interface AnalysisHost {
  id: number;
  name: string;
  pop: string | null;
  srvtype: string | null;
  isProd: boolean;
  lastSuccessAt: string | null;
  auditedAt: string | null;
}

/** The current fact rows analyze needs: these subtypes of these types, and some types whole. */
export interface FactWant {
  pairs: ReadonlyMap<string, ReadonlySet<string>>;
  wholeTypes: ReadonlySet<string>;
}

export type FactSink = (hostId: number, type: string, subtype: string, value: string) => void;

/** The open result intervals, columnar (millions of rows on a large fleet). */
export interface OpenResults {
  ids: number[];
  audits: number[];
  hosts: number[];
  results: string[];
}

/** Everything one analyze writes, in one transaction. Columnar lists, for the same reason. */
export interface AnalysisWrite {
  runId: number;
  at: string;
  /** intervals that close: their id and last sighting */
  close: { ids: number[]; lastSeen: string[] };
  open: { audits: number[]; hosts: number[]; results: string[]; buckets: (string | null)[] };
  evaluatedHosts: number[];
  analyzedAudits: number[];
  collate: { audits: number[]; pops: string[]; srvtypes: string[]; results: string[]; hosts: number[] };
  /** the definition digest of each analyzed audit, in the order of analyzedAudits */
  analyzedDigests: string[];
  /** how far this analyze's read went (the next one evaluates again what changed past it) */
  mark: AnalysisMark;
  finishedAt: string;
  exitCode: number;
  summary: string;
}

/** How far an analyze's read went: the newest facts and fact_changes ids it saw written. */
export interface AnalysisMark { facts: number; changes: number }

/** The newest analyze that wrote its results: its instant (hosts.audited_at, audits.last_analyzed) and mark. */
export interface AnalysisBaseline { at: string; mark: AnalysisMark }

export const ANALYSIS_BASELINE_SQL = 'SELECT started_at, facts_through, changes_through FROM analyze_runs WHERE facts_through IS NOT NULL AND changes_through IS NOT NULL ORDER BY id DESC LIMIT 1';

export function toBaseline(r: Record<string, unknown> | undefined): AnalysisBaseline | null {
  return r ? { at: String(r.started_at), mark: { facts: Number(r.facts_through), changes: Number(r.changes_through) } } : null;
}

/**
 * Hosts with a fact interval opened, or a change-feed row written, past a mark, of these types
 * (`?` 1 and 3: the ids; 2 and 4: the types as one list). Ids, not instants: a pushed document can
 * carry an instant older than the analyze that did not see it yet.
 */
export function changedHostsSql(w: SqlWords): string {
  const inTypes = w.inList('type');
  return `SELECT host_id FROM facts WHERE id > ? AND ${inTypes} UNION SELECT host_id FROM fact_changes WHERE id > ? AND ${inTypes}`;
}

/** Current results of some audits on some hosts, counted per audit, host pop, srvtype, prod flag and result. */
export interface ResultCount { auditId: number; pop: string | null; srvtype: string | null; prod: boolean; result: string; hosts: number }

/** ResultCount rows (`?` 1: the audit ids, 2: the host ids, each as one list in the engine's words `w`). */
export function resultCountsSql(dialect: Dialect, w: SqlWords): string {
  // Most of the table is counted (analyze evaluates everything again past a quarter of the hosts
  // or audits): one walk over it, the lists as hash joins (PostgreSQL) or Bloom-filtered lookups
  // (SQLite; through audit_results_audit, a lookup per audit and host took three times as long).
  const scope = dialect === 'postgresql'
    ? 'audit_results r JOIN unnest(?::bigint[]) AS ca(id) ON ca.id = r.audit_id JOIN unnest(?::bigint[]) AS ch(id) ON ch.id = r.host_id'
    : 'audit_results r NOT INDEXED';
  const where = dialect === 'postgresql' ? '' : ` AND ${w.inList('r.audit_id')} AND ${w.inList('r.host_id')}`;
  return `SELECT r.audit_id, h.pop, h.srvtype, h.is_prod, r.result, COUNT(*) AS n
            FROM ${scope} JOIN hosts h ON h.id = r.host_id
           WHERE r.is_current = 1${where}
           GROUP BY r.audit_id, h.pop, h.srvtype, h.is_prod, r.result`;
}

export function toResultCount(r: unknown[]): ResultCount {
  const [a, pop, srvtype, prod, result, n] = r;
  return { auditId: Number(a), pop: pop == null ? null : String(pop), srvtype: srvtype == null ? null : String(srvtype), prod: Number(prod) === 1, result: String(result), hosts: Number(n) };
}

/** Open results of these hosts (any audit) or of these audits (any host) (`?` 1: host ids, 2: audit ids, each as one list). */
export function openResultsOfSql(w: SqlWords): string {
  return `SELECT id, audit_id, host_id, result FROM audit_results WHERE is_current = 1 AND (${w.inList('host_id')} OR ${w.inList('audit_id')})`;
}

// ---- the read side ----

export interface AuditFilter {
  sites?: string[];
  srvtypes?: string[];
  prod?: boolean;
}

function hostWhere(f: AuditFilter, params: unknown[]): string {
  const where: string[] = [];
  if (f.sites?.length) { where.push(`lower(h.pop) IN (${f.sites.map(() => '?').join(', ')})`); params.push(...f.sites.map((s) => s.toLowerCase())); }
  if (f.srvtypes?.length) { where.push(`h.srvtype IN (${f.srvtypes.map(() => '?').join(', ')})`); params.push(...f.srvtypes); }
  if (f.prod) where.push('h.is_prod = 1');
  return where.length ? ` AND ${where.join(' AND ')}` : '';
}

export interface StoredAudit extends AuditMeta {
  id: number;
  firstSeen: string;
  lastAnalyzed: string | null;
  active: boolean;
  /** the definition digest its current results were evaluated with (null: none recorded) */
  digest: string | null;
}

const AUDIT_COLUMNS = 'a.id, a.name, a.vuln_name, a.file, a.line, a.priority, a.short_description, a.long_description, a.primary_link, a.links, a.first_seen, a.last_analyzed, a.active, a.digest';

function toAudit(r: Record<string, unknown>): StoredAudit {
  let links: Record<string, string> = {};
  try { links = JSON.parse(String(r.links)) as Record<string, string>; } catch { /* written by us: never */ }
  return {
    id: Number(r.id), name: String(r.name), vulnName: String(r.vuln_name), file: String(r.file), line: Number(r.line),
    priority: Number(r.priority), shortDescription: String(r.short_description), longDescription: String(r.long_description),
    primaryLink: String(r.primary_link), links, firstSeen: String(r.first_seen),
    lastAnalyzed: r.last_analyzed == null ? null : String(r.last_analyzed), active: Number(r.active) === 1,
    digest: r.digest == null ? null : String(r.digest),
  };
}

/** Audits loaded by the last analyze, or the one named so (also one no longer loaded). */
export async function storedAudits(all: AllRows, name?: string): Promise<StoredAudit[]> {
  const rows = name === undefined
    ? await all(`SELECT ${AUDIT_COLUMNS} FROM audits a WHERE a.active = 1 ORDER BY a.name`, [])
    : await all(`SELECT ${AUDIT_COLUMNS} FROM audits a WHERE a.name = ?`, [name]);
  return rows.map(toAudit);
}

/**
 * A current result is "stale" when its host was not evaluated by the audit's last analyze (no
 * fresh collection): it stays open, but the counts leave it out.
 */
const FRESH = 'h.audited_at IS NOT NULL AND a.last_analyzed IS NOT NULL AND h.audited_at >= a.last_analyzed';

export interface AuditCounts { auditId: number; result: string; prod: boolean; hosts: number }

/** Current, fresh results per audit, result and prod flag, over the hosts the filter keeps. */
export async function auditCounts(all: AllRows, f: AuditFilter): Promise<AuditCounts[]> {
  const params: unknown[] = [];
  const where = hostWhere(f, params);
  const rows = await all(
    `SELECT r.audit_id, r.result, h.is_prod, COUNT(*) AS n FROM audit_results r
       JOIN audits a ON a.id = r.audit_id JOIN hosts h ON h.id = r.host_id
      WHERE r.is_current = 1 AND a.active = 1 AND ${FRESH}${where}
      GROUP BY r.audit_id, r.result, h.is_prod`, params);
  return rows.map((r) => ({ auditId: Number(r.audit_id), result: String(r.result), prod: Number(r.is_prod) === 1, hosts: Number(r.n) }));
}

/** Failing production hosts of the active audits (names), for the list. */
export async function failingProd(all: AllRows, f: AuditFilter): Promise<{ auditId: number; host: string }[]> {
  const params: unknown[] = [];
  const where = hostWhere({ ...f, prod: true }, params);
  const rows = await all(
    `SELECT r.audit_id, h.name FROM audit_results r JOIN audits a ON a.id = r.audit_id JOIN hosts h ON h.id = r.host_id
      WHERE r.is_current = 1 AND r.result = 'fail' AND a.active = 1 AND ${FRESH}${where}`, params);
  return rows.map((r) => ({ auditId: Number(r.audit_id), host: String(r.name) }));
}

export interface HostResultRow {
  auditId: number;
  host: string;
  pop: string | null;
  srvtype: string | null;
  isProd: boolean;
  result: string;
  bucket: string | null;
  since: string;
  lastSeen: string;
  stale: boolean;
  /** the current result is pass and an earlier fail interval closed: when it closed */
  fixedAt: string | null;
}

/**
 * Current results, of one audit (`auditId`) or of one host (`hostId`), with when the last fail
 * interval closed (for a pass: "fixed at").
 */
export async function currentResults(all: AllRows, by: { auditId: number } | { hostId: number }, f: AuditFilter = {}): Promise<HostResultRow[]> {
  const params: unknown[] = [];
  const key = 'auditId' in by ? 'r.audit_id = ?' : 'r.host_id = ?';
  params.push('auditId' in by ? by.auditId : by.hostId);
  const where = hostWhere(f, params);
  const rows = await all(
    `SELECT r.audit_id, h.name, h.pop, h.srvtype, h.is_prod, r.result, r.bucket, r.first_seen,
            CASE WHEN h.audited_at < a.last_analyzed THEN h.audited_at ELSE a.last_analyzed END AS last_seen,
            CASE WHEN ${FRESH} THEN 0 ELSE 1 END AS stale,
            (SELECT MAX(p.closed_at) FROM audit_results p WHERE p.audit_id = r.audit_id AND p.host_id = r.host_id AND p.result = 'fail' AND p.is_current = 0) AS fixed_at
       FROM audit_results r JOIN audits a ON a.id = r.audit_id JOIN hosts h ON h.id = r.host_id
      WHERE r.is_current = 1 AND ${key}${where}`, params);
  return rows.map((r) => ({
    auditId: Number(r.audit_id), host: String(r.name), pop: r.pop == null ? null : String(r.pop), srvtype: r.srvtype == null ? null : String(r.srvtype),
    isProd: Number(r.is_prod) === 1, result: String(r.result), bucket: r.bucket == null ? null : String(r.bucket),
    since: String(r.first_seen), lastSeen: String(r.last_seen ?? r.first_seen), stale: Number(r.stale) === 1,
    fixedAt: String(r.result) === 'pass' && r.fixed_at != null ? String(r.fixed_at) : null,
  }));
}

/** Audits of a host by id, for `facts HOST --audits` (joined in the view to storedAudits). */
export async function auditsById(all: AllRows, ids: number[]): Promise<Map<number, StoredAudit>> {
  const out = new Map<number, StoredAudit>();
  if (ids.length === 0) return out;
  // In chunks: SQLite takes at most 32,766 parameters.
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    for (const r of await all(`SELECT ${AUDIT_COLUMNS} FROM audits a WHERE a.id IN (${chunk.map(() => '?').join(', ')})`, chunk)) {
      const a = toAudit(r);
      out.set(a.id, a);
    }
  }
  return out;
}

/** Collated counts of an audit over its last `runs` analyze runs (pass/fail over time). */
export async function collateHistory(all: AllRows, auditId: number, runs = 30): Promise<{ runId: number; at: string; result: string; hosts: number }[]> {
  const rows = await all(
    `SELECT c.run_id, ar.started_at, c.result, SUM(c.hosts) AS n FROM audit_collate c JOIN analyze_runs ar ON ar.id = c.run_id
      WHERE c.audit_id = ? AND c.run_id IN (SELECT DISTINCT run_id FROM audit_collate WHERE audit_id = ? ORDER BY run_id DESC LIMIT ?)
      GROUP BY c.run_id, ar.started_at, c.result ORDER BY c.run_id`, [auditId, auditId, runs]);
  return rows.map((r) => ({ runId: Number(r.run_id), at: String(r.started_at), result: String(r.result), hosts: Number(r.n) }));
}

export interface FailureCell { priority: number; pop: string; results: number }
export interface LatestFailures { runId: number; at: string; cells: FailureCell[]; auditsByPriority: Map<number, number> }

/**
 * The failures of the newest analyze run, from its collated counts: failing (audit, host) results
 * by audit priority and host pop ('' for hosts without one), and the failing audits per priority.
 */
export async function latestFailures(all: AllRows): Promise<LatestFailures | null> {
  const [last] = await all('SELECT ar.id, ar.started_at FROM analyze_runs ar WHERE ar.id = (SELECT MAX(run_id) FROM audit_collate)', []);
  if (!last) return null;
  const cells = await all(
    `SELECT a.priority, c.pop, SUM(c.hosts) AS n FROM audit_collate c JOIN audits a ON a.id = c.audit_id
      WHERE c.run_id = ? AND c.result = 'fail' GROUP BY a.priority, c.pop`, [last.id]);
  const audits = await all(
    `SELECT a.priority, COUNT(DISTINCT c.audit_id) AS n FROM audit_collate c JOIN audits a ON a.id = c.audit_id
      WHERE c.run_id = ? AND c.result = 'fail' GROUP BY a.priority`, [last.id]);
  return {
    runId: Number(last.id), at: String(last.started_at),
    cells: cells.map((r) => ({ priority: Number(r.priority), pop: String(r.pop), results: Number(r.n) })),
    auditsByPriority: new Map(audits.map((r) => [Number(r.priority), Number(r.n)])),
  };
}

/** Stored host fields analyze reads, as SQL columns. */
export const ANALYSIS_HOST_SQL = 'SELECT id, name, pop, srvtype, is_prod, last_success_at, audited_at FROM hosts';

export function toAnalysisHost(r: Record<string, unknown>): AnalysisHost {
  return {
    id: Number(r.id), name: String(r.name), pop: r.pop == null ? null : String(r.pop), srvtype: r.srvtype == null ? null : String(r.srvtype),
    isProd: Number(r.is_prod) === 1, lastSuccessAt: r.last_success_at == null ? null : String(r.last_success_at),
    auditedAt: r.audited_at == null ? null : String(r.audited_at),
  };
}
