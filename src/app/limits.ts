// Process limits the run must fit inside.
import fs from 'node:fs';

/** The soft RLIMIT_NOFILE, from /proc (Node has no API for it); undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    const text = fs.readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m || m[1] === 'unlimited') return undefined;
    return Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * Measured: a run with one worker thread and one host holds 33 descriptors (stdio, SQLite's db,
 * -wal and -shm, the lock, each thread's event loop); each worker thread adds a few. A pipeline
 * holds one socket, but a finished host's socket may still be closing while the next host's
 * opens: at 153 pipelines under `ulimit -n 256` the process peaked at 225+ descriptors and one
 * host failed with EMFILE. So: a fixed spare plus some per worker, and two per pipeline.
 */
export function clampThreads(threads: number, limit: number | undefined, workers: number): number {
  if (limit === undefined) return threads;
  const spare = 48 + 8 * workers;
  return Math.max(1, Math.min(threads, Math.floor((limit - spare) / 2)));
}
