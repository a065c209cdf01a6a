// The SQLite engine: WAL (readers never block the one writer), batched transactions, prepared
// statements, parameterised SQL only. The rules shared with PostgreSQL are in ../sql-store.ts,
// ../intervals.ts and ../push-rules.ts; here are opening and migrating a file, transactions, and
// the batch writes done as prepared statements in one transaction. Every failure surfaces as
// StorageError (exit 74).
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { StorageError } from '../../core/errors.js';
import type { InventoryHost } from '../../inventory/host.js';
import type { HostResult } from '../../core/results.js';
import * as au from '../audit-store.js';
import { isPostgresUrl } from '../database-url.js';
import { valuesDigest } from '../digest.js';
import { asStorageError, describeError, iso } from '../driver.js';
import { diffCurrent, feedOrder, seenValues, type FeedRow } from '../intervals.js';
import { firstFactsSet, inChangeFeed, MIGRATIONS, schemaProblem } from '../migrations.js';
import * as push from '../push-rules.js';
import { SqlStore } from '../sql-store.js';
import type { Parts, PruneMode, PushDocument, PushOutcome } from '../store.js';
import { SQLITE_WORDS, SqliteDriver } from './driver.js';
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

/** How much of the file a read-only handle maps into memory (address space, not memory used). */
const READ_MMAP_BYTES = 1 << 30;

/** Another process (gap-fix beside a run, a read command) may hold the write lock briefly. */
const BUSY_TIMEOUT_MS = 10_000;

export class SqliteStore extends SqlStore {
  readonly dialect = 'sqlite';
  private readonly hostIds = new Map<string, number>();
  /** the current facts this handle wrote last (opened with longLived: serve's writer) */
  private readonly current: CurrentFacts | undefined;

  /** the thread that checkpoints the log (opened with longLived) */
  private checkpoints: Worker | undefined;

