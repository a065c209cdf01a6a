// serve's writer is a long-lived SQLite writer (longLived): it keeps the current facts it wrote in
// memory, and a thread of its own checkpoints the log. Its answers must be the database's: a run or
// an ingest writing the same file between two pushes, or a push that failed half-way, must not
// leave it diffing against facts that are no longer current.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CurrentFacts } from '../src/store/sqlite/current-facts.js';
import { openStore, type PushDocument } from '../src/store/store.js';
import type { SqliteStore } from '../src/store/sqlite/store.js';

const doc = (at: number, packages: Record<string, string>): PushDocument => ({
  host: 'web1.ams', timestamp: at, ok: true, statusText: 'ok', data: { packages, release: { ID: 'debian' } },
});

/** host's current facts of type as the database holds them: subtype -> values (more than one = a broken interval). */
function currentRows(store: SqliteStore, type: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of store.database.prepare('SELECT subtype, value FROM facts WHERE type = ? AND is_current = 1 ORDER BY subtype, id').all(type) as { subtype: string; value: string }[]) {
    (out[r.subtype] ??= []).push(r.value);
  }
  return out;
}

async function push(store: SqliteStore, d: PushDocument): Promise<void> {
  const runId = await store.beginRun({ mode: 'ingest', startedAt: new Date(d.timestamp), pid: process.pid, hostname: 'test', threads: 0, workers: 0 });
  await store.writeTogether([async () => store.recordPush(runId, d)]);
}

t.test('another connection writing between two pushes: the kept facts are dropped, the intervals stay whole', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  const serve = openStore(file, { longLived: true });
  const other = openStore(file);
  t.teardown(() => { serve.close(); other.close(); });
  const t0 = Date.parse('2026-12-01T00:00:00Z');
  await push(serve, doc(t0, { a: '1', b: '1', c: '1' }));
  await push(serve, doc(t0 + 1000, { a: '2', b: '1', c: '1' }));
  // Another writer (an ingest, a run) changes b and drops c; serve's memory still says b=1, c=1.
  await push(other, doc(t0 + 2000, { a: '2', b: '9' }));
  // serve's next push has b=1 again and c=1 again: both must open again, not be taken as current.
  await push(serve, doc(t0 + 3000, { a: '3', b: '1', c: '1' }));
  t.same(currentRows(serve, 'packages'), { a: ['3'], b: ['1'], c: ['1'] }, 'one current value per subtype, as the last push says');
  await push(serve, doc(t0 + 4000, { a: '3', b: '1' }));
  t.same(currentRows(serve, 'packages'), { a: ['3'], b: ['1'] }, 'c closed');
  const feed = serve.database.prepare("SELECT subtype, change, old_value, new_value FROM fact_changes WHERE type = 'packages' ORDER BY id").all();
  t.same(feed, [
    { subtype: 'a', change: 'changed', old_value: '1', new_value: '2' },
    { subtype: 'b', change: 'changed', old_value: '1', new_value: '9' },
    { subtype: 'c', change: 'removed', old_value: '1', new_value: null },
    { subtype: 'a', change: 'changed', old_value: '2', new_value: '3' },
    { subtype: 'b', change: 'changed', old_value: '9', new_value: '1' },
    { subtype: 'c', change: 'added', old_value: null, new_value: '1' },
    { subtype: 'c', change: 'removed', old_value: '1', new_value: null },
  ], 'the change feed says what happened, whoever wrote it');
});

t.test('a push that failed half-way drops what was kept', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  const serve = openStore(file, { longLived: true });
  t.teardown(() => serve.close());
  const t0 = Date.parse('2026-12-01T00:00:00Z');
  await push(serve, doc(t0, { a: '1', b: '1' }));
  // A trigger makes the host update of the next push fail after its facts were written (and rolled back).
  serve.database.exec("CREATE TRIGGER fail_once BEFORE UPDATE OF sapi_at ON hosts WHEN NEW.sapi_at > '2026-12-01T00:00:01' AND NEW.sapi_at < '2026-12-01T00:00:02' BEGIN SELECT RAISE(ABORT, 'disk said no'); END");
  const runId = await serve.beginRun({ mode: 'ingest', startedAt: new Date(t0), pid: process.pid, hostname: 'test', threads: 0, workers: 0 });
  const [r] = await serve.writeTogether([async () => serve.recordPush(runId, doc(t0 + 1500, { a: '2', b: '1' }))]);
  t.equal(r?.status, 'rejected', 'the push failed');
  t.same(currentRows(serve, 'packages'), { a: ['1'], b: ['1'] }, 'nothing of it was stored');
  await push(serve, doc(t0 + 3000, { a: '1', b: '2' }));
  t.same(currentRows(serve, 'packages'), { a: ['1'], b: ['2'] }, 'the next push diffs against what is stored, not what failed');
});

t.test('bounded: the host and type least recently written go first', async (t) => {
  const kept = new CurrentFacts(5);
  kept.validate(1);
  kept.set(1, 'packages', [], [], [[1, 'a', '1'], [2, 'b', '1']]);
  kept.set(2, 'packages', [], [], [[3, 'a', '1'], [4, 'b', '1']]);
  kept.set(1, 'packages', kept.get(1, 'packages')!, [1], [[5, 'a', '2']]);
  t.same(kept.get(1, 'packages'), [[2, 'b', '1'], [5, 'a', '2']], 'closed out, opened in');
  kept.set(3, 'packages', [], [], [[6, 'a', '1'], [7, 'b', '1']]);
  t.equal(kept.get(2, 'packages'), undefined, 'the oldest write went');
  t.ok(kept.get(1, 'packages') && kept.get(3, 'packages'), 'the newer ones stay');
  kept.set(4, 'packages', [], [], [[8, 'a', '1'], [9, 'b', '1'], [10, 'c', '1'], [11, 'd', '1'], [12, 'e', '1'], [13, 'f', '1']]);
  t.equal(kept.get(4, 'packages'), undefined, 'a type larger than the bound is not kept');
  kept.validate(1);
  t.ok(kept.get(1, 'packages'), 'the same data_version keeps them');
  kept.validate(2);
  t.equal(kept.get(1, 'packages'), undefined, 'another data_version drops them');
});

t.test('the log is copied into the database by the checkpoint thread, not by the writer\'s commits', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  const serve = openStore(file, { longLived: true });
  t.teardown(() => serve.close());
  t.equal(serve.database.pragma('wal_autocheckpoint', { simple: true }), 10_000, 'the writer checkpoints only a long log itself');
  const before = fs.statSync(file).size;
  // About 2 MB of facts: far below the writer's own threshold (40 MB of log).
  const packages = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`package-${i}`, `1.${i}.0-1+deb12u${i % 7}`]));
  await push(serve, doc(Date.parse('2026-12-01T00:00:00Z'), packages));
  const grown = Date.now() + 10_000;
  while (fs.statSync(file).size <= before + 1_000_000 && Date.now() < grown) await new Promise((r) => setTimeout(r, 20));
  t.ok(fs.statSync(file).size > before + 1_000_000, `the database file took the pages (${before} -> ${fs.statSync(file).size} bytes) while the writer stayed open`);
  const plain = openStore(path.join(t.testdir(), 'plain.db'));
  t.teardown(() => plain.close());
  t.equal(plain.database.pragma('wal_autocheckpoint', { simple: true }), 1000, 'any other writer checkpoints as SQLite does');
});
