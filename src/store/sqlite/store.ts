// The SQLite engine: WAL (readers never block the one writer), batched transactions, prepared
// statements, parameterised SQL only. The rules shared with PostgreSQL are in ../sql-store.ts,
// ../intervals.ts and ../push-rules.ts; opening and migrating the file are in database-file.ts,
// the analyze bookkeeping in analysis.ts; here are transactions and the batch writes done as
// prepared statements in one transaction. Every failure surfaces as StorageError (exit 74).
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { InventoryHost } from '../../inventory/host.js';
import type { HostResult } from '../../core/results.js';
import * as au from '../audit-store.js';
import { valuesDigest } from '../digest.js';
import { asStorageError, iso } from '../driver.js';
import { checkSchema, matchSidecarModes, migrate, openDatabaseFile, openFailure } from './database-file.js';
import { diffCurrent, feedOrder, seenValues, type FeedRow } from '../intervals.js';
import { firstFactsSet, inChangeFeed } from '../migrations.js';
import * as push from '../push-rules.js';
import { SqlStore } from '../sql-store.js';
import type { Parts, PruneMode, PushDocument, PushOutcome } from '../store.js';
import { SqliteDriver } from './driver.js';
import { SqliteAnalysis } from './analysis.js';
import { CurrentFacts, type CurrentRow } from './current-facts.js';
import { threadEntry } from '../../core/thread-entry.js';

/**
 * One host's current facts of one type, read when a collection's values differ from the stored
 * ones. INDEXED BY: without statistics the planner prefers facts_audit, which covers these columns
 * but is led by type alone, and walks every host's facts of the type (measured on 64 hosts: 2.9 ms
 * for one host's 715 packages, against 1.2 ms through facts_host_type; it grows with the fleet).
 */
export const CURRENT_OF_TYPE = 'SELECT id, subtype, value FROM facts INDEXED BY facts_host_type WHERE host_id = ? AND type = ? AND is_current = 1';

/** SQLite's own: a commit that leaves the log past this many pages checkpoints it. */
const DEFAULT_CHECKPOINT_PAGES = 1000;
/** With checkpoints in a thread of their own, the writer's commit checkpoints a log this long (40 MB); by then the thread has copied most of it. */
const BACKSTOP_PAGES = 10_000;

export class SqliteStore extends SqlStore {
  readonly dialect = 'sqlite';
  private readonly hostIds = new Map<string, number>();
  /** the current facts this handle wrote last (opened with longLived: serve's writer) */
  private readonly current: CurrentFacts | undefined;

  /** the thread that checkpoints the log (opened with longLived) */
  private checkpoints: Worker | undefined;

  private readonly analysis: SqliteAnalysis;

  private constructor(private readonly db: Database.Database, private readonly driver: SqliteDriver, longLived = false) {
    super(driver);
    this.current = longLived ? new CurrentFacts() : undefined;
    this.analysis = new SqliteAnalysis({ stmt: (sql, raw) => this.stmt(sql, raw), now: (what, fn) => this.now(what, fn), write: (what, fn) => this.write(what, fn) });
  }

