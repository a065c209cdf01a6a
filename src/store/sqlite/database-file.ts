// A SQLite database file as the store opens it: created 0600 in a 0700 folder, WAL, the pragmas a
// reader and a writer each need, migrated (a writer) or checked to be migrated (a reader), and
// its -wal and -shm files given its mode. Failures are StorageErrors naming the file.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError } from '../../core/errors.js';
import { isPostgresUrl } from '../database-url.js';
import { describeError, iso } from '../driver.js';
import { MIGRATIONS, schemaProblem } from '../migrations.js';

/** How much of the file a read-only handle maps into memory (address space, not memory used). */
const READ_MMAP_BYTES = 1 << 30;

/** Another process (gap-fix beside a run, a read command) may hold the write lock briefly. */
const BUSY_TIMEOUT_MS = 10_000;

/** The file opened for reading (it must exist) or for writing (created if missing). */
export function openDatabaseFile(file: string, readonly: boolean): Database.Database {
  // A URL here would become a folder named "postgresql:" (openAnyStore picks the backend).
  if (isPostgresUrl(file)) throw new StorageError(`${file}: a PostgreSQL URL is not a SQLite file`);
  let db: Database.Database | undefined;
  try {
    if (readonly) {
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
    return db;
  } catch (e) {
    try { db?.close(); } catch { /* already broken */ }
    throw openFailure(file, e, readonly);
  }
}

/** A failure to open, set up or migrate the file as a StorageError naming it (and, for a writer, what keeps its folder from taking writes). */
export function openFailure(file: string, e: unknown, readonly: boolean): StorageError {
  return e instanceof StorageError ? e : new StorageError(`${file}: cannot open the database: ${describeError(e)}${readonly ? '' : folderHint(file)}`);
}

/** Applies the migrations not applied yet, each in its own IMMEDIATE transaction. */
export function migrate(db: Database.Database, file: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = db.prepare('SELECT version FROM schema_migrations WHERE version = ?');
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  const problem = schemaProblem(file, Math.max(0, ...done), false);
  if (problem) throw new StorageError(problem);
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      // Another process opening the same new file (a run and an ingest started together) may
      // have applied it since we looked; under the write lock the answer is final.
      if (applied.get(m.version)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, iso(Date.now()));
    }).immediate();
  }
}

/** A reader never migrates; the queries need the newest schema. */
export function checkSchema(db: Database.Database, file: string): void {
  const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  const newest = table ? (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0 : undefined;
  const problem = schemaProblem(file, newest, true);
  if (problem) throw new StorageError(problem);
}

/**
 * SQLite already creates -wal and -shm with the database file's mode; this makes sure of it for
 * files left by an older or foreign writer (they hold the same data as the database).
 */
export function matchSidecarModes(file: string): void {
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
