// The store interface both backends implement (SQLite, the zero-setup default, and PostgreSQL,
// for several collectors sharing one database), and the opener. Only the main thread holds a
// store; it is the single writer of its process. SQLite answers at once, PostgreSQL through a
// promise: callers always `await`.
import type { InventoryHost } from '../inventory/host.js';
import type { HostResult } from '../core/results.js';
import type { AuditHit, AuditKey, AuditQuery, FactInterval, FactsOptions, FactTimes, HostRef, HostRow, ModeRuns } from './queries.js';
import type { ChangeQuery, ChangeRows } from './changes.js';
import type { HostAttempt, RunTally } from './fleet-history.js';
import type {
  AnalysisBaseline, AnalysisHost, AnalysisMark, AnalysisWrite, AuditCounts, AuditFilter, AuditMeta, FactSink, LatestFailures, FactWant, HostResultRow, OpenResults, ResultCount, StoredAudit,
} from './audit-store.js';
import type pg from 'pg';
import { isPostgresUrl } from './database-url.js';
import type { Awaitable } from './driver.js';
import type { PgStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';

export { SqliteStore };
export type { Awaitable };

export interface RunInfo {
  mode: 'run' | 'gap-fix' | 'ingest';
  startedAt: Date;
  pid: number;
  hostname: string;
  threads: number;
  workers: number;
  /** what part of the inventory this run covers (sites/shard), as shown in `status`; absent = all */
  scope?: string;
}

/** A collection document pushed by a host agent, validated (see app/ingest.ts). */
export interface PushDocument {
  host: string;
  timestamp: number;
  ok: boolean;
  statusText: string;
  data: Record<string, Record<string, string>>;
  srvtype?: string;
  pop?: string;
  status?: string;
  /** `status` read against [collector] prod_statuses, when a status was given */
  isProd?: boolean;
  /** type -> valuesDigest of its values, when the caller computed them already (off the writer's thread) */
  digests?: Record<string, string>;
}

/** What became of one pushed document. */
export interface PushOutcome {
  /** the host name it was stored under (an existing host matched without regard to case) */
  host: string;
  /** types stored through the fact-interval logic */
  storedTypes: string[];
  /** types skipped because the stored facts of that type are newer than the document */
  skippedTypes: string[];
}

export type PruneMode = 'archive' | 'delete';

/** An API token as stored: never the secret, only its SHA-256 (hex). */
export interface TokenRow {
  name: string;
  scope: 'push' | 'read';
  /** host patterns a push token may push for (shell globs); null = any host */
  hosts: string[] | null;
  secretSha256: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface Store {
  /** the file, or the PostgreSQL URL (which never carries a password) */
  readonly path: string;
  readonly dialect: 'sqlite' | 'postgresql';
  beginRun(info: RunInfo): Awaitable<number>;
  /** one transaction: new hosts inserted, known ones get the inventory's srvtype/pop/status */
  upsertHosts(hosts: InventoryHost[]): Awaitable<void>;
  /** label -> epoch ms of the last successful collection (one query) */
  lastSuccessByHost(): Awaitable<Map<string, number>>;
  /**
   * labels whose agent pushed at or after `sinceMs` (one query); with `sshSinceMs`, only those
   * that also had an SSH attempt at or after it ([sapi] verify_every): the others are due one
   */
  sapiHostsSince(sinceMs: number, sshSinceMs?: number): Awaitable<Set<string>>;
  /** one transaction per batch: attempts, their collections, fact intervals, hosts.last_* */
  recordResults(runId: number, results: HostResult[]): Awaitable<void>;
  finishRun(runId: number, finishedAt: Date, exitCode: number, summaryJson: string): Awaitable<void>;
  /** one document pushed by a host agent, in its own transaction (see app/ingest.ts) */
  recordPush(runId: number, doc: PushDocument): Awaitable<PushOutcome>;
  /**
   * Several writers' store calls in one transaction (the storage API's concurrent pushes share one
   * commit). Each part's calls nest inside it: a document's failed write is undone alone, as in its
   * own transaction. A part settles only once the whole transaction has committed; a failed BEGIN
   * or COMMIT throws and no part is stored. `parts` may be an async iterable: parts still on their
   * way join the open transaction as they come (it commits when the iterable ends).
   */
  writeTogether<T>(parts: Parts<T>): Promise<PromiseSettledResult<T>[]>;
  /** closed fact intervals last seen before `before` (ISO), archived or deleted; one transaction of at most `batch` rows */
  pruneBatch(before: string, mode: PruneMode, batch: number): Awaitable<number>;
  /** how many closed fact intervals were last seen before `before` (what prune would move) */
  countPrunable(before: string): Awaitable<number>;
  /** change-feed rows dated before `before`, at most `batch` in one transaction (prune's delete mode); rows deleted */
  pruneChanges(before: string, batch: number): Awaitable<number>;
  // ---- the read side (hosts, facts, query, status) ----
  listHosts(): Awaitable<HostRow[]>;
  /** the host named exactly so, else the one host equal to it without regard to case */
  findHost(name: string): Awaitable<HostRef | undefined>;
  /** up to `limit` stored names containing `text` (any case) */
  similarHosts(text: string, limit?: number): Awaitable<string[]>;
  /** current facts; with `history` every interval; with `at` the intervals covering that instant */
  hostFacts(host: HostRef, opts?: FactsOptions): Awaitable<FactInterval[]>;
  /** the rows of the hosts named so, in no order (paging reads only a page's hosts) */
  hostsNamed(names: readonly string[]): Awaitable<HostRow[]>;
  /** every stored host, [id, name], in no order */
  hostNames(): Awaitable<[number, string][]>;
  /** a text that changes whenever a host is added (hosts are never renamed or deleted) */
  hostsMark(): Awaitable<string>;
  /** which hosts have it now (or, with `at`, had it then), with since and last seen, by host, subtype, value */
  auditQuery(q: AuditQuery): Awaitable<AuditHit[]>;
  /** the same facts by host id, without their times, in no order (cheap: on SQLite one index holds them) */
  auditKeys(q: AuditQuery): Awaitable<AuditKey[]>;
  /** since and last seen of these fact rows (auditKeys' ids) */
  factTimes(ids: readonly number[]): Awaitable<Map<number, FactTimes>>;
  typeExists(type: string): Awaitable<boolean>;
  factTypes(): Awaitable<string[]>;
  /** per mode and scope, the newest finished run and the unfinished ones after it */
  lastRuns(): Awaitable<ModeRuns[]>;
  /** what opened and closed in a window, and the hosts first collected in it (see changes.ts) */
  factChanges(q: ChangeQuery): Awaitable<ChangeRows>;
  // ---- the fleet pages (see fleet-history.ts) ----
  /** one host's row of listHosts, by its key (a host page must not read 10,000 rows for one) */
  hostRow(host: HostRef): Awaitable<HostRow | undefined>;
  /** runs and gap-fixes started at or after `since` (ISO), oldest first, with their final counts */
  runsSince(since: string): Awaitable<RunTally[]>;
  /** the host's last `limit` attempts, newest first, with error codes and the collections that failed */
  hostAttempts(host: HostRef, limit: number): Awaitable<HostAttempt[]>;
  /** where a change-feed window holding the newest `n` fact openings or closings starts (ISO), or null */
  recentChangeStart(n: number): Awaitable<string | null>;
  factRowCount(): Awaitable<number>;
  // ---- API tokens (serve, token) ----
  /** false when the name is taken (by a live or a revoked token) */
  addToken(t: Omit<TokenRow, 'lastUsedAt' | 'revokedAt'>): Awaitable<boolean>;
  /** every token, revoked ones included, by name */
  listTokens(): Awaitable<TokenRow[]>;
  /** false when no live token has that name */
  revokeToken(name: string, at: string): Awaitable<boolean>;
  touchToken(name: string, at: string): Awaitable<void>;
  // ---- audits (SPEC §10; the tables of migration 9, see audit-store.ts) ----
  /** an analyze_runs row for an analyze starting now */
  beginAnalysis(startedAt: Date, pid: number, hostname: string): Awaitable<number>;
  /** insert or refresh these audits (one transaction); the others are marked inactive; name -> id */
  upsertAudits(audits: AuditMeta[], at: string): Awaitable<Map<string, number>>;
  analysisHosts(): Awaitable<AnalysisHost[]>;
  /** every current fact the audits read, one sink call per row; of these hosts only, when given */
  scanFacts(want: FactWant, sink: FactSink, hostIds?: readonly number[]): Awaitable<void>;
  /** the open results: all of them, or those of some hosts (any audit) and of some audits (any host) */
  openAuditResults(of?: { hosts: readonly number[]; audits: readonly number[] }): Awaitable<OpenResults>;
  /** the newest analyze that wrote its results with a mark, or null */
  analysisBaseline(): Awaitable<AnalysisBaseline | null>;
  /**
   * The newest facts and fact_changes ids, read so that every row up to them is committed and
   * every row written later has a larger id (read before the facts an analyze evaluates).
   */
  analysisMark(): Awaitable<AnalysisMark>;
  /** hosts with facts of these types opened, or change-feed rows of them written, past the mark */
  changedHostsSince(mark: AnalysisMark, types: readonly string[]): Awaitable<number[]>;
  /** current results of these audits on these hosts, counted per audit, pop, srvtype, prod flag and result */
  currentResultCounts(auditIds: readonly number[], hostIds: readonly number[]): Awaitable<ResultCount[]>;
  /** one transaction: intervals closed and opened, hosts and audits marked evaluated, collate rows, the run finished */
  writeAnalysis(w: AnalysisWrite): Awaitable<void>;
  /** an analyze that ended without writeAnalysis (its exit code and summary) */
  finishAnalysis(runId: number, finishedAt: string, exitCode: number, summary: string): Awaitable<void>;
  /** the active audits, or the one named so */
  storedAudits(name?: string): Awaitable<StoredAudit[]>;
  auditCounts(f: AuditFilter): Awaitable<AuditCounts[]>;
  failingProdHosts(f: AuditFilter): Awaitable<{ auditId: number; host: string }[]>;
  currentAuditResults(by: { auditId: number } | { hostId: number }, f?: AuditFilter): Awaitable<HostResultRow[]>;
  auditsById(ids: number[]): Awaitable<Map<number, StoredAudit>>;
  auditCollate(auditId: number, runs?: number): Awaitable<{ runId: number; at: string; result: string; hosts: number }[]>;
  /** the newest analyze run's failing results by audit priority and pop (null: no analyze yet) */
  latestAuditFailures(): Awaitable<LatestFailures | null>;
  integrityCheck(): Awaitable<string>;
  close(): Awaitable<void>;
}

/** What writeTogether writes in one transaction: each part a writer's store calls. */
export type Parts<T> = Iterable<() => Promise<T>> | AsyncIterable<() => Promise<T>>;

/** The SQLite store (tests and SQLite-only tools). */
export function openStore(path: string, opts: { readonly?: boolean; longLived?: boolean } = {}): SqliteStore {
  return SqliteStore.open(path, opts);
}

/**
 * The store `[storage] database` names: a PostgreSQL URL or a SQLite file. `busyTimeoutMs`: how
 * long a write waits for another writer of the same file (a database server needs no such wait).
 * `longLived`: a long-lived writer that sees the same hosts again (serve) may keep the
 * current facts it wrote in memory, where the engine can tell nobody else changed them (SQLite).
 */
export async function openAnyStore(database: string, opts: { readonly?: boolean; busyTimeoutMs?: number; longLived?: boolean } = {}): Promise<Store> {
  if (!isPostgresUrl(database)) {
    const store = SqliteStore.open(database, { readonly: opts.readonly, longLived: opts.longLived });
    if (opts.busyTimeoutMs !== undefined) store.database.pragma(`busy_timeout = ${opts.busyTimeoutMs}`);
    return store;
  }
  const { PgStore } = await import('./postgres/store.js');
  return PgStore.open(database, opts);
}

/**
 * The connection of a database that holds the run locks itself (a server shared by collectors),
 * to read their holders from; undefined for a database file, whose locks are files beside it.
 */
export function runLockConnection(store: Store): pg.Client | undefined {
  return store.dialect === 'postgresql' ? (store as PgStore).connection : undefined;
}
