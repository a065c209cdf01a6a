// The storage API's document checker: JSON parsing and validation of a pushed body (about 1-2 ms
// for a full ~1,400-fact document) run in a worker thread, so the event loop only receives bodies,
// answers, and hands documents to the writer. Small bodies are checked in place: for them the
// hop to a thread would cost more than the check.
import os from 'node:os';
import { Piscina } from 'piscina';
import { threadEntry } from '../core/thread-entry.js';
import type { CheckedInput, ValidateOptions } from '../app/ingest.js';
import { checkBody } from './check-worker.js';

/** Below this many characters a body is checked on the event loop. */
export const CHECK_IN_PLACE_BELOW = 8 * 1024;

export class DocumentChecker {
  private readonly pool: Piscina;

  constructor(threads = Math.max(1, Math.min(4, (os.availableParallelism?.() ?? os.cpus().length) - 1))) {
    this.pool = new Piscina({
      filename: threadEntry(import.meta.url, './check-worker').href, minThreads: threads, maxThreads: threads, idleTimeout: 60 * 60 * 1000,
      // A checker thread waits for work on its event loop, as the host pool's threads do. Either
      // way, handing a body to a sleeping checker costs the writer ~0.5 ms of wall time on two
      // cores (the woken thread takes the core: Atomics.notify, or postMessage's wake-up, measured
      // with bench/serve.mjs --cpu-prof); the throughput measured the same.
      atomics: 'disabled',
    });
  }

  private closed = false;

  async check(input: string, opts: ValidateOptions): Promise<CheckedInput> {
    const task = { input, opts: { ...opts, now: opts.now ?? Date.now() } };
    if (input.length < CHECK_IN_PLACE_BELOW || this.closed) return checkBody(task);
    try {
      return await this.pool.run(task) as CheckedInput;
    } catch (e) {
      // The pool stopped under the request (the server is stopping, a thread died): the request
      // is not lost for that, it is checked here. A body the check itself throws on is a bug: it
      // throws here too.
      if (!this.closed && !(e instanceof Error && /terminat|destroy|exit/i.test(e.message))) throw e;
      return checkBody(task);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.destroy().catch(() => {});
  }
}
