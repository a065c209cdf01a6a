// The store is single-writer per process: every write of `serve` (each pushed document, token use)
// goes through this queue, one at a time. PostgreSQL needs it (one client: two transactions must
// never interleave on it); SQLite gets the same order for free. A SQLite file busy with another
// process's writer (a `run` storing a batch) is retried after an asynchronous pause, never by
// blocking the event loop in busy_timeout, so reads and other requests go on meanwhile.
import { StorageError } from '../app/errors.js';
import type { Awaitable } from '../store/store.js';

const BUSY = /SQLITE_BUSY|SQLITE_LOCKED|database is locked|40P01|40001|55P03/;
/** A run's batch holds the write lock for up to a second or two; give up well after that. */
export const BUSY_GIVE_UP_MS = 30_000;
/** Pause between tries: short, the other writer's transactions are short too. */
const BUSY_PAUSE_MS = 50;

/** The database stayed busy past BUSY_GIVE_UP_MS: the push is answered 503 with Retry-After. */
export class BusyError extends Error {}

export class SerialWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(private readonly giveUpMs = BUSY_GIVE_UP_MS) {}

  /** writes queued or running now */
  get depth(): number {
    return this.pending;
  }

  run<T>(fn: () => Awaitable<T>): Promise<T> {
    this.pending++;
    const next = this.tail.then(() => this.retrying(fn));
    this.tail = next.catch(() => undefined).finally(() => { this.pending--; });
    return next;
  }

  /**
   * One request's writes as one turn of the queue (the run row, each document, the run's end), so
   * concurrent pushes are served first come, first served: with one queue item per write, every
   * push would wait behind every other push's run row and end, and the slowest ones for seconds.
   */
  turn<T>(fn: (write: <U>(w: () => Awaitable<U>) => Promise<U>) => Promise<T>): Promise<T> {
    this.pending++;
    const next = this.tail.then(() => fn((w) => this.retrying(w)));
    this.tail = next.catch(() => undefined).finally(() => { this.pending--; });
    return next;
  }

  private async retrying<T>(fn: () => Awaitable<T>): Promise<T> {
    const giveUpAt = Date.now() + this.giveUpMs;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof StorageError) || !BUSY.test(e.message)) throw e;
        if (Date.now() >= giveUpAt) throw new BusyError(`the database stayed busy with another writer for ${Math.round(this.giveUpMs / 1000)} s`);
        await new Promise((r) => setTimeout(r, BUSY_PAUSE_MS));
      }
    }
  }
}
