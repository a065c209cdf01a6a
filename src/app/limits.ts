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
 * Each pipeline holds one socket (plus a little slack for DNS and the channel); the process also
 * needs descriptors for SQLite (db, -wal, -shm), the lock, threads and stdio: keep 64 spare.
 */
export function clampThreads(threads: number, limit: number | undefined): number {
  if (limit === undefined) return threads;
  return Math.max(1, Math.min(threads, Math.floor((limit - 64) / 1.25)));
}
