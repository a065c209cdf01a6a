// The SQLite backend: WAL (readers never block the one writer), batched transactions, prepared
// statements, parameterised SQL only. Every failure surfaces as StorageError (exit 74).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError } from '../app/errors.js';
import type { InventoryHost } from '../inventory/host.js';
import type { HostResult } from '../pool/messages.js';
import { MIGRATIONS } from './migrations.js';
import type { FactRow, HostState, PushDocument, RunInfo, RunRow, Store } from './store.js';

const iso = (ms: number | Date): string => new Date(ms).toISOString();

/** Another process (gap-fix beside a run, a read command) may hold the write lock briefly. */
const BUSY_TIMEOUT_MS = 10_000;

type Stmt = Database.Statement<unknown[]>;

export class SqliteStore implements Store {
  private readonly hostIds = new Map<string, number>();
  private readonly stmts = new Map<string, Stmt>();

  private constructor(readonly path: string, private readonly db: Database.Database) {}

  /** The SQLite handle, for the SQLite-specific modules beside this one (read queries, ingest, prune). */
  get database(): Database.Database {
    return this.db;
  }

  static open(file: string, opts: { readonly?: boolean } = {}): SqliteStore {
    const fail = (e: unknown): never => {
      throw new StorageError(`${file}: cannot open the database: ${describe(e)}`);
    };
    let db: Database.Database | undefined;
    try {
      if (opts.readonly) {
        db = new Database(file, { readonly: true, fileMustExist: true });
      } else {
        const dir = path.dirname(file);
        if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        // Create the file ourselves so it is 0600 from its first byte (SQLite would use the umask);
        // SQLite gives its -wal and -shm files the database file's mode.
        if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
        db = new Database(file);
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
      }
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const store = new SqliteStore(file, db);
      if (!opts.readonly) store.migrate();
      else store.checkSchema();
      return store;
    } catch (e) {
      try { db?.close(); } catch { /* already broken */ }
      if (e instanceof StorageError) throw e;
      return fail(e);
    }
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set((this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, iso(Date.now()));
      }).immediate();
    }
  }

  private checkSchema(): void {
    const row = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!row) throw new StorageError(`${this.path}: not a jellyfish database (no schema_migrations table)`);
  }

  private stmt(sql: string): Stmt {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`${this.path}: ${what}: ${describe(e)}`);
    }
  }

  private hostId(name: string, now: string): number {
    const known = this.hostIds.get(name);
    if (known !== undefined) return known;
    const row = this.stmt('SELECT id FROM hosts WHERE name = ?').get(name) as { id: number } | undefined;
    const id = row?.id ?? Number(this.stmt('INSERT INTO hosts (name, first_seen_at) VALUES (?, ?)').run(name, now).lastInsertRowid);
    this.hostIds.set(name, id);
    return id;
  }

  beginRun(info: RunInfo): number {
    return this.guard('cannot record the run start', () => Number(
      this.stmt('INSERT INTO runs (mode, started_at, pid, hostname, threads, workers) VALUES (?, ?, ?, ?, ?, ?)')
        .run(info.mode, iso(info.startedAt), info.pid, info.hostname, info.threads, info.workers).lastInsertRowid,
    ));
  }

  upsertHosts(hosts: InventoryHost[]): void {
    const now = iso(Date.now());
    this.guard('cannot record the inventory', () => this.db.transaction(() => {
      const upd = this.stmt('UPDATE hosts SET srvtype = ?, pop = ?, status = ?, is_prod = ? WHERE id = ?');
      for (const h of hosts) upd.run(h.srvtype, h.pop, h.status, h.isProd ? 1 : 0, this.hostId(h.label, now));
    }).immediate());
  }

  lastSuccessByHost(): Map<string, number> {
    return this.guard('cannot read last successes', () => {
      const rows = this.stmt('SELECT name, last_success_at FROM hosts WHERE last_success_at IS NOT NULL').all() as { name: string; last_success_at: string }[];
      return new Map(rows.map((r) => [r.name, Date.parse(r.last_success_at)]));
    });
  }

  sapiHostsSince(sinceMs: number): Set<string> {
    return this.guard('cannot read agent hosts', () => {
      const rows = this.stmt('SELECT name FROM hosts WHERE sapi_at IS NOT NULL AND sapi_at >= ?').all(iso(sinceMs)) as { name: string }[];
      return new Set(rows.map((r) => r.name));
    });
  }

  recordResults(runId: number, results: HostResult[]): void {
    if (results.length === 0) return;
    this.guard(`cannot store a batch of ${results.length} host results (nothing of it was written)`, () => this.db.transaction(() => {
      for (const r of results) this.recordOne(runId, r);
    }).immediate());
  }

  private recordOne(runId: number, r: HostResult): void {
    const finished = iso(r.finishedAt);
    const hostId = this.hostId(r.label, finished);
    const attemptId = Number(this.stmt(
      'INSERT INTO attempts (run_id, host_id, started_at, finished_at, duration_ms, outcome, code, message, output_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(runId, hostId, iso(r.startedAt), finished, Math.max(0, r.finishedAt - r.startedAt), r.outcome, r.code ?? null, r.message ?? null, r.outputBytes).lastInsertRowid);
    const addCollection = this.stmt('INSERT INTO attempt_collections (attempt_id, type, status, exit_code, message, duration_ms) VALUES (?, ?, ?, ?, ?, ?)');
    for (const c of r.collections) {
      addCollection.run(attemptId, c.type, c.status, c.exitCode ?? null, c.message ?? null, c.durationMs);
      if (c.status === 'ok' && c.values) this.recordFacts(hostId, c.type, c.values, finished);
    }
    const success = r.outcome === 'ok' || r.outcome === 'partial';
    this.stmt(
      `UPDATE hosts SET last_attempt_at = ?, last_outcome = ?, last_code = ?, last_message = ?, last_run_id = ?,
         last_success_at = CASE WHEN ? = 1 THEN ? ELSE last_success_at END WHERE id = ?`,
    ).run(finished, r.outcome, r.code ?? null, r.message ?? null, runId, success ? 1 : 0, finished, hostId);
  }

  /**
   * Fact intervals: an unchanged value only moves last_seen; a new value opens a row; a current
   * value not seen now is closed at its old last_seen. Only types that were collected successfully
   * get here, so a failed collection never closes anything.
   */
  private recordFacts(hostId: number, type: string, values: Record<string, string>, now: string): void {
    const current = this.stmt('SELECT id, subtype, value FROM facts WHERE host_id = ? AND type = ? AND is_current = 1')
      .all(hostId, type) as { id: number; subtype: string; value: string }[];
    const seen = new Map(Object.entries(values));
    const closeRow = this.stmt('UPDATE facts SET is_current = 0 WHERE id = ?');
    for (const row of current) {
      if (seen.get(row.subtype) === row.value) seen.delete(row.subtype);
      else closeRow.run(row.id);
    }
    // Everything still current was seen again: one statement moves all their last_seen.
    if (current.length > 0) this.stmt('UPDATE facts SET last_seen = ? WHERE host_id = ? AND type = ? AND is_current = 1').run(now, hostId, type);
    const open = this.stmt('INSERT INTO facts (host_id, type, subtype, value, first_seen, last_seen, is_current) VALUES (?, ?, ?, ?, ?, ?, 1)');
    for (const [subtype, value] of seen) open.run(hostId, type, subtype, value, now, now);
  }

  /**
   * One document pushed by a host agent, in its own transaction: the host (created if new), an
   * attempt row, the facts through the same interval logic as a run, and sapi_at. A type whose
   * stored facts are newer than the document is skipped, never overwritten.
   */
  recordPush(runId: number, doc: PushDocument): { skippedTypes: string[] } {
    const at = iso(doc.timestamp);
    const skippedTypes: string[] = [];
    this.guard(`cannot store the document for ${doc.host}`, () => this.db.transaction(() => {
      const hostId = this.hostId(doc.host, at);
      if (doc.srvtype !== undefined || doc.pop !== undefined || doc.status !== undefined) {
        this.stmt('UPDATE hosts SET srvtype = COALESCE(?, srvtype), pop = COALESCE(?, pop), status = COALESCE(?, status) WHERE id = ?')
          .run(doc.srvtype ?? null, doc.pop ?? null, doc.status ?? null, hostId);
      }
      const outcome = doc.ok ? 'ok' : 'error';
      const attemptId = Number(this.stmt(
        'INSERT INTO attempts (run_id, host_id, started_at, finished_at, duration_ms, outcome, code, message, output_bytes) VALUES (?, ?, ?, ?, 0, ?, ?, ?, 0)',
      ).run(runId, hostId, at, at, outcome, doc.ok ? null : 'AGENT', doc.ok ? 'pushed by the host agent' : `agent reported status ${doc.statusText}`).lastInsertRowid);
      if (doc.ok) {
        const newest = this.stmt('SELECT MAX(last_seen) AS t FROM facts WHERE host_id = ? AND type = ? AND is_current = 1');
        for (const [type, values] of Object.entries(doc.data)) {
          const t = (newest.get(hostId, type) as { t: string | null }).t;
          if (t !== null && t > at) { skippedTypes.push(type); continue; }
          this.stmt('INSERT INTO attempt_collections (attempt_id, type, status, exit_code, message, duration_ms) VALUES (?, ?, ?, NULL, NULL, 0)').run(attemptId, type, 'ok');
          this.recordFacts(hostId, type, values, at);
        }
      }
      this.stmt(
        `UPDATE hosts SET sapi_at = CASE WHEN sapi_at IS NULL OR sapi_at < ? THEN ? ELSE sapi_at END,
           last_attempt_at = CASE WHEN last_attempt_at IS NULL OR last_attempt_at < ? THEN ? ELSE last_attempt_at END,
           last_outcome = CASE WHEN last_attempt_at IS NULL OR last_attempt_at <= ? THEN ? ELSE last_outcome END,
           last_success_at = CASE WHEN ? = 1 AND (last_success_at IS NULL OR last_success_at < ?) THEN ? ELSE last_success_at END
         WHERE id = ?`,
      ).run(at, at, at, at, at, outcome, doc.ok ? 1 : 0, at, at, hostId);
    }).immediate());
    return { skippedTypes };
  }

  /**
   * Closed intervals last seen before `before` go to facts_archive (or are deleted), at most
   * `batch` rows per transaction so a concurrent run's writer is never kept waiting long.
   */
  pruneBatch(before: string, mode: 'archive' | 'delete', batch: number): number {
    return this.guard('cannot prune facts', () => this.db.transaction(() => {
      const ids = (this.stmt('SELECT id FROM facts WHERE is_current = 0 AND last_seen < ? LIMIT ?').all(before, batch) as { id: number }[]).map((r) => r.id);
      if (ids.length === 0) return 0;
      const marks = ids.map(() => '?').join(',');
      if (mode === 'archive') {
        this.db.prepare(`INSERT INTO facts_archive (id, host_id, type, subtype, value, first_seen, last_seen, archived_at)
          SELECT id, host_id, type, subtype, value, first_seen, last_seen, ? FROM facts WHERE id IN (${marks})`).run(iso(Date.now()), ...ids);
      }
      this.db.prepare(`DELETE FROM facts WHERE id IN (${marks})`).run(...ids);
      return ids.length;
    }).immediate());
  }

  finishRun(runId: number, finishedAt: Date, exitCode: number, summaryJson: string): void {
    this.guard('cannot record the run end', () => {
      this.stmt('UPDATE runs SET finished_at = ?, exit_code = ?, summary = ? WHERE id = ?').run(iso(finishedAt), exitCode, summaryJson, runId);
    });
  }

  hostStates(): HostState[] {
    return this.guard('cannot read hosts', () => (this.stmt(
      'SELECT name, is_prod, last_attempt_at, last_success_at, last_outcome, last_code, last_message FROM hosts ORDER BY name',
    ).all() as Record<string, unknown>[]).map((r) => ({
      name: r.name as string,
      isProd: r.is_prod === 1,
      lastAttemptAt: r.last_attempt_at as string | null,
      lastSuccessAt: r.last_success_at as string | null,
      lastOutcome: r.last_outcome as string | null,
      lastCode: r.last_code as string | null,
      lastMessage: r.last_message as string | null,
    })));
  }

  currentFacts(host: string, type?: string): FactRow[] {
    return this.guard('cannot read facts', () => (this.stmt(
      `SELECT f.type, f.subtype, f.value, f.first_seen, f.last_seen FROM facts f JOIN hosts h ON h.id = f.host_id
        WHERE h.name = ? AND f.is_current = 1 AND (? IS NULL OR f.type = ?) ORDER BY f.type, f.subtype`,
    ).all(host, type ?? null, type ?? null) as Record<string, string>[]).map((r) => ({
      type: r.type as string, subtype: r.subtype as string, value: r.value as string, firstSeen: r.first_seen as string, lastSeen: r.last_seen as string,
    })));
  }

  lastRun(): RunRow | undefined {
    return this.guard('cannot read runs', () => {
      const r = this.stmt('SELECT id, mode, started_at, finished_at, exit_code, summary FROM runs ORDER BY id DESC LIMIT 1').get() as Record<string, unknown> | undefined;
      return r ? { id: r.id as number, mode: r.mode as string, startedAt: r.started_at as string, finishedAt: r.finished_at as string | null, exitCode: r.exit_code as number | null, summary: r.summary as string | null } : undefined;
    });
  }

  factRowCount(): number {
    return this.guard('cannot count facts', () => (this.stmt('SELECT COUNT(*) AS n FROM facts').get() as { n: number }).n);
  }

  integrityCheck(): string {
    return this.guard('integrity check failed', () => (this.db.pragma('integrity_check', { simple: true }) as string));
  }

  close(): void {
    this.db.close();
  }
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const code = err.code ? `${err.code}: ` : '';
  return `${code}${err.message ?? String(e)}`;
}
