// Preloaded into a profiled jellyfish run (`node --import bench/profile-hook.mjs dist/cli/main.js
// run ...`): measures what --cpu-prof does not show directly, without touching src/:
// - the main thread's event-loop delay (how late timers and I/O callbacks run);
// - every SQLite write transaction's duration (the run's result batches are transactions).
// Writes JSON to $JF_BENCH_PROFILE_OUT when the process exits. Worker threads load it too and
// do nothing.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { ROOT } from './lib/paths.mjs';

if (isMainThread && process.env.JF_BENCH_PROFILE_OUT) {
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  const tx = [];
  // The same module instance dist/ imports: ESM imports of a CommonJS package share its cache.
  const Database = createRequire(path.join(ROOT, 'package.json'))('better-sqlite3');
  const original = Database.prototype.transaction;
  const timed = (fn) => (...args) => {
    const t0 = process.hrtime.bigint();
    try { return fn(...args); } finally { tx.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  };
  Database.prototype.transaction = function transaction(fn) {
    const t = original.call(this, fn);
    const wrapped = timed(t);
    for (const mode of ['deferred', 'immediate', 'exclusive']) wrapped[mode] = timed(t[mode]);
    wrapped.default = wrapped;
    wrapped.database = t.database;
    return wrapped;
  };
  const started = Date.now();
  process.on('exit', () => {
    eld.disable();
    const sorted = [...tx].sort((a, b) => a - b);
    const q = (p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    fs.writeFileSync(process.env.JF_BENCH_PROFILE_OUT, JSON.stringify({
      wallMs: Date.now() - started,
      eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max), mean: ms(eld.mean) },
      sqlite: {
        transactions: tx.length,
        totalMs: Math.round(tx.reduce((a, b) => a + b, 0)),
        p50Ms: Math.round(q(0.5) * 10) / 10,
        p99Ms: Math.round(q(0.99) * 10) / 10,
        maxMs: Math.round((sorted.at(-1) ?? 0) * 10) / 10,
      },
    }));
  });
}