  private constructor(private readonly db: Database.Database, private readonly driver: SqliteDriver, longLived = false) {
    super(driver);
    this.current = longLived ? new CurrentFacts() : undefined;
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
    const fail = (e: unknown): never => {
      throw new StorageError(`${file}: cannot open the database: ${describeError(e)}${opts.readonly ? '' : folderHint(file)}`);
    };
    // A URL here would become a folder named "postgresql:" (openAnyStore picks the backend).
    if (isPostgresUrl(file)) throw new StorageError(`${file}: a PostgreSQL URL is not a SQLite file`);
    let db: Database.Database | undefined;
    try {
      if (opts.readonly) {
        db = new Database(file, { readonly: true, fileMustExist: true });
        // Reads through memory-mapped pages, not a read() call each: a query over every host's fact
        // touches a page of the facts table per host (measured on 10,000 hosts: 52 -> 21 ms).
        db.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
      } else {
        const dir = path.dirname(file);
        if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        // Create the file ourselves so it is 0600 from its first byte (SQLite would use the umask);
        // SQLite gives its -wal and -shm files the database file's mode.
        if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
        db = new Database(file);
        // Before anything that writes: switching a fresh file to WAL and migrating it take the write
        // lock, which a run or ingest started at the same moment may hold for a few milliseconds.
        db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
      }
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const longLived = opts.longLived === true && !opts.readonly;
      const store = new SqliteStore(db, new SqliteDriver(file, db), longLived);
      if (!opts.readonly) {
        store.migrate();
        matchSidecarModes(file);
        if (longLived) store.checkpointAside();
      } else store.checkSchema();
      return store;
    } catch (e) {
      try { db?.close(); } catch { /* already broken */ }
      if (e instanceof StorageError) throw e;
      return fail(e);
    }
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = this.db.prepare('SELECT version FROM schema_migrations WHERE version = ?');
    const done = new Set((this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
    const problem = schemaProblem(this.path, Math.max(0, ...done), false);
    if (problem) throw new StorageError(problem);
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        // Another process opening the same new file (a run and an ingest started together) may
        // have applied it since we looked; under the write lock the answer is final.
        if (applied.get(m.version)) return;
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, iso(Date.now()));
      }).immediate();
    }
  }

  private checkSchema(): void {
    const table = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    // A reader never migrates; the queries need the newest schema.
    const newest = table ? (this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0 : undefined;
    const problem = schemaProblem(this.path, newest, true);
    if (problem) throw new StorageError(problem);
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
   * for another writer) instead of failing half-way when it upgrades from a read. On failure the
   * host-id cache is dropped: ids of hosts inserted by the rolled-back transaction are gone.
   */
  private write<T>(what: string, fn: () => T): T {
    return this.now(what, () => {
      try {
        return this.db.transaction(fn).immediate();
      } catch (e) {
        this.hostIds.clear();
        this.current?.clear();
        throw e;
      }
    });
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
    this.current?.validate((this.stmt('PRAGMA data_version', true).get() as unknown[] | undefined)?.[0]);
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
      this.hostIds.clear();
      this.current?.clear();
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

  upsertAudits(audits: au.AuditMeta[], at: string): Map<string, number> {
    return this.write('cannot record the audits', () => {
      const up = this.stmt(
        `INSERT INTO audits (name, vuln_name, file, line, priority, short_description, long_description, primary_link, links, first_seen, active)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT (name) DO UPDATE SET vuln_name = excluded.vuln_name, file = excluded.file, line = excluded.line, priority = excluded.priority,
           short_description = excluded.short_description, long_description = excluded.long_description, primary_link = excluded.primary_link,
           links = excluded.links, active = 1`);
      for (const a of audits) {
        up.run(a.name, a.vulnName, a.file, a.line, a.priority, a.shortDescription, a.longDescription, a.primaryLink, JSON.stringify(a.links), at);
      }
      this.stmt('UPDATE audits SET active = 0 WHERE active = 1 AND name NOT IN (SELECT value FROM json_each(?))').run(JSON.stringify(audits.map((a) => a.name)));
      const ids = new Map<string, number>();
      for (const [id, name] of this.stmt('SELECT id, name FROM audits WHERE active = 1', true).all() as [number, string][]) ids.set(name, id);
      return ids;
    });
  }

  scanFacts(want: au.FactWant, sink: au.FactSink, hostIds?: readonly number[]): void {
    this.now('cannot read facts', () => {
      if (hostIds) {
        // A few hosts: their current facts of the types read, through the host's index (facts_audit
        // would walk every host's facts of the type), the subtypes picked here.
        const types = JSON.stringify([...want.pairs.keys(), ...want.wholeTypes]);
        const of = this.stmt(`SELECT host_id, type, subtype, value FROM facts INDEXED BY facts_host_type
          WHERE host_id IN (SELECT value FROM json_each(?)) AND type IN (SELECT value FROM json_each(?)) AND is_current = 1`, true);
        for (let i = 0; i < hostIds.length; i += 500) {
          for (const [h, t, s, v] of of.iterate(JSON.stringify(hostIds.slice(i, i + 500)), types) as Iterable<[number, string, string, string]>) {
            if (want.wholeTypes.has(t) || want.pairs.get(t)?.has(s)) sink(h, t, s, v);
          }
        }
        return;
      }
      // facts_audit (type, subtype, value) finds them; rows as arrays, one at a time (millions on a big fleet).
      const some = this.stmt('SELECT host_id, subtype, value FROM facts WHERE type = ? AND subtype IN (SELECT value FROM json_each(?)) AND is_current = 1', true);
      const whole = this.stmt('SELECT host_id, subtype, value FROM facts WHERE type = ? AND is_current = 1', true);
      for (const [type, subtypes] of want.pairs) {
        for (const [h, s, v] of some.iterate(type, JSON.stringify([...subtypes])) as Iterable<[number, string, string]>) sink(h, type, s, v);
      }
      for (const type of want.wholeTypes) {
        for (const [h, s, v] of whole.iterate(type) as Iterable<[number, string, string]>) sink(h, type, s, v);
      }
    });
  }

  openAuditResults(of?: { hosts: readonly number[]; audits: readonly number[] }): au.OpenResults {
    return this.now('cannot read audit results', () => {
      const out: au.OpenResults = { ids: [], audits: [], hosts: [], results: [] };
      const rows = of
        ? this.stmt(au.openResultsOfSql(SQLITE_WORDS), true).iterate(JSON.stringify(of.hosts), JSON.stringify(of.audits))
        : this.stmt('SELECT id, audit_id, host_id, result FROM audit_results WHERE is_current = 1', true).iterate();
      for (const [id, a, h, r] of rows as Iterable<[number, number, number, string]>) {
        out.ids.push(id); out.audits.push(a); out.hosts.push(h); out.results.push(r);
      }
      return out;
    });
  }

  /** One writer at a time, and a row's id is larger than every committed one: the newest ids are the mark. */
  analysisMark(): au.AnalysisMark {
    return this.now('cannot read facts', () => {
      const [facts, changes] = this.stmt('SELECT (SELECT MAX(id) FROM facts), (SELECT MAX(id) FROM fact_changes)', true).get() as [number | null, number | null];
      return { facts: facts ?? 0, changes: changes ?? 0 };
    });
  }

  writeAnalysis(w: au.AnalysisWrite): void {
    this.write('cannot store the analysis (nothing of it was written)', () => {
      const close = this.stmt('UPDATE audit_results SET is_current = 0, closed_at = ?, last_seen = ? WHERE id = ?');
      for (let i = 0; i < w.close.ids.length; i++) close.run(w.at, w.close.lastSeen[i], w.close.ids[i]);
      const open = this.stmt('INSERT INTO audit_results (audit_id, host_id, result, bucket, first_seen, last_seen, is_current) VALUES (?, ?, ?, ?, ?, ?, 1)');
      for (let i = 0; i < w.open.audits.length; i++) open.run(w.open.audits[i], w.open.hosts[i], w.open.results[i], w.open.buckets[i], w.at, w.at);
      const host = this.stmt('UPDATE hosts SET audited_at = ? WHERE id = ?');
      for (const id of w.evaluatedHosts) host.run(w.at, id);
      const audit = this.stmt('UPDATE audits SET last_analyzed = ?, digest = ? WHERE id = ?');
      for (let i = 0; i < w.analyzedAudits.length; i++) audit.run(w.at, w.analyzedDigests[i], w.analyzedAudits[i]);
      const col = this.stmt('INSERT INTO audit_collate (run_id, audit_id, pop, srvtype, result, hosts) VALUES (?, ?, ?, ?, ?, ?)');
      const c = w.collate;
      for (let i = 0; i < c.audits.length; i++) col.run(w.runId, c.audits[i], c.pops[i], c.srvtypes[i], c.results[i], c.hosts[i]);
      this.stmt('UPDATE analyze_runs SET finished_at = ?, exit_code = ?, summary = ?, facts_through = ?, changes_through = ? WHERE id = ?')
        .run(w.finishedAt, w.exitCode, w.summary, w.mark.facts, w.mark.changes, w.runId);
    });
  }

  integrityCheck(): string {
    return this.now('integrity check failed', () => (this.db.pragma('integrity_check', { simple: true }) as string));
  }

  close(): void {
    this.checkpoints?.postMessage('stop');
    this.checkpoints = undefined;
    this.db.close();
  }
}

/**
 * SQLite already creates -wal and -shm with the database file's mode; this makes sure of it for
 * files left by an older or foreign writer (they hold the same data as the database).
 */
function matchSidecarModes(file: string): void {
  const mode = fs.statSync(file).mode & 0o666;
  for (const suffix of ['-wal', '-shm']) {
    try {
      if ((fs.statSync(file + suffix).mode & 0o777) !== mode) fs.chmodSync(file + suffix, mode);
    } catch {
      // Absent (SQLite will create it with the file's mode) or owned by another user: nothing to do.
    }
  }
}

/** Why a database folder cannot take writes, when the file system says so (SQLite only says CANTOPEN). */
function folderHint(file: string): string {
  try {
    fs.accessSync(path.dirname(file), fs.constants.W_OK);
    return '';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return ` (${path.dirname(file)} is on a read-only file system)`;
    if (code === 'EACCES') return ` (${path.dirname(file)} is not writable by this user)`;
    return '';
  }
}
