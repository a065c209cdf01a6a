// The pool with real worker threads and tiny fixture workers (sleep, hang, throw), fed by the
// main-thread dispatcher that owns order, the in-flight cap and the deadline.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { dispatch } from '../src/pool/dispatch.js';
import { HostPool } from '../src/pool/host-pool.js';
import type { HostResult } from '../src/core/results.js';
import type { HostTask } from '../src/pool/messages.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const worker = (name: string) => path.join(here, 'workers', `${name}.mjs`);

interface Item { label: string; ms?: number }
const items = (n: number, ms = 20): Item[] => Array.from({ length: n }, (_, i) => ({ label: `h${i}`, ms }));

function feed(pool: HostPool, list: Item[], threads: number, deadlineInMs: number, graceMs = 300) {
  let flying = 0;
  let maxFlying = 0;
  const results: (HostResult & { threadId?: number })[] = [];
  const d = dispatch<Item, HostResult>({
    items: list,
    key: (i) => i.label,
    threads,
    deadlineAt: Date.now() + deadlineInMs,
    graceMs,
    run: async (i) => {
      flying++;
      maxFlying = Math.max(maxFlying, flying);
      try { return await pool.run(i as unknown as HostTask); } finally { flying--; }
    },
    onResult: (r) => results.push(r),
    writeOff: (i, reason) => ({ label: i.label, outcome: 'timeout', code: reason, startedAt: 0, finishedAt: 0, collections: [], outputBytes: 0 }),
  });
  return { d, results, maxFlying: () => maxFlying };
}

t.test('2 threads carry 8 pipelines; every item gets one result; the cap holds', async (t) => {
  const pool = new HostPool(2, 8, worker('sleep'));
  t.teardown(() => pool.destroy());
  const { d, results, maxFlying } = feed(pool, items(60), 8, 60_000);
  const end = await d.done;
  t.equal(end.deadlineHit, false);
  t.equal(results.length, 60);
  t.equal(new Set(results.map((r) => r.label)).size, 60);
  t.equal(maxFlying(), 8);
  t.equal(new Set(results.map((r) => r.threadId)).size, 2, 'both threads did work');
});

t.test('one pipeline keeps the exact dispatch order', async (t) => {
  const pool = new HostPool(1, 1, worker('sleep'));
  t.teardown(() => pool.destroy());
  const list = items(10, 1).reverse();
  const { d, results } = feed(pool, list, 1, 60_000);
  await d.done;
  t.same(results.map((r) => r.label), list.map((i) => i.label));
});

t.test('hung threads: at the deadline nothing new starts and the in-flight are written off', async (t) => {
  const pool = new HostPool(2, 4, worker('hang'));
  t.teardown(() => pool.destroy());
  const started = Date.now();
  const { d, results } = feed(pool, items(10), 4, 500, 300);
  const end = await d.done;
  const took = Date.now() - started;
  t.equal(end.deadlineHit, true);
  t.equal(end.started, 4, 'only the first 4 ever started');
  t.equal(results.length, 4);
  t.ok(results.every((r) => r.code === 'DEADLINE'));
  t.ok(took < 5_000, `ended ${took} ms after start (deadline 500 ms + grace 300 ms)`);
});

t.test('a throwing worker becomes an error result, the rest go on', async (t) => {
  const pool = new HostPool(1, 4, worker('throw'));
  t.teardown(() => pool.destroy());
  const { d, results } = feed(pool, items(20), 4, 60_000);
  await d.done;
  t.equal(results.length, 20);
  const bad = results.filter((r) => r.outcome === 'error');
  t.same(bad.map((r) => r.label).sort(), ['h13', 'h3']);
  t.ok(bad.every((r) => r.code === 'INTERNAL' && /boom/.test(r.message ?? '')));
});

t.test('interrupt writes off the in-flight at once', async (t) => {
  const pool = new HostPool(1, 3, worker('hang'));
  t.teardown(() => pool.destroy());
  const { d, results } = feed(pool, items(9), 3, 60_000);
  await new Promise((r) => setTimeout(r, 200));
  d.interrupt();
  await d.done;
  t.equal(results.length, 3);
  t.ok(results.every((r) => r.code === 'INTERRUPTED'));
});

t.test('hold: while the results wait for the writer nothing new starts; resume goes on', async (t) => {
  const started: number[] = [];
  let unwritten = 0;
  const list = Array.from({ length: 40 }, (_, i) => i);
  const d = dispatch<number, number>({
    items: list, key: (i) => String(i), threads: 4, deadlineAt: Date.now() + 60_000, graceMs: 100,
    run: async (i) => { started.push(i); await new Promise((r) => setTimeout(r, 5)); return i; },
    onResult: () => { unwritten += 1; },
    writeOff: (i) => i,
    hold: () => unwritten >= 8,
  });
  await new Promise((r) => setTimeout(r, 200));
  const held = started.length;
  // Those in flight when the 8th result came in still finish: at most threads - 1 more.
  t.ok(held >= 8 && held <= 11, `held once 8 results wait (${held} started)`);
  t.equal(d.inFlight(), 0, 'the in-flight ones finished');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(started.length, held, 'and nothing new starts while held');
  unwritten = 0; // the writer caught up
  d.resume();
  await new Promise((r) => setTimeout(r, 200));
  t.ok(started.length > held && started.length <= 2 * held, `resumed, then held again (${started.length} started)`);
  // From here the writer keeps up.
  const keepUp = setInterval(() => { unwritten = 0; d.resume(); }, 10);
  const end = await d.done;
  clearInterval(keepUp);
  t.equal(started.length, 40, "every item ran once");
  t.equal(end.started, 40);
});

t.test('hold does not outlive the deadline: the held items end as not started', async (t) => {
  const d = dispatch<number, number>({
    items: [1, 2, 3], key: String, threads: 2, deadlineAt: Date.now() + 300, graceMs: 50,
    run: async (i) => i, onResult: () => {}, writeOff: (i) => i, hold: () => true,
  });
  const end = await d.done;
  t.equal(end.started, 0, 'nothing started while held');
  t.ok(end.deadlineHit, 'the run still ended at its deadline');
});
