// The status question: is a run or gap-fix active (from the lock files, or with PostgreSQL the
// advisory-lock holders), and how did the last run, gap-fix and ingest of each scope end (from the
// runs table). One function for every face: `status --format json` prints its answer as it is, the
// table and the csv/ndjson rows are made from it.
import fs from 'node:fs';
import os from 'node:os';
import type { Config } from '../config/load.js';
import { gapfixLockFile, modeLockFiles } from '../lock/lock-files.js';
import { lockState, readHolder } from '../lock/run-lock.js';
import type pg from 'pg';
import { databaseFileMissing, displayUrl, isDatabaseFile } from '../store/database.js';
import { RUN_MODES, type ModeRuns, type RunRecord } from '../store/queries.js';
import { openAnyStore, runLockConnection, type Store } from '../store/store.js';
import { StorageError } from '../core/errors.js';

// Types, not interfaces: the entries are also the csv/ndjson records (plain Record<string, unknown>).
export type ActiveRun = {
  mode: string; lockfile: string; pid?: number; host?: string; started_at?: string; elapsed_s?: number;
  /** a site collector's part of the inventory (`sites ams`), absent for the whole inventory */
  scope?: string;
  /** with PostgreSQL: the sites whose advisory locks it holds */
  sites?: string[];
  run_id?: number;
}
export type StaleLock = { mode: string; lockfile: string; pid?: number; host?: string; started_at?: string }

/** The newest finished run of one mode and scope, with the counts of its stored final JSON. */
export type FinishedRun = {
  mode: string; run_id: number; started_at: string; finished_at: string | null; exit_code: number | null;
  scope?: string; duration_s?: number;
  // a run's or gap-fix's four host lists
  success?: number; failed?: number; failed_prod?: number; sapi?: number; not_started?: number; timeout?: boolean; interrupted?: string;
  /** a limited run's --limit patterns (its counts are of the hosts they selected) */
  limit?: string[];
  // an ingest's documents
  stored?: number; rejected?: number;
}

/** A runs row without an end: running now (its lock holder or live pid says so), interrupted (killed), or unknown (another machine's ingest). */
export type UnfinishedRun = {
  mode: string; run_id: number; started_at: string; pid: number | null; host: string | null;
  state: 'running' | 'interrupted' | 'unknown';
  scope?: string;
}

