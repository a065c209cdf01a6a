// The store's logic written once, over a Driver: the read side (hosts, facts, the audit query,
// runs, the change feed, the pages' history, audits), the run and analyze bookkeeping, tokens, and
// the one-statement writes. An engine (sqlite/store.ts, postgres/store.ts) extends it with its
// driver and adds only what it must do its own way: opening and migrating, transactions, and the
// batch writes (a run's results, a pushed document, the analysis), whose strategy was measured per
// engine (SQLite: prepared statements in one transaction; PostgreSQL: arrays through unnest).
import type { InventoryHost } from '../inventory/host.js';
import type { HostResult } from '../core/results.js';
import * as au from './audit-store.js';
import { changeRows, type ChangeQuery, type ChangeRows } from './changes.js';
import { guarded, iso, type Awaitable, type Driver } from './driver.js';
import { hostAttempts, recentChangeStart, runsSince, type HostAttempt, type RunTally } from './fleet-history.js';
import { PRUNE_CHANGES, sshAttemptSince } from './migrations.js';
import * as q from './queries.js';
import type { Parts, PruneMode, PushDocument, PushOutcome, RunInfo, Store, TokenRow } from './store.js';
import { hostsText, TOKEN_COLUMNS, toTokenRow } from './tokens.js';

export abstract class SqlStore implements Store {
  abstract readonly dialect: 'sqlite' | 'postgresql';

  protected constructor(protected readonly d: Driver) {}

  /** the file, or the PostgreSQL URL (which never carries a password) */
  get path(): string {
    return this.d.name;
  }

  /** `fn`, any engine failure turned into a StorageError naming the database and `what`. */
  protected guard<T>(what: string, fn: () => Awaitable<T>): Promise<T> {
    return guarded(this.d.name, what, fn);
  }

  private rows(what: string): q.AllRows {
    return (sql, params) => this.guard(what, () => this.d.all(sql, params));
  }

  // ---- what each engine does its own way ----

  abstract upsertHosts(hosts: InventoryHost[]): Awaitable<void>;
  abstract recordResults(runId: number, results: HostResult[]): Awaitable<void>;
  abstract recordPush(runId: number, doc: PushDocument): Awaitable<PushOutcome>;
  abstract writeTogether<T>(parts: Parts<T>): Promise<PromiseSettledResult<T>[]>;
  abstract pruneBatch(before: string, mode: PruneMode, batch: number): Awaitable<number>;
  abstract upsertAudits(audits: au.AuditMeta[], at: string): Awaitable<Map<string, number>>;
  abstract scanFacts(want: au.FactWant, sink: au.FactSink, hostIds?: readonly number[]): Awaitable<void>;
  abstract openAuditResults(of?: { hosts: readonly number[]; audits: readonly number[] }): Awaitable<au.OpenResults>;
  abstract analysisMark(): Awaitable<au.AnalysisMark>;
  abstract writeAnalysis(w: au.AnalysisWrite): Awaitable<void>;
  abstract integrityCheck(): Awaitable<string>;
  abstract close(): Awaitable<void>;

  // ---- runs ----

