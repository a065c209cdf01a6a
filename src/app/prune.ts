// `prune`: closed fact intervals older than AGE leave the facts table, archived (facts_archive)
// or deleted, in bounded batches so a run writing at the same time is never held up for long.
import type { PruneMode, Store } from '../store/store.js';

/** Rows per transaction: one batch takes tens of milliseconds, so a waiting writer waits that long. */
export const PRUNE_BATCH = 5_000;
/**
 * Pause between batches, with the write lock free. A writer in another process (a run, gap-fix,
 * ingest) waits in SQLite's busy handler, which re-tries after 1, 2, 5, 10, 15, 20... ms: a pause
 * this long lets its early re-tries land. Measured here on 500,000 closed rows (101 batches, ~4.5 s
 * either way): batches back to back, a writer every 5 ms waited p90 53 ms (max 55-104); with 20 ms
 * pauses, p90 19 ms (max 34-58). No write failed its 1 s busy_timeout in either case.
 */
export const PRUNE_PAUSE_MS = 20;

export interface PruneRequest {
  /** closed intervals last seen before this instant (epoch ms) go */
  beforeMs: number;
  mode: PruneMode;
  dryRun?: boolean;
  batch?: number;
  pauseMs?: number;
  /** told after each committed batch (rows in it) */
  onBatch?: (rows: number) => void;
}

/** Rows moved (or, with dryRun, that would be). Current facts are never selected. */
export async function pruneFacts(store: Store, req: PruneRequest): Promise<number> {
  const before = new Date(req.beforeMs).toISOString();
  if (req.dryRun) return store.countPrunable(before);
  const batch = req.batch ?? PRUNE_BATCH;
  const pauseMs = req.pauseMs ?? PRUNE_PAUSE_MS;
  let total = 0;
  for (;;) {
    const n = await store.pruneBatch(before, req.mode, batch);
    total += n;
    req.onBatch?.(n);
    if (n < batch) break;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  // Deleting the history deletes the change feed of that time too; an archive keeps it.
  if (req.mode === 'delete') {
    while ((await store.pruneChanges(before, batch)) === batch) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return total;
}
