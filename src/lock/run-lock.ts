// The run lock (SPEC §5): proper-lockfile's lock directory `<lockfile>.lock`, plus the holder's
// pid, host and start time written to `<lockfile>` itself (proper-lockfile removes its directory
// with a plain rmdir, so nothing may live inside it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { LockHeldError, StorageError } from '../core/errors.js';
import { writeFileAtomically } from '../app/safe-files.js';

/** A killed holder stops refreshing; after this long its lock is stale and taken over (SPEC: ≤ 60 s). */
export const STALE_MS = 30_000;
/** Refresh well inside the stale window so a busy event loop (a long SQLite batch) is not mistaken for death. */
export const UPDATE_MS = 5_000;
/** Before taking over a dead pid's lock, wait this long and re-read, in case a new holder is writing its details. */
const DEAD_HOLDER_RECHECK_MS = 300;
/** A lock with no holder's details is re-read after this long before it is taken over. */
const MISSING_HOLDER_RECHECK_MS = 1_000;

export interface LockHolder {
  pid: number;
  hostname: string;
  started_at: string;
  mode: string;
  /** a site collector's sites ('all' or absent: the whole inventory) */
  sites?: string[] | 'all';
  /** `K/N` when sharded */
  shard?: string;
}

export interface HeldLock {
  readonly file: string;
  readonly holder: LockHolder;
  release(): Promise<void>;
  /** record the run id beside the holder once the run row exists (locks kept in the database) */
  setRunId?(runId: number): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readHolder(file: string): LockHolder | undefined {
  try {
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return typeof data.pid === 'number' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the lock directory exists and is fresh (a live holder refreshes it). */
export function lockState(file: string): { held: boolean; holder?: LockHolder } {
  try {
    const st = fs.statSync(`${file}.lock`);
    const fresh = st.mtimeMs > Date.now() - STALE_MS;
    const holder = readHolder(file);
    const deadHere = holder !== undefined && holder.hostname === os.hostname() && !isAlive(holder.pid);
    return fresh && !deadHere ? { held: true, ...(holder ? { holder } : {}) } : { held: false };
  } catch {
    return { held: false };
  }
}

async function tryLock(file: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  return lockfile.lock(file, { realpath: false, stale: STALE_MS, update: UPDATE_MS, retries: 0, onCompromised });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Take the lock or throw LockHeldError (exit 75) naming the live holder. A lock whose holder pid
 * is dead on this machine is taken over at once; one from another machine once it is stale.
 */
export async function acquireLock(file: string, mode: string, onCompromised: (err: Error) => void, scope: Pick<LockHolder, 'sites' | 'shard'> = {}): Promise<HeldLock> {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StorageError(`${file}: cannot create the lock folder: ${(e as Error).message}`);
  }
  let release: () => Promise<void>;
  const compromised = (err: Error) => onCompromised(err);
  try {
    release = await tryLock(file, compromised);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ELOCKED') throw new StorageError(`${file}: cannot take the lock: ${err.message}`);
    const holder = readHolder(file);
    let takeOver = false;
    if (holder && holder.hostname === os.hostname() && !isAlive(holder.pid)) {
      await sleep(DEAD_HOLDER_RECHECK_MS);
      const again = readHolder(file);
      takeOver = again !== undefined && again.pid === holder.pid && again.started_at === holder.started_at;
    } else if (!holder) {
      // A lock without its holder's details: a live holder writes them right after taking it, so
      // one still missing them after the recheck was killed in between (kill -9 at start-up).
      await sleep(MISSING_HOLDER_RECHECK_MS);
      takeOver = readHolder(file) === undefined && fs.existsSync(`${file}.lock`);
    }
    if (!takeOver) {
      throw new LockHeldError(`${file}: a ${holder?.mode ?? 'run'} is already running (pid ${holder?.pid ?? '?'} on ${holder?.hostname ?? '?'} since ${holder?.started_at ?? '?'})`, { ...(holder ?? {}) });
    }
    try { fs.rmdirSync(`${file}.lock`); } catch { /* someone else removed it first */ }
    try {
      release = await tryLock(file, compromised);
    } catch (e2) {
      const h = readHolder(file);
      throw new LockHeldError(`${file}: a run took the lock first`, { ...(h ?? {}) });
    }
  }
  const holder: LockHolder = { pid: process.pid, hostname: os.hostname(), started_at: new Date().toISOString(), mode, ...scope };
  writeFileAtomically(file, JSON.stringify(holder) + '\n');
  let released = false;
  return {
    file,
    holder,
    async release() {
      if (released) return;
      released = true;
      const mine = readHolder(file);
      if (mine?.pid === process.pid && mine.started_at === holder.started_at) {
        try { fs.unlinkSync(file); } catch { /* already gone */ }
      }
      try { await release(); } catch { /* compromised or already released: nothing left to free */ }
    },
  };
}