  async beginRun(info: RunInfo): Promise<number> {
    const [r] = await this.guard('cannot record the run start', () => this.d.arrays(
      'INSERT INTO runs (mode, started_at, pid, hostname, threads, workers, scope) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [info.mode, iso(info.startedAt), info.pid, this.d.text(info.hostname), info.threads, info.workers, this.d.text(info.scope)]));
    return Number(r![0]);
  }

  async finishRun(runId: number, finishedAt: Date, exitCode: number, summaryJson: string): Promise<void> {
    await this.guard('cannot record the run end', () => this.d.run(
      'UPDATE runs SET finished_at = ?, exit_code = ?, summary = ? WHERE id = ?', [iso(finishedAt), exitCode, this.d.text(summaryJson), runId]));
  }

  async lastSuccessByHost(): Promise<Map<string, number>> {
    const rows = await this.guard('cannot read last successes', () => this.d.arrays('SELECT name, last_success_at FROM hosts WHERE last_success_at IS NOT NULL'));
    return new Map(rows.map((r) => [r[0] as string, Date.parse(r[1] as string)]));
  }

  async sapiHostsSince(sinceMs: number, sshSinceMs?: number): Promise<Set<string>> {
    const rows = await this.guard('cannot read agent hosts', () => (sshSinceMs === undefined
      ? this.d.arrays('SELECT name FROM hosts WHERE sapi_at IS NOT NULL AND sapi_at >= ?', [iso(sinceMs)])
      : this.d.arrays(`SELECT h.name FROM hosts h WHERE h.sapi_at IS NOT NULL AND h.sapi_at >= ? AND ${sshAttemptSince('?')}`, [iso(sinceMs), iso(sshSinceMs)])));
    return new Set(rows.map((r) => r[0] as string));
  }

  async pruneChanges(before: string, batch: number): Promise<number> {
    return this.guard('cannot prune the change feed', () => this.d.run(PRUNE_CHANGES, [before, batch]));
  }

  async countPrunable(before: string): Promise<number> {
    const [r] = await this.guard('cannot count closed facts', () => this.d.arrays('SELECT COUNT(*) FROM facts WHERE is_current = 0 AND last_seen < ?', [before]));
    return Number(r![0]);
  }

  async factRowCount(): Promise<number> {
    const [r] = await this.guard('cannot count facts', () => this.d.arrays('SELECT COUNT(*) FROM facts'));
    return Number(r![0]);
  }

  // ---- the read side (queries.ts, changes.ts, fleet-history.ts) ----

  listHosts(): Promise<q.HostRow[]> { return q.listHosts(this.d); }
  findHost(name: string): Promise<q.HostRef | undefined> { return q.findHost(this.d, name); }
  similarHosts(text: string, limit?: number): Promise<string[]> { return q.similarHosts(this.d, text, limit); }
  hostFacts(host: q.HostRef, opts?: q.FactsOptions): Promise<q.FactInterval[]> { return q.hostFacts(this.d, host, opts); }
  auditQuery(query: q.AuditQuery): Promise<q.AuditHit[]> { return q.auditQuery(this.d, query); }
  auditKeys(query: q.AuditQuery): Promise<q.AuditKey[]> { return q.auditKeys(this.d, query); }
  factTimes(ids: readonly number[]): Promise<Map<number, q.FactTimes>> { return q.factTimes(this.d, ids); }
  hostsNamed(names: readonly string[]): Promise<q.HostRow[]> { return q.hostsNamed(this.d, names); }
  hostNames(): Promise<[number, string][]> { return q.hostNames(this.d); }
  hostsMark(): Promise<string> { return q.hostsMark(this.d); }
  typeExists(type: string): Promise<boolean> { return q.typeExists(this.d, type); }
  factTypes(): Promise<string[]> { return q.factTypes(this.d); }
  lastRuns(): Promise<q.ModeRuns[]> { return q.lastRuns(this.d); }
  hostRow(host: q.HostRef): Promise<q.HostRow | undefined> { return q.hostRow(this.d, host); }

  factChanges(query: ChangeQuery): Promise<ChangeRows> {
    // Each statement guarded on its own: the feed's slices are read after this returns.
    const what = 'cannot read the change feed';
    return changeRows(this.rows(what), (sql, params) => this.guard(what, () => this.d.arrays(sql, params)), this.d.sql, query);
  }

  runsSince(since: string): Promise<RunTally[]> { return runsSince(this.rows('cannot read runs'), this.dialect, since); }
  hostAttempts(host: q.HostRef, limit: number): Promise<HostAttempt[]> {
    return hostAttempts(this.rows(`cannot read the attempts of ${host.name}`), this.dialect, host.id, limit);
  }
  recentChangeStart(n: number): Promise<string | null> { return recentChangeStart(this.rows('cannot read the change feed'), n); }

  // ---- tokens ----

  async addToken(t: Omit<TokenRow, 'lastUsedAt' | 'revokedAt'>): Promise<boolean> {
    return (await this.guard('cannot store the token', () => this.d.run(
      'INSERT INTO api_tokens (name, scope, hosts, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
      [t.name, t.scope, hostsText(t.hosts), t.secretSha256, t.createdAt]))) === 1;
  }

  async listTokens(): Promise<TokenRow[]> {
    return (await this.guard('cannot read the tokens', () => this.d.all(`SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY name`))).map(toTokenRow);
  }

  async revokeToken(name: string, at: string): Promise<boolean> {
    return (await this.guard('cannot revoke the token', () => this.d.run('UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL', [at, name]))) === 1;
  }

  async touchToken(name: string, at: string): Promise<void> {
    await this.guard('cannot record the token use', () => this.d.run('UPDATE api_tokens SET last_used_at = ? WHERE name = ?', [at, name]));
  }

  // ---- analyze ----

  async beginAnalysis(startedAt: Date, pid: number, hostname: string): Promise<number> {
    const [r] = await this.guard('cannot record the analyze start', () => this.d.arrays(
      'INSERT INTO analyze_runs (started_at, pid, hostname) VALUES (?, ?, ?) RETURNING id', [iso(startedAt), pid, this.d.text(hostname)]));
    return Number(r![0]);
  }

  async finishAnalysis(runId: number, finishedAt: string, exitCode: number, summary: string): Promise<void> {
    await this.guard('cannot record the analyze end', () => this.d.run(
      'UPDATE analyze_runs SET finished_at = ?, exit_code = ?, summary = ? WHERE id = ?', [finishedAt, exitCode, this.d.text(summary), runId]));
  }

  async analysisHosts(): Promise<au.AnalysisHost[]> {
    return (await this.guard('cannot read hosts', () => this.d.all(au.ANALYSIS_HOST_SQL))).map(au.toAnalysisHost);
  }

  async analysisBaseline(): Promise<au.AnalysisBaseline | null> {
    return au.toBaseline((await this.guard('cannot read the analyze runs', () => this.d.all(au.ANALYSIS_BASELINE_SQL)))[0]);
  }

  async changedHostsSince(mark: au.AnalysisMark, types: readonly string[]): Promise<number[]> {
    const t = this.d.list(types);
    return (await this.guard('cannot read the change feed', () => this.d.arrays(au.changedHostsSql(this.d.sql), [mark.facts, t, mark.changes, t])))
      .map((r) => Number(r[0]));
  }

  async currentResultCounts(auditIds: readonly number[], hostIds: readonly number[]): Promise<au.ResultCount[]> {
    return (await this.guard('cannot read audit results', () => this.d.arrays(au.resultCountsSql(this.dialect, this.d.sql), [this.d.list(auditIds), this.d.list(hostIds)])))
      .map(au.toResultCount);
  }

  // ---- the audits questions (audit-store.ts) ----

  private readonly auditRows = this.rows('cannot read audits');
  storedAudits(name?: string): Promise<au.StoredAudit[]> { return au.storedAudits(this.auditRows, name); }
  auditCounts(f: au.AuditFilter): Promise<au.AuditCounts[]> { return au.auditCounts(this.auditRows, f); }
  failingProdHosts(f: au.AuditFilter): Promise<{ auditId: number; host: string }[]> { return au.failingProd(this.auditRows, f); }
  currentAuditResults(by: { auditId: number } | { hostId: number }, f?: au.AuditFilter): Promise<au.HostResultRow[]> { return au.currentResults(this.auditRows, by, f); }
  auditsById(ids: number[]): Promise<Map<number, au.StoredAudit>> { return au.auditsById(this.auditRows, ids); }
  auditCollate(auditId: number, runs?: number): Promise<{ runId: number; at: string; result: string; hosts: number }[]> { return au.collateHistory(this.auditRows, auditId, runs); }
  latestAuditFailures(): Promise<au.LatestFailures | null> { return au.latestFailures(this.auditRows); }
}
