// A thread of a long-lived SQLite writer (serve's, see SqliteStore.open `longLived`): copies the
// write-ahead log back into the database file (PASSIVE checkpoints: they never block the writer or
// a reader) every CHECKPOINT_EVERY_MS, so the writer's commits do not. A checkpoint writes every
// page the log holds and syncs the file; on the writer's thread it was about a fifth of a push's
// time (measured: 3.5 -> 2.7 ms a push with 64 agents). The writer keeps a checkpoint of its own
// for a log past BACKSTOP_PAGES, should this thread fall behind or stop.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * A page written again before the next checkpoint is copied once: every 250 ms a push cost `serve`
 * 5.75-5.98 ms of CPU against 6.42-6.60 every 50 ms, and 247-257 documents/s against 234-244 (two
 * readers; without them 324-335 against 314-321; bench/serve.mjs, 20 s runs on an idle 2-core
 * machine). Over 60 s loads the throughput measured the same and the CPU 5 % less; at 200/s
 * offered the p50 was higher (118 against 74 ms) and the p99 alike (433 against 405). At 1 s the
 * log neared the writer's own backstop and it measured worse again.
 */
export const CHECKPOINT_EVERY_MS = 250;

const { file } = workerData as { file: string };
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 100');
let stopping = false;
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // A busy or broken file: the next round, or the writer's own checkpoint, does it.
  }
}, CHECKPOINT_EVERY_MS);
parentPort?.on('message', (m: unknown) => {
  if (m !== 'stop' || stopping) return;
  stopping = true;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