/** Exactly what `status --format json` prints. */
export interface StatusView {
  active: ActiveRun[];
  stale_locks: StaleLock[];
  /** the SQLite file, or the PostgreSQL URL without its password */
  database: string;
  /** set when the database could not be read while a run was active (idle, that is a StorageError) */
  database_error?: string;
  last_runs: FinishedRun[];
  unfinished_runs: UnfinishedRun[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const elapsed = (startedAt: string | undefined, now: number): { elapsed_s?: number } => {
  const started = startedAt ? Date.parse(startedAt) : NaN;
  return Number.isFinite(started) ? { elapsed_s: Math.max(0, Math.round((now - started) / 1000)) } : {};
};

function readLocks(config: Config, now: number): { active: ActiveRun[]; stale: StaleLock[] } {
  const active: ActiveRun[] = [];
  const stale: StaleLock[] = [];
  for (const [mode, modeFile] of [['run', config.lockfile], ['gap-fix', gapfixLockFile(config)]] as const) for (const { file: lockfile, scope } of modeLockFiles(modeFile)) {
    const st = lockState(lockfile);
    if (st.held) {
      const h = st.holder;
      active.push({
        mode, lockfile,
        ...(h ? { pid: h.pid, host: h.hostname, started_at: h.started_at } : {}),
        ...elapsed(h?.started_at, now),
        ...(scope ? { scope } : {}),
      });
    } else if (fs.existsSync(`${lockfile}.lock`)) {
      // The lock directory of a killed holder: harmless (the next run of that mode takes it over), but worth a word.
      const h = readHolder(lockfile);
      stale.push({ mode, lockfile, ...(h ? { pid: h.pid, host: h.hostname, started_at: h.started_at } : {}) });
    }
  }
  return { active, stale };
}

/** Live collectors of a database that holds the run locks: one entry per process, with the sites it holds. */
async function pgActive(store: Store, connection: pg.Client, now: number): Promise<ActiveRun[]> {
  const { activePgHolders } = await import('../lock/pg-lock.js');
  const byHolder = new Map<string, ActiveRun & { sites: string[] }>();
  for (const h of await activePgHolders(connection)) {
    if (h.lock_key.includes(':shard:')) continue; // its site key names the site already
    const key = `${h.mode} ${h.hostname} ${h.pid} ${h.started_at}`;
    let a = byHolder.get(key);
    if (!a) {
      a = {
        mode: h.mode, lockfile: store.path, pid: h.pid, host: h.hostname, started_at: h.started_at, sites: [],
        ...elapsed(h.started_at, now),
        ...(h.scope ? { scope: h.scope } : {}), ...(h.run_id !== null ? { run_id: h.run_id } : {}),
      };
      byHolder.set(key, a);
    }
    a.sites.push(h.site);
  }
  return [...byHolder.values()];
}

/** Counts from the stored final JSON: a run's four host lists, or an ingest's documents. */
function counts(summary: Record<string, unknown> | null): Partial<FinishedRun> {
  if (!summary) return {};
  const num = (k: string) => (typeof summary[k] === 'number' ? summary[k] : undefined);
  if ('stored' in summary) {
    return { stored: num('stored'), rejected: Array.isArray(summary.rejected) ? summary.rejected.length : undefined } as Partial<FinishedRun>;
  }
  const limit = Array.isArray(summary.limit) ? { limit: summary.limit.map(String) } : {};
  return {
    ...limit,
    success: num('global_success_hosts'), failed: num('global_fail_hosts'), failed_prod: num('global_fail_prod'),
    sapi: num('sapi_hosts'), not_started: num('not_started_hosts'), timeout: 'Timeout' in summary,
    ...(typeof summary.Interrupted === 'string' ? { interrupted: summary.Interrupted } : {}),
  } as Partial<FinishedRun>;
}

function finishedEntry(r: RunRecord): FinishedRun {
  const took = r.finishedAt ? (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 : NaN;
  return {
    mode: r.mode, run_id: r.id, started_at: r.startedAt, finished_at: r.finishedAt, exit_code: r.exitCode,
    ...(r.scope ? { scope: r.scope } : {}),
    ...(Number.isFinite(took) ? { duration_s: Math.round(took * 10) / 10 } : {}),
    ...counts(r.summary),
  };
}

/** An unfinished runs row is running when its mode's lock holder or its live pid here says so; else it was killed. */
function unfinishedEntry(r: RunRecord, active: ActiveRun[]): UnfinishedRun {
  const here = r.hostname === os.hostname();
  const lockHolder = active.some((a) => a.mode === r.mode && ((a.pid === r.pid && a.host === r.hostname) || a.run_id === r.id));
  const state = lockHolder || (here && r.pid !== null && alive(r.pid)) ? 'running' : here || r.mode !== 'ingest' ? 'interrupted' : 'unknown';
  return { mode: r.mode, run_id: r.id, started_at: r.startedAt, pid: r.pid, host: r.hostname, state, ...(r.scope ? { scope: r.scope } : {}) };
}

/**
 * The status now. Reads only and never waits for a lock; without a database yet it still reports
 * the locks (and no run). `open` is how the store is opened (read-only), for a face that keeps its own.
 * Throws StorageError when the database is unreadable and nothing is active.
 */
export async function statusView(config: Config, opts: { now?: number; open?: (database: string) => Promise<Store> } = {}): Promise<StatusView> {
  const now = opts.now ?? Date.now();
  const shared = !isDatabaseFile(config.storage.database);
  // With PostgreSQL the locks live in the database (advisory locks per site), not in files.
  let { active, stale } = shared ? { active: [] as ActiveRun[], stale: [] as StaleLock[] } : readLocks(config, now);
  let runs: ModeRuns[] = [];
  let dbError: string | undefined;
  if (!databaseFileMissing(config.storage.database)) {
    try {
      const store = await (opts.open ?? ((db) => openAnyStore(db, { readonly: true })))(config.storage.database);
      try {
        runs = await store.lastRuns();
        const connection = runLockConnection(store);
        if (connection) active = await pgActive(store, connection, now);
      } finally { await store.close(); }
    } catch (e) {
      // While a run is active its exit 3 matters more (a script waits on it; a first run may be
      // creating the schema right now): say what failed and keep the answer. Idle: exit 74.
      // An empty PostgreSQL database is what a missing SQLite file is: nothing ran yet.
      const neverRan = shared && e instanceof StorageError && /no schema_migrations table/.test(e.message);
      if (!neverRan) {
        if (!(e instanceof StorageError) || active.length === 0) throw e;
        dbError = e.message;
      }
    }
  }
  return {
    active,
    stale_locks: stale,
    database: displayUrl(config.storage.database),
    ...(dbError ? { database_error: dbError } : {}),
    last_runs: runs.flatMap((m) => (m.lastFinished ? [finishedEntry(m.lastFinished)] : [])),
    unfinished_runs: runs.flatMap((m) => m.unfinished.map((u) => unfinishedEntry(u, active))),
  };
}

/** One mode and scope's runs, for the text form: its last finished run, then its unfinished ones. */
export interface RunGroup { mode: string; scope: string | undefined; finished: FinishedRun | undefined; unfinished: UnfinishedRun[] }

/**
 * The view's runs grouped by mode (run, gap-fix, ingest) and scope (the whole inventory first,
 * then the sites by name), the order the text form lists them in.
 */
export function runGroups(view: StatusView): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  const group = (mode: string, scope: string | undefined) => {
    const key = `${mode}\u0000${scope ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { mode, scope, finished: undefined, unfinished: [] }));
    return g;
  };
  for (const r of view.last_runs) group(r.mode, r.scope).finished = r;
  for (const r of view.unfinished_runs) group(r.mode, r.scope).unfinished.push(r);
  const modeRank = (m: string) => { const i = (RUN_MODES as readonly string[]).indexOf(m); return i < 0 ? RUN_MODES.length : i; };
  return [...groups.values()].sort((a, b) => modeRank(a.mode) - modeRank(b.mode)
    || (a.scope === undefined ? -1 : 0) - (b.scope === undefined ? -1 : 0)
    || ((a.scope ?? '') < (b.scope ?? '') ? -1 : (a.scope ?? '') > (b.scope ?? '') ? 1 : 0));
}
