// `migrate`: copy a SQLite store's whole history into a PostgreSQL store, ids as they are, in
// batches of one target transaction each. Progress is kept in the target (migrate_progress),
// written in the same transaction as the rows it counts, so a copy killed at any point resumes
// where it stopped and never writes a row twice. The source is read inside one read transaction:
// a collection writing to it meanwhile is not blocked, and the copy is of one instant.
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { advisoryKey } from '../lock/pg-lock.js';
import { ADVISORY_CLASS, PgStore, displayUrl } from '../store/postgres/store.js';
import { isDatabaseFile, MIGRATE_BATCH } from '../store/database.js';
import { openStore } from '../store/store.js';
import { LockHeldError, StorageError, UsageError } from '../core/errors.js';
import { withoutNul } from '../collections/parse.js';

/** A long copy says how far it is at least this often. */
const PROGRESS_EVERY_MS = 10_000;
/** Text a batch may carry (values can be megabytes): a batch ends early past this, after at least one row. */
const BATCH_BYTES = 64 * 1024 * 1024;
/** The second key of the advisory lock two migrates cannot hold at once. */
const MIGRATE_LOCK = advisoryKey('migrate');

/** The tables copied, in an order their references allow. run_locks is live state: never copied. */
export const COPIED_TABLES = ['hosts', 'runs', 'attempts', 'attempt_collections', 'facts', 'fact_types', 'facts_archive', 'fact_changes'] as const;
type Table = (typeof COPIED_TABLES)[number];

export interface MigrateRequest {
  /** the SQLite file */
  from: string;
  /** postgresql://user@host:port/db, no password */
  to: string;
  batch?: number;
  /** a human progress line (stderr) */
  onProgress?: (line: string) => void;
}

export interface MigrateSummary {
  from: string;
  to: string;
  /** how the target's migrate_progress names this source: real path and inode */
  source_id: string;
  tables: Record<string, { source: number; target: number }>;
  /** rows written by this invocation */
  copied: number;
  /** an earlier migrate of this source had started (or finished) the copy */
  resumed: boolean;
  verified: boolean;
  elapsed_s: number;
}

/** PostgreSQL text cannot hold NUL: U+FFFD, as the PostgreSQL store writes it. */
const clean = (v: unknown): unknown => (typeof v === 'string' ? withoutNul(v) : v);

type PgType = 'bigint' | 'int' | 'text';
interface Column { name: string; type: PgType }
/** One batch: rows per table (as column-ordered arrays) and the key it ends at. */
interface Batch { lastKey: number; rows: Partial<Record<Table, unknown[][]>> }

/** How one unit is read from SQLite in key order: a table, or attempts with their collections. */
interface Unit { name: Table; tables: Table[]; next(after: number, limit: number): Batch | undefined }

const n = (x: number) => x.toLocaleString('en');

/** Up to `limit` rows of a raw statement, fewer when their text passes BATCH_BYTES. */
function take(s: Database.Statement<unknown[]>, after: number, limit: number): unknown[][] {
  const rows: unknown[][] = [];
  let bytes = 0;
  for (const r of s.iterate(after, limit) as IterableIterator<unknown[]>) {
    rows.push(r);
    for (const v of r) if (typeof v === 'string') bytes += v.length;
    if (bytes > BATCH_BYTES) break;
  }
  return rows;
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return `${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`;
}

/** Its real path and inode: the same file resumes, a copy or restore of it is another source. */
export function sourceId(file: string): string {
  const real = fs.realpathSync(file);
  return `${real}#inode:${fs.statSync(real).ino}`;
}

