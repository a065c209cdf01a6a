// The store is single-writer per process: every write of `serve` (each pushed document, token use)
// goes through this queue. PostgreSQL needs it (one client: two transactions must never interleave
// on it); SQLite gets the same order for free. Requests share one transaction (Store.writeTogether):
// one commit for many pushes instead of three for each (the run row, the document, the run's end).
// The transaction opens with the first request queued and takes each next one as it comes, while
// the checker is still checking the bodies behind it, so the writer never idles with work on its
// way; it commits when no request is queued or on its way, after GATHER_MS, or at MAX_TOGETHER
// (measured, bench/serve.mjs: waiting for a whole group before writing any of it left the writer
// thread idle 30 % of the time, 169 documents/s; streamed: see docs/benchmarks.md). It runs in the
// writer thread (write-worker.ts): a SQLite file busy with another process's writer (a `run`
// storing a batch) is waited for there, and retried after a pause until BUSY_GIVE_UP_MS, while the
// HTTP thread goes on answering.
import { StorageError } from '../core/errors.js';
import { isBusyError } from '../store/database.js';
import type { Awaitable, Parts } from '../store/store.js';

/** A run's batch holds the write lock for up to a second or two; give up well after that. */
export const BUSY_GIVE_UP_MS = 30_000;
/** Pause between tries: short, the other writer's transactions are short too. */
const BUSY_PAUSE_MS = 50;
/**
 * Requests written in one transaction at most: enough for 64 agents pushing at once, few enough
 * that one transaction holds the write lock for well under a second (a `run` beside waits that long).
 */
export const MAX_TOGETHER = 64;
/**
 * How long a transaction stays open at most for the requests on their way (see expect). Measured
 * with 64 agents (bench/serve.mjs), when a group was gathered before being written: 0 ms 128
 * documents/s, 20 ms 142, 50 ms 161, 100-200 ms 167.
 */
export const GATHER_MS = 50;

/** The database stayed busy past BUSY_GIVE_UP_MS: the push is answered 503 with Retry-After. */
export class BusyError extends Error {
  override name = 'BusyError';
}

/** Runs its parts in one transaction (Store.writeTogether). */
export type Together = <T>(parts: Parts<T>) => Promise<PromiseSettledResult<T>[]>;

type Write = <U>(w: () => Awaitable<U>) => Promise<U>;

interface Turn {
  fn: (write: Write) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class SerialWriter {
  private readonly queue: Turn[] = [];
  private draining = false;

  /** Requests past authentication and not yet queued here (their bodies are being checked). */
  private coming = 0;
  /** wakes an open transaction waiting for the next request (one queued, or one on its way gave up) */
  private wake: (() => void) | undefined;

  constructor(private readonly together: Together, private readonly giveUpMs = BUSY_GIVE_UP_MS) {}

  /**
   * A request that will queue a turn soon (its body is being checked): the next transaction waits
   * for it a little (GATHER_MS at most). One commit costs several milliseconds whatever it holds,
   * so under load waiting for the pushes on their way is cheaper than committing each alone.
   */
  expect(): () => void {
    this.coming++;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.coming--;
        this.wake?.();
      }
    };
  }

  run<T>(fn: () => Awaitable<T>): Promise<T> {
    return this.turn((write) => write(fn));
  }

  /**
   * One request's writes as one turn of the queue (the run row, each document, the run's end), so
   * concurrent pushes are served first come, first served, never interleaved.
   */
  turn<T>(fn: (write: Write) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.wake?.();
      // After the event loop's I/O: SQLite answers synchronously, so a write started at once would
      // always run alone. Started from setImmediate, it takes every push whose body arrived meanwhile.
      if (!this.draining) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const turns: Turn[] = [];
        const write: Write = (w) => this.retrying(w);
        try {
          // A busy file fails at BEGIN, before any part was taken: the transaction is tried again.
          const settled = await this.retrying(() => this.together(this.parts(turns, write)));
          settled.forEach((s, i) => (s.status === 'fulfilled' ? turns[i]!.resolve(s.value) : turns[i]!.reject(s.reason)));
        } catch (e) {
          for (const t of turns) t.reject(e);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * One transaction's parts: the queued requests, then each one arriving while others are on their
   * way, until none is queued or coming, GATHER_MS after the first, or MAX_TOGETHER. Each part
   * taken is added to `turns`, in order. A transaction tried again (the file was busy) first takes
   * again the parts the failed try had taken: its writes were rolled back with it.
   */
  private async *parts(turns: Turn[], write: Write): AsyncGenerator<() => Promise<unknown>> {
    for (const t of turns.slice()) yield () => t.fn(write);
    const until = Date.now() + GATHER_MS;
    while (turns.length < MAX_TOGETHER) {
      const next = this.queue.shift();
      if (next) {
        turns.push(next);
        yield () => next.fn(write);
        continue;
      }
      const left = until - Date.now();
      if (this.coming === 0 || left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void { clearTimeout(timer); resolve(); }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }

  private async retrying<T>(fn: () => Awaitable<T>): Promise<T> {
    const giveUpAt = Date.now() + this.giveUpMs;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof StorageError) || !isBusyError(e)) throw e;
        if (Date.now() >= giveUpAt) throw new BusyError(`the database stayed busy with another writer for ${Math.round(this.giveUpMs / 1000)} s`);
        await new Promise((r) => setTimeout(r, BUSY_PAUSE_MS));
      }
    }
  }
}
