// The run's single database writer: finished hosts' results are written in batches, one
// transaction each, in order, at most every FLUSH_EVERY_MS or when a batch is full. A writer
// slower than the collectors holds new hosts back (unwrittenBytes); another writer holding the
// database only delays a batch; a real storage failure stops the run (exit 74).
import type { HostResult, LearnedHostKey } from '../core/results.js';
import { isBusyError } from '../store/database.js';
import type { Store } from '../store/store.js';
import { StorageError } from '../core/errors.js';
import type { Log } from './log.js';

/** Results are written in batches: one transaction per batch, at most this often or this big. */
export const FLUSH_EVERY_MS = 500;
export const FLUSH_AT = 500;
export const FLUSH_AT_BYTES = 16 * 1024 * 1024;
/** What a result costs beside its facts (summary, timings, collection rows), in resultBytes. */
const RESULT_OVERHEAD_BYTES = 1024;
/** Consecutive busy flushes (each waits the store's busy timeout) before the database counts as unusable. */
export const MAX_BUSY_RETRIES = 60;

/** An estimate of the memory a result holds until written: its text, fact names and values. */
export function resultBytes(r: HostResult): number {
  let n = RESULT_OVERHEAD_BYTES + (r.message?.length ?? 0);
  for (const c of r.collections) {
    n += c.type.length + (c.message?.length ?? 0);
    for (const k in c.values) n += k.length + (c.values[k] as string).length;
  }
  return n;
}

export interface ResultWriterOptions {
  store: Store;
  runId: number;
  log: Log;
  /** host keys learned by accept-new, appended to known_hosts before each batch is written */
  onLearnedKeys: (keys: LearnedHostKey[]) => void;
  /** the database failed for good (`failure` says why): the run stops */
  onFailure: () => void;
  /** a write ended (written, kept for a retry, or failed): a held-back feeder may go on */
  onWritten: () => void;
  /** the limits above, smaller in tests */
  flushAt?: number;
  flushAtBytes?: number;
  maxBusyRetries?: number;
}

export class ResultWriter {
  private batch: HostResult[] = [];
  /** resultBytes of `batch`, and of the batch being written */
  private batchBytes = 0;
  private writing = 0;
  private learned: LearnedHostKey[] = [];
  private busyStreak = 0;
  private written: Promise<void> = Promise.resolve();
  private next: Promise<void> | undefined;
  /** why the database counts as failed, once it does: nothing more is written */
  failure: StorageError | undefined;

  constructor(private readonly o: ResultWriterOptions) {}

  /** Bytes of results not written yet (the batch waiting and the one being written). */
  get unwrittenBytes(): number {
    return this.writing + this.batchBytes;
  }

  /** One finished host; a full batch is written at once. */
  add(r: HostResult): void {
    this.batch.push(r);
    this.batchBytes += resultBytes(r);
    if (r.learnedHostKeys) this.learned.push(...r.learnedHostKeys);
    if (this.batch.length >= (this.o.flushAt ?? FLUSH_AT) || this.batchBytes >= (this.o.flushAtBytes ?? FLUSH_AT_BYTES)) void this.flush();
  }

  /**
   * One batch at a time, in order: a flush asked for while one is being written follows it, and
   * the flushes asked for meanwhile are that one (it takes every result in by then).
   */
  flush(): Promise<void> {
    this.next ??= this.written = this.written.then(() => { this.next = undefined; return this.writeBatch(); });
    return this.next;
  }

  private async writeBatch(): Promise<void> {
    const { store, log } = this.o;
    if (this.learned.length) { this.o.onLearnedKeys(this.learned); this.learned = []; }
    if (this.batch.length === 0 || this.failure) return;
    const b = this.batch;
    this.batch = [];
    this.writing = this.batchBytes;
    this.batchBytes = 0;
    try {
      await store.recordResults(this.o.runId, b);
      this.busyStreak = 0;
    } catch (e) {
      // Another writer (gap-fix beside a run, an ingest) holds the database, or the database
      // chose this batch as a deadlock victim: keep the batch and try again at the next flush
      // rather than fail; only a long streak is a real problem.
      if (isBusyError(e) && ++this.busyStreak < (this.o.maxBusyRetries ?? MAX_BUSY_RETRIES)) {
        this.batch = b.concat(this.batch);
        this.batchBytes += this.writing;
        if (this.busyStreak === 1) log.warn(`${store.path} is busy with another writer; retrying the batch`);
        return;
      }
      this.failure = e instanceof StorageError ? e : new StorageError(`${store.path}: ${(e as Error).message}`);
      log.error(this.failure.message);
      this.o.onFailure();
    } finally {
      this.writing = 0;
      this.o.onWritten();
    }
  }
}