function units(db: Database.Database, cols: Record<Table, Column[]>, collectionsPerAttempt: number): Unit[] {
  const list = (t: Table) => cols[t].map((c) => c.name).join(', ');
  const raw = (sql: string) => db.prepare(sql).raw(true);
  const byId = (t: Table): Unit => {
    const s = raw(`SELECT ${list(t)} FROM ${t} WHERE id > ? ORDER BY id LIMIT ?`);
    const idAt = cols[t].findIndex((c) => c.name === 'id');
    return {
      name: t, tables: [t], next(after, limit) {
        const rows = take(s, after, limit);
        return rows.length ? { lastKey: Number(rows[rows.length - 1]![idAt]), rows: { [t]: rows } } : undefined;
      },
    };
  };
  const attempts = byId('attempts');
  const collections = raw(`SELECT ${list('attempt_collections')} FROM attempt_collections WHERE attempt_id > ? AND attempt_id <= ? ORDER BY attempt_id, rowid`);
  // fact_types is keyed by (host_id, type): a batch ends at a host boundary, so the key is a host id.
  const typeEnd = raw('SELECT host_id FROM fact_types WHERE host_id > ? ORDER BY host_id, type LIMIT 1 OFFSET ?');
  const types = raw(`SELECT ${list('fact_types')} FROM fact_types WHERE host_id > ? AND host_id <= ? ORDER BY host_id, type`);
  const typesMax = raw('SELECT MAX(host_id) FROM fact_types');
  // facts_archive.id is the archived fact's id and not unique: SQLite's rowid orders it.
  const archive = raw(`SELECT rowid, ${list('facts_archive')} FROM facts_archive WHERE rowid > ? ORDER BY rowid LIMIT ?`);
  return [
    byId('hosts'),
    byId('runs'),
    {
      name: 'attempts', tables: ['attempts', 'attempt_collections'], next(after, limit) {
        // Each attempt brings its collections: fewer attempts a batch keep the transaction near `limit` rows.
        const b = attempts.next(after, Math.max(1, Math.floor(limit / (1 + collectionsPerAttempt))));
        if (b) b.rows.attempt_collections = collections.all(after, b.lastKey) as unknown[][];
        return b;
      },
    },
    byId('facts'),
    {
      name: 'fact_types', tables: ['fact_types'], next(after, limit) {
        const end = (typeEnd.get(after, limit - 1) as unknown[] | undefined)?.[0] ?? (typesMax.get() as unknown[])[0];
        if (end === null || end === undefined || Number(end) <= after) return undefined;
        const rows = types.all(after, end) as unknown[][];
        return rows.length ? { lastKey: Number(end), rows: { fact_types: rows } } : undefined;
      },
    },
    byId('fact_changes'),
    {
      name: 'facts_archive', tables: ['facts_archive'], next(after, limit) {
        const rows = take(archive, after, limit);
        if (!rows.length) return undefined;
        return { lastKey: Number(rows[rows.length - 1]![0]), rows: { facts_archive: rows.map((r) => r.slice(1)) } };
      },
    },
  ];
}

/** Row counts and newest keys and times of the source: its counts for the check, and a fingerprint of its state. */
function sourceState(db: Database.Database): { counts: Record<string, number>; state: string } {
  const one = (sql: string) => (db.prepare(sql).raw(true).get() as unknown[])[0];
  const counts: Record<string, number> = {};
  for (const t of COPIED_TABLES) counts[t] = Number(one(`SELECT COUNT(*) FROM ${t}`));
  counts.facts_current = Number(one('SELECT COUNT(*) FROM facts WHERE is_current = 1'));
  const state = JSON.stringify({
    counts,
    max: ['hosts', 'runs', 'attempts', 'facts'].map((t) => one(`SELECT MAX(id) FROM ${t}`)),
    times: [one('SELECT MAX(finished_at) FROM runs'), one('SELECT MAX(last_attempt_at) FROM hosts'), one('SELECT MAX(last_seen) FROM fact_types')],
  });
  return { counts, state };
}

