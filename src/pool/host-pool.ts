// Carries host tasks: on `workers` Piscina threads, or in the main thread when workers = 0.
// The caller keeps the ordered list and the in-flight cap, so dispatch order is exactly its own;
// this class only runs what it is handed.
import os from 'node:os';
import { Piscina } from 'piscina';
import { threadEntry } from '../core/thread-entry.js';
import { collectHost } from '../pipeline/collect-host.js';
import { closeJumps } from '../ssh/jump.js';
import type { HostResult } from '../core/results.js';
import type { HostTask } from './messages.js';

/**
 * `auto`: one worker thread on a 2-core machine (SSH crypto off the main thread, which keeps the
 * deadline timer, lock refresh and SQLite writer responsive); more only with more cores, since a
 * second JIT and message passing cost more than they bring at this size (see docs/benchmarks.md).
 */
export function resolveWorkers(setting: number | 'auto'): number {
  if (setting !== 'auto') return setting;
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  return Math.max(1, Math.min(4, cores - 1));
}

export class HostPool {
  private readonly piscina: Piscina | undefined;

  /** `filename` replaces the worker entry (tests use tiny fixture workers that sleep, hang or throw). */
  constructor(readonly workers: number, readonly threads: number, filename: string = threadEntry(import.meta.url, '../pipeline/worker').href) {
    if (workers > 0) {
      this.piscina = new Piscina({
        filename,
        // Threads live for the whole run: starting one costs a JIT warm-up.
        minThreads: workers,
        maxThreads: workers,
        idleTimeout: 60 * 60 * 1000,
        concurrentTasksPerWorker: Math.ceil(threads / workers),
        // Tasks are async and share a thread's event loop: a thread must never block waiting for work.
        atomics: 'disabled',
        maxQueue: 'auto',
      });
    }
  }

  run(task: HostTask): Promise<HostResult> {
    if (!this.piscina) return collectHost(task);
    return this.piscina.run(task).then(
      (r: HostResult) => r,
      (e: Error) => ({
        label: task.label, outcome: 'error', code: 'INTERNAL', message: `worker thread failed: ${e.message}`,
        startedAt: Date.now(), finishedAt: Date.now(), collections: [], outputBytes: 0,
      }) satisfies HostResult,
    );
  }

  async destroy(): Promise<void> {
    closeJumps(); // in-process runs hold their jump connections in this thread
    if (this.piscina) await this.piscina.destroy().catch(() => {});
  }
}