  /** WAL checkpoints in a thread of their own (see checkpoint-thread.ts); this handle's own only past BACKSTOP_PAGES. */
  private checkpointAside(): void {
    const worker = new Worker(threadEntry(import.meta.url, './checkpoint-thread'), { workerData: { file: this.path } });
    worker.unref();
    // A thread that cannot run leaves the checkpoints to this handle, as usual.
    worker.on('error', () => { if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${DEFAULT_CHECKPOINT_PAGES}`); });
    this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    // The log file keeps the largest size it reached; past this it is cut back when it starts over.
    this.db.pragma(`journal_size_limit = ${BACKSTOP_PAGES * 4096 * 2}`);
    this.checkpoints = worker;
  }

  /** The SQLite handle, for the SQLite-only tools (the copy to PostgreSQL in app/migrate.ts, tests). */
  get database(): Database.Database {
    return this.db;
  }

  /**
   * `longLived`: a long-lived writer that sees the same hosts again and again (serve's): it keeps
   * the current facts it wrote last in memory (see current-facts.ts), and a thread of its own
   * checkpoints the log (see checkpoint-thread.ts).
   */
  static open(file: string, opts: { readonly?: boolean; longLived?: boolean } = {}): SqliteStore {
    const db = openDatabaseFile(file, opts.readonly === true);
    try {
      const longLived = opts.longLived === true && !opts.readonly;
      if (opts.readonly) checkSchema(db, file);
      else {
        migrate(db, file);
        matchSidecarModes(file);
      }
      const store = new SqliteStore(db, new SqliteDriver(file, db), longLived);
      if (longLived) store.checkpointAside();
      return store;
    } catch (e) {
      try { db.close(); } catch { /* already broken */ }
      throw openFailure(file, e, opts.readonly === true);
    }
  }

  /** A prepared statement, kept for the store's life; `raw` ones return rows as arrays. */
  private stmt(sql: string, raw = false): Database.Statement<unknown[]> {
    return this.driver.stmt(sql, raw);
  }

  /** `fn` now (this engine answers at once), any failure a StorageError naming the file and `what`. */
  private now<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw asStorageError(this.path, what, e);
    }
  }

  /**
   * One write transaction, IMMEDIATE: it takes the write lock at BEGIN (waiting up to busy_timeout
   * for another writer) instead of failing half-way when it upgrades from a read. Under that lock
   * the kept current facts are checked once against other connections' commits. On failure the
   * caches of what it wrote are dropped (forgetWrites).
   */
  private write<T>(what: string, fn: () => T): T {
    return this.now(what, () => {
      try {
        return this.db.transaction(() => {
          // Nobody else commits while the lock is held: once per transaction (or savepoint) is enough.
          this.current?.validate((this.stmt('PRAGMA data_version', true).get() as unknown[] | undefined)?.[0]);
          return fn();
        }).immediate();
      } catch (e) {
        this.forgetWrites();
        throw e;
      }
    });
  }

  /** After a rollback: ids of hosts the transaction inserted are gone, and so are the facts it wrote. */
  private forgetWrites(): void {
    this.hostIds.clear();
    this.current?.clear();
  }

  private hostId(name: string, now: string): number {
    const known = this.hostIds.get(name);
    if (known !== undefined) return known;
    const row = this.stmt('SELECT id FROM hosts WHERE name = ?').get(name) as { id: number } | undefined;
    const id = row?.id ?? Number(this.stmt('INSERT INTO hosts (name, first_seen_at) VALUES (?, ?)').run(name, now).lastInsertRowid);
    this.hostIds.set(name, id);
    return id;
  }

  upsertHosts(hosts: InventoryHost[]): void {
    const now = iso(Date.now());
    this.write('cannot record the inventory', () => {
      const upd = this.stmt('UPDATE hosts SET srvtype = ?, pop = ?, status = ?, is_prod = ? WHERE id = ?');
      for (const h of hosts) upd.run(h.srvtype, h.pop, h.status, h.isProd ? 1 : 0, this.hostId(h.label, now));
    });
  }

  recordResults(runId: number, results: HostResult[]): void {
    if (results.length === 0) return;
    this.write(`cannot store a batch of ${results.length} host results (nothing of it was written)`, () => {
      for (const r of results) this.recordOne(runId, r);
    });
  }

  private recordOne(runId: number, r: HostResult): void {
    const finished = iso(r.finishedAt);
    const hostId = this.hostId(r.label, finished);
    const attemptId = Number(this.stmt(
      'INSERT INTO attempts (run_id, host_id, started_at, finished_at, duration_ms, outcome, code, message, output_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(runId, hostId, iso(r.startedAt), finished, Math.max(0, r.finishedAt - r.startedAt), r.outcome, r.code ?? null, r.message ?? null, r.outputBytes).lastInsertRowid);
    const addCollection = this.stmt('INSERT INTO attempt_collections (attempt_id, type, status, exit_code, message, duration_ms) VALUES (?, ?, ?, ?, ?, ?)');
    const feed = this.changeFeedFor(hostId, finished);
    const feedRows: FeedRow[] = [];
    let stored = false;
    for (const c of r.collections) {
      addCollection.run(attemptId, c.type, c.status, c.exitCode ?? null, c.message ?? null, c.durationMs);
      if (c.status === 'ok' && c.values) { this.recordFacts(hostId, c.type, c.values, finished, feed, feedRows); stored = true; }
    }
    this.appendChanges(feedRows);
    const success = r.outcome === 'ok' || r.outcome === 'partial';
    // firstFactsSet's instant stands twice in its CASE: `finished` is given twice.
    this.stmt(
      `UPDATE hosts SET last_attempt_at = ?, last_outcome = ?, last_code = ?, last_message = ?, last_run_id = ?,
         last_success_at = CASE WHEN ? = 1 THEN ? ELSE last_success_at END, ${firstFactsSet('?', '?')} WHERE id = ?`,
    ).run(finished, r.outcome, r.code ?? null, r.message ?? null, runId, success ? 1 : 0, finished, stored ? 1 : 0, finished, finished, hostId);
  }

  /**
   * Fact intervals, shared by runs and pushes: an unchanged value only moves last_seen; a new
   * value opens a row; a current value not seen now is closed at its old last_seen. Only types
   * that were collected successfully get here, so a failed collection never closes anything.
   */
  private recordFacts(hostId: number, type: string, values: Record<string, string>, now: string, feed: boolean, feedRows: FeedRow[], given?: string): void {
    const digest = given ?? valuesDigest(values);
    const known = this.stmt('SELECT digest, last_seen FROM fact_types WHERE host_id = ? AND type = ?', true).get(hostId, type) as [string | null, string | null] | undefined;
    const seenAgain = this.stmt(
      'INSERT INTO fact_types (host_id, type, last_seen, digest) VALUES (?, ?, ?, ?) ON CONFLICT (host_id, type) DO UPDATE SET last_seen = excluded.last_seen, digest = excluded.digest',
    );
    // The same values as last time (the common case): every current fact was seen again, and one
    // row moves their last_seen (see migrations 5 and 7).
    if (known && known[0] === digest) {
      seenAgain.run(hostId, type, now, digest);
      return;
    }
    // A type never seen on this host has no current fact (every sighting writes fact_types): nothing to compare.
    // Rows as arrays, not objects: this runs once per changed host and type.
    const current: readonly CurrentRow[] = !known ? [] : this.current?.get(hostId, type) ?? this.stmt(CURRENT_OF_TYPE, true).all(hostId, type) as CurrentRow[];
    const diff = diffCurrent(current, seenValues(values), feed);
    // A value not seen now was last seen at the type's previous sighting (its last_seen until now)
    // and closed by this collection.
    const closeRow = this.stmt('UPDATE facts SET is_current = 0, closed_at = ?, last_seen = COALESCE(?, last_seen) WHERE id = ?');
    for (const id of diff.close) closeRow.run(now, known?.[1] ?? null, id);
    seenAgain.run(hostId, type, now, digest);
    const open = this.stmt('INSERT INTO facts (host_id, type, subtype, value, first_seen, last_seen, is_current) VALUES (?, ?, ?, ?, ?, ?, 1)');
    const opened: CurrentRow[] = [];
    for (const [subtype, value] of diff.open) opened.push([Number(open.run(hostId, type, subtype, value, now, now).lastInsertRowid), subtype, value]);
    this.current?.set(hostId, type, current, diff.close, opened);
    for (const c of diff.changes) feedRows.push({ at: now, host: hostId, type, ...c });
  }

  /** One host's change-feed rows of one collection or document, in the feed's order (feedOrder). */
  private appendChanges(rows: FeedRow[]): void {
    if (rows.length === 0) return;
    rows.sort(feedOrder);
    const change = this.stmt('INSERT INTO fact_changes (at, host_id, type, subtype, change, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const c of rows) change.run(c.at, c.host, c.type, c.subtype, c.change, c.old, c.now);
  }

  /** Whether a collection of this host at `at` goes into the change feed (see inChangeFeed). */
  private changeFeedFor(hostId: number, at: string): boolean {
    return inChangeFeed((this.stmt('SELECT first_facts_at FROM hosts WHERE id = ?', true).get(hostId) as [string | null] | undefined)?.[0] ?? null, at);
  }

  /**
   * When this host's `type` was last observed (ISO), or null: its fact_types row (every successful
   * collection of the type writes it, also one that found nothing); for a history older than
   * migration 5 with no current fact, the last successful collection of the type (a document
   * older than that must not reopen stale values).
   */
  private lastObserved(hostId: number, type: string): string | null {
    const cur = this.stmt('SELECT last_seen AS t FROM fact_types WHERE host_id = ? AND type = ?').get(hostId, type) as { t: string | null } | undefined;
    if (cur && cur.t !== null) return cur.t;
    return (this.stmt(
      `SELECT MAX(a.finished_at) AS t FROM attempts a JOIN attempt_collections c ON c.attempt_id = a.id
        WHERE a.host_id = ? AND c.type = ? AND c.status = 'ok'`,
    ).get(hostId, type) as { t: string | null }).t;
  }

  /** The stored spelling of a pushed host name: exact, else the one host equal to it without regard to case. */
  private storedName(name: string): string {
    if (this.hostIds.has(name) || this.stmt(push.NAME_EXACT).get(name)) return name;
    const rows = this.stmt(push.NAME_FOLDED, true).all(name) as [string][];
    return rows.length === 1 ? rows[0]![0] : name;
  }

  /**
   * One document pushed by a host agent, in its own transaction: the host (created if new), an
   * attempt row under the ingest's runs row, the facts through the same interval logic as a run,
   * and sapi_at. A type last observed after the document's time is skipped, never overwritten,
   * and nothing newer is closed. The host's last_* and sapi_at only ever move forward.
   */
  recordPush(runId: number, doc: PushDocument): PushOutcome {
    const at = iso(doc.timestamp);
    const out: PushOutcome = { host: doc.host, storedTypes: [], skippedTypes: [] };
    this.write(`cannot store the document for ${doc.host}`, () => {
      out.host = this.storedName(doc.host);
      const hostId = this.hostId(out.host, at);
      this.stmt(push.FILL_HOST).run(...push.fillHostParams(doc, hostId, (x) => x ?? null));
      const a = push.pushAttempt(doc);
      const attemptId = Number(this.stmt(
        'INSERT INTO attempts (run_id, host_id, started_at, finished_at, duration_ms, outcome, code, message, output_bytes) VALUES (?, ?, ?, ?, 0, ?, ?, ?, 0)',
      ).run(runId, hostId, at, at, a.outcome, a.code, a.message).lastInsertRowid);
      const addCollection = this.stmt('INSERT INTO attempt_collections (attempt_id, type, status, exit_code, message, duration_ms) VALUES (?, ?, ?, NULL, ?, 0)');
      const feed = this.changeFeedFor(hostId, at);
      const feedRows: FeedRow[] = [];
      // A failed collection stores no facts (as in a run); the attempt keeps the agent's word.
      if (doc.ok) {
        for (const [type, values] of Object.entries(doc.data)) {
          const last = this.lastObserved(hostId, type);
          if (push.newerThanDocument(last, at)) {
            out.skippedTypes.push(type);
            addCollection.run(attemptId, type, 'skipped', push.skippedNote(last));
            continue;
          }
          addCollection.run(attemptId, type, 'ok', null);
          this.recordFacts(hostId, type, values, at, feed, feedRows, doc.digests?.[type]);
          out.storedTypes.push(type);
        }
        this.appendChanges(feedRows);
      }
      this.stmt(push.hostUpdateSql((n) => `@${n}`, firstFactsSet))
        .run(push.hostUpdateValues(doc, at, runId, hostId, out.storedTypes.length > 0, (x) => x));
    });
    return out;
  }

  async writeTogether<T>(parts: Parts<T>): Promise<PromiseSettledResult<T>[]> {
    this.now('cannot start a write', () => this.stmt('BEGIN IMMEDIATE').run());
    const out: PromiseSettledResult<T>[] = [];
    try {
      for await (const part of parts) {
        // Each part's store calls are synchronous here (their writes nest as savepoints); a part that
        // failed has already undone its own failed write, and keeps what it stored before (as ingest).
        try {
          out.push({ status: 'fulfilled', value: await part() });
        } catch (e) {
          out.push({ status: 'rejected', reason: e });
        }
      }
      this.now('cannot commit', () => this.stmt('COMMIT').run());
      return out;
    } catch (e) {
      this.forgetWrites();
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * Closed intervals last seen before `before`, oldest first, at most `batch` of them in one
   * transaction: copied to facts_archive (unless deleting), then deleted. Current facts are never
   * selected. Small batches keep a concurrent run's writer waiting milliseconds, not minutes.
   */
  pruneBatch(before: string, mode: PruneMode, batch: number): number {
    const pick = 'SELECT id FROM facts WHERE is_current = 0 AND last_seen < ? ORDER BY last_seen, id LIMIT ?';
    return this.write('cannot prune facts', () => {
      if (mode === 'archive') {
        this.stmt(`INSERT INTO facts_archive (id, host_id, type, subtype, value, first_seen, last_seen, closed_at, archived_at)
          SELECT id, host_id, type, subtype, value, first_seen, last_seen, closed_at, ? FROM facts WHERE id IN (${pick})`).run(iso(Date.now()), before, batch);
      }
      return this.stmt(`DELETE FROM facts WHERE id IN (${pick})`).run(before, batch).changes;
    });
  }

  // The analyze bookkeeping: analysis.ts.
  upsertAudits(audits: au.AuditMeta[], at: string): Map<string, number> { return this.analysis.upsertAudits(audits, at); }
  scanFacts(want: au.FactWant, sink: au.FactSink, hostIds?: readonly number[]): void { this.analysis.scanFacts(want, sink, hostIds); }
  openAuditResults(of?: { hosts: readonly number[]; audits: readonly number[] }): au.OpenResults { return this.analysis.openAuditResults(of); }
  analysisMark(): au.AnalysisMark { return this.analysis.analysisMark(); }
  writeAnalysis(w: au.AnalysisWrite): void { this.analysis.writeAnalysis(w); }

  integrityCheck(): string {
    return this.now('integrity check failed', () => (this.db.pragma('integrity_check', { simple: true }) as string));
  }

  close(): void {
    this.checkpoints?.postMessage('stop');
    this.checkpoints = undefined;
    this.db.close();
  }
}