/** Column names and types, which must be the same on both sides (both are at the newest schema). */
async function columns(db: Database.Database, c: pg.Client): Promise<Record<Table, Column[]>> {
  const out = {} as Record<Table, Column[]>;
  for (const t of COPIED_TABLES) {
    const target = (await c.query<{ column_name: string; data_type: string }>(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position', [t])).rows;
    const source = new Set((db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((r) => r.name));
    const types: Record<string, PgType> = { bigint: 'bigint', integer: 'int', text: 'text' };
    const cols = target.map((r) => ({ name: r.column_name, type: types[r.data_type] }));
    const names = cols.map((x) => x.name);
    if (names.length !== source.size || names.some((x) => !source.has(x)) || cols.some((x) => !x.type)) {
      throw new StorageError(`${t}: the columns differ: SQLite has ${[...source].join(', ')}; PostgreSQL has ${target.map((r) => `${r.column_name} ${r.data_type}`).join(', ')}`);
    }
    out[t] = cols as Column[];
  }
  return out;
}

const PROGRESS_TABLE = `CREATE TABLE IF NOT EXISTS migrate_progress (
  source TEXT NOT NULL, tbl TEXT NOT NULL, last_key BIGINT NOT NULL, rows BIGINT NOT NULL,
  state TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (source, tbl))`;
/** The row holding the source's state when the copy began (tbl names no table). */
const STATE_ROW = '*';

/** The target connection with errors as StorageError naming the URL and what failed. */
type Q = <R extends pg.QueryResultRow>(what: string, sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;
interface ProgressRow { tbl: string; last_key: number; rows: number; state: string | null; updated_at: string }

export async function migrateToPostgres(req: MigrateRequest): Promise<MigrateSummary> {
  const started = Date.now();
  const say = req.onProgress ?? (() => undefined);
  if (!fs.existsSync(req.from)) throw new StorageError(`no database at ${req.from}: nothing to migrate`);
  const id = sourceId(req.from);
  const source = openStore(req.from, { readonly: true });
  const db = source.database;
  let target: PgStore | undefined;
  try {
    // One read transaction for the whole copy: every batch and the final counts see one instant.
    db.exec('BEGIN');
    const { counts, state } = sourceState(db);
    if (isDatabaseFile(req.to)) throw new UsageError(`--to ${displayUrl(req.to)}: not a PostgreSQL URL`);
    target = await PgStore.open(req.to);
    const c = target.connection;
    const shown = displayUrl(req.to);
    const q: Q = async (what, sql, params = []) => {
      try { return await c.query(sql, params); } catch (e) { throw new StorageError(`${shown}: ${what}: ${describe(e)}`); }
    };
    await q('cannot name the connection', "SET application_name = 'jellyfish migrate'");
    await takeLock(q, shown);
    await q('cannot create migrate_progress', PROGRESS_TABLE);
    const progress = new Map((await q<ProgressRow>('cannot read migrate_progress',
      'SELECT tbl, last_key, rows, state, updated_at FROM migrate_progress WHERE source = $1', [id])).rows.map((r) => [r.tbl, r]));
    const resumed = progress.size > 0;
    if (!resumed) {
      await refuseForeignData(q, shown, req.from);
      await q('cannot write migrate_progress', 'INSERT INTO migrate_progress (source, tbl, last_key, rows, state, updated_at) VALUES ($1, $2, 0, $3, $4, $5)',
        [id, STATE_ROW, COPIED_TABLES.reduce((a, t) => a + counts[t]!, 0), state, new Date().toISOString()]);
    } else {
      const began = progress.get(STATE_ROW);
      if (began?.state !== state) {
        throw new StorageError(`${req.from} has been written since the copy into ${shown} began (${began?.updated_at ?? 'earlier'}): the copy would miss those changes. `
          + 'Stop every collector writing to the SQLite file, drop and re-create the PostgreSQL database (or use an empty one), and migrate again');
      }
      say(`continuing the copy begun ${began.updated_at}`);
    }
    const cols = await columns(db, c);
    const perAttempt = counts.attempts ? counts.attempt_collections! / counts.attempts : 0;
    const tally = { copied: 0, started, lastSaid: Date.now() };
    for (const u of units(db, cols, perAttempt)) {
      await copyUnit({ c, q, shown, id, batch: req.batch ?? MIGRATE_BATCH, cols, counts, say, tally }, u, progress);
    }
    await moveSequences(q);
    const tables: MigrateSummary['tables'] = {};
    const countOf = async (t: string, where = '') => Number((await q<{ n: number }>(`cannot count ${t}`, `SELECT COUNT(*) AS n FROM ${t}${where}`)).rows[0]!.n);
    for (const t of COPIED_TABLES) tables[t] = { source: counts[t]!, target: await countOf(t) };
    tables.facts_current = { source: counts.facts_current!, target: await countOf('facts', ' WHERE is_current = 1') };
    await q('cannot release the migrate lock', 'SELECT pg_advisory_unlock($1, $2)', [ADVISORY_CLASS, MIGRATE_LOCK]);
    return {
      from: req.from, to: shown, source_id: id, tables, copied: tally.copied, resumed,
      verified: Object.values(tables).every((x) => x.source === x.target),
      elapsed_s: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    try { if (db.inTransaction) db.exec('COMMIT'); } catch { /* read-only: nothing to keep */ }
    source.close();
    await target?.close();
  }
}

/** Session-level, on the copying connection: a migrate that dies frees it with its connection. */
async function takeLock(q: Q, shown: string): Promise<void> {
  if ((await q<{ ok: boolean }>('cannot take the migrate lock', 'SELECT pg_try_advisory_lock($1, $2) AS ok', [ADVISORY_CLASS, MIGRATE_LOCK])).rows[0]?.ok) return;
  const holder = (await q<Record<string, unknown>>('cannot read the lock holder',
    `SELECT a.pid AS backend_pid, a.application_name, host(a.client_addr) AS client_addr, a.backend_start::text AS backend_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = ($2::bigint & 4294967295)::oid AND l.objsubid = 2`,
    [ADVISORY_CLASS, MIGRATE_LOCK])).rows[0] ?? {};
  throw new LockHeldError(`${shown}: another jellyfish migrate is copying into this database`, holder);
}

interface CopyContext {
  c: pg.Client; q: Q; shown: string; id: string; batch: number;
  cols: Record<Table, Column[]>; counts: Record<string, number>; say: (line: string) => void;
  tally: { copied: number; started: number; lastSaid: number };
}

/** One unit from where its progress row says, a batch a transaction that also moves that row. */
async function copyUnit(x: CopyContext, u: Unit, progress: Map<string, ProgressRow>): Promise<void> {
  const t0 = Date.now();
  let key = Number(progress.get(u.name)?.last_key ?? 0);
  const had = u.tables.map((t) => Number(progress.get(t)?.rows ?? 0));
  const now = [...had];
  for (let b = u.next(key, x.batch); b; b = u.next(key, x.batch)) {
    const what = `cannot copy a batch of ${u.name} after key ${key} (nothing of it was written)`;
    await x.q(what, 'BEGIN');
    const sizes = u.tables.map((t) => b!.rows[t]?.length ?? 0);
    try {
      for (const [i, t] of u.tables.entries()) if (sizes[i]) await insert(x.c, t, x.cols[t], b.rows[t]!);
      await x.c.query(
        `INSERT INTO migrate_progress (source, tbl, last_key, rows, updated_at) SELECT $1, u.tbl, $3, u.n, $5 FROM unnest($2::text[], $4::bigint[]) AS u(tbl, n)
         ON CONFLICT (source, tbl) DO UPDATE SET last_key = excluded.last_key, rows = migrate_progress.rows + excluded.rows, updated_at = excluded.updated_at`,
        [x.id, u.tables, b.lastKey, sizes, new Date().toISOString()]);
      await x.c.query('COMMIT');
    } catch (e) {
      await x.c.query('ROLLBACK').catch(() => undefined);
      throw new StorageError(`${x.shown}: ${what}: ${describe(e)}`);
    }
    sizes.forEach((k, i) => { now[i]! += k; x.tally.copied += k; });
    key = b.lastKey;
    if (Date.now() - x.tally.lastSaid >= PROGRESS_EVERY_MS) {
      x.tally.lastSaid = Date.now();
      x.say(`${u.name}: ${n(now[0]!)} of ${n(x.counts[u.name]!)} rows; ${n(x.tally.copied)} rows copied in ${((Date.now() - x.tally.started) / 1000).toFixed(0)} s`);
    }
  }
  const secs = (Date.now() - t0) / 1000;
  const rows = now[0]! - had[0]!;
  const rate = rows > 0 && secs > 0 ? `, ${n(Math.round(rows / secs))} rows/s` : '';
  const also = u.tables.slice(1).map((t, i) => `, with ${n(now[i + 1]! - had[i + 1]!)} ${t}`).join('');
  x.say(`${u.name}: ${n(rows)} rows copied in ${secs.toFixed(1)} s${rate}${also} (${n(now[0]!)} of ${n(x.counts[u.name]!)})`);
}

/** A target that holds jellyfish data this source never wrote there: merging into it could only go wrong. */
async function refuseForeignData(q: Q, shown: string, from: string): Promise<void> {
  const held = (await q<{ hosts: number; runs: number; facts: number; other: number }>('cannot read the target',
    `SELECT (SELECT COUNT(*) FROM hosts) AS hosts, (SELECT COUNT(*) FROM runs) AS runs, (SELECT COUNT(*) FROM facts) AS facts,
            (SELECT COUNT(*) FROM (SELECT 1 FROM attempts UNION ALL SELECT 1 FROM facts_archive UNION ALL SELECT 1 FROM fact_types LIMIT 1) x) AS other`)).rows[0]!;
  if (Number(held.hosts) + Number(held.runs) + Number(held.facts) + Number(held.other) === 0) return;
  const others = (await q<{ source: string }>('cannot read migrate_progress', 'SELECT DISTINCT source FROM migrate_progress ORDER BY source')).rows.map((r) => r.source);
  throw new UsageError(`${shown} already holds jellyfish data that did not come from ${from} (${n(Number(held.hosts))} hosts, ${n(Number(held.runs))} runs, `
    + `${n(Number(held.facts))} facts${others.length ? `; copied from ${others.join(', ')}` : ''}): migrate into an empty database`);
}

/** One multi-row INSERT: one array a column, through unnest. */
async function insert(c: pg.Client, t: Table, cols: Column[], rows: unknown[][]): Promise<void> {
  const arrays = cols.map((col, i) => rows.map((r) => (col.type === 'text' ? clean(r[i]) : r[i])));
  const casts = cols.map((col, i) => `$${i + 1}::${col.type}[]`).join(', ');
  await c.query(`INSERT INTO ${t} (${cols.map((x) => x.name).join(', ')}) SELECT * FROM unnest(${casts})`, arrays);
}

/** Each identity past the largest id copied (never backwards), so the next insert gets a new id. */
async function moveSequences(q: Q): Promise<void> {
  for (const t of ['hosts', 'runs', 'attempts', 'facts', 'fact_changes']) {
    await q(`cannot move the id sequence of ${t}`,
      `SELECT setval(s.seq, m.id) FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS seq) s, (SELECT MAX(id) AS id FROM ${t}) m
        WHERE m.id IS NOT NULL AND m.id > COALESCE(pg_sequence_last_value(s.seq), 0)`, [t]);
  }
}
