// The run's result writer (src/app/result-writer.ts) over a real SQLite store: batches written in
// order when full or flushed, what is waiting counted for the feeder's back-pressure, learned host
// keys handed on before a batch, another writer holding the file only delaying a batch (kept
// whole, one warning), and a streak of busy flushes failing the run once.
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import t from 'tap';
import { Log } from '../src/app/log.js';
import { resultBytes, ResultWriter } from '../src/app/result-writer.js';
import type { HostResult, LearnedHostKey } from '../src/core/results.js';
import { openAnyStore, type Store } from '../src/store/store.js';

const at = Date.now() - 60_000;
const result = (label: string, facts = 3): HostResult => ({
  label, outcome: 'ok', startedAt: at - 1000, finishedAt: at, outputBytes: 0,
  collections: [{ type: 'pkg', status: 'ok', durationMs: 1, values: Object.fromEntries(Array.from({ length: facts }, (_, i) => [`p${i}`, `${label}-${i}`])) }],
});

function capture(): { log: Log; lines: () => string[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => { text += String(d); });
  return { log: new Log(false, out as unknown as NodeJS.WriteStream), lines: () => text.split('\n').filter(Boolean) };
}

async function setup(t: Tap.Test, busyMs = 0): Promise<{ file: string; store: Store; runId: number; attempts: () => number }> {
  const file = path.join(t.testdir(), 'jf.db');
  const store = await openAnyStore(file, { busyTimeoutMs: busyMs });
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const reader = new Database(file, { readonly: true });
  t.teardown(() => reader.close());
  return { file, store, runId, attempts: () => (reader.prepare('SELECT COUNT(*) AS n FROM attempts').get() as { n: number }).n };
}

t.test('batches: written when full or flushed, in order; waiting bytes counted; learned keys handed on first', async (t) => {
  const { store, runId, attempts } = await setup(t);
  const { log } = capture();
  const events: string[] = [];
  const writer = new ResultWriter({
    store, runId, log, flushAt: 3,
    onLearnedKeys: (keys) => events.push(`keys ${keys.map((k) => k.hostPattern).join(',')} at ${attempts()} attempts`),
    onFailure: () => events.push('failure'),
    onWritten: () => events.push(`written ${attempts()}`),
  });
  writer.add(result('a'));
  const key: LearnedHostKey = { file: '/dev/null', hostPattern: 'b', keyType: 'ssh-ed25519', keyBase64: 'AAAA' };
  writer.add({ ...result('b'), learnedHostKeys: [key] });
  t.equal(attempts(), 0, 'two results: below the batch size, nothing written yet');
  t.equal(writer.unwrittenBytes, resultBytes(result('a')) + resultBytes(result('b')), 'their bytes count as waiting');
  writer.add(result('c'));
  await writer.flush();
  t.equal(attempts(), 3, 'the third filled the batch: written');
  t.same(events, ['keys b at 0 attempts', 'written 3'], 'learned keys went to known_hosts before the batch was written');
  t.equal(writer.unwrittenBytes, 0);
  writer.add(result('d'));
  const [one, two] = [writer.flush(), writer.flush()];
  t.equal(one, two, 'flushes asked for while one is pending are that one');
  await one;
  t.equal(attempts(), 4, 'a flush writes a partial batch');
  await writer.flush();
  t.equal(attempts(), 4, 'an empty flush writes nothing');
  t.notOk(writer.failure);
});

t.test('another writer holding the file: the batch is kept whole and retried, one warning; a long streak fails the run once', async (t) => {
  const { file, store, runId, attempts } = await setup(t, 0);
  const { log, lines } = capture();
  let failures = 0;
  const writer = new ResultWriter({ store, runId, log, maxBusyRetries: 3, onLearnedKeys: () => {}, onFailure: () => { failures++; }, onWritten: () => {} });
  const other = new Database(file);
  t.teardown(() => { if (other.inTransaction) other.exec('ROLLBACK'); other.close(); });
  other.exec('BEGIN IMMEDIATE');
  writer.add(result('a'));
  writer.add(result('b'));
  await writer.flush();
  t.equal(attempts(), 0, 'nothing written while the file is held');
  t.ok(writer.unwrittenBytes > 0, 'the batch is still waiting');
  writer.add(result('c'));
  await writer.flush();
  t.equal(lines().filter((l) => /busy with another writer/.test(l)).length, 1, 'one warning for the streak');
  other.exec('ROLLBACK');
  await writer.flush();
  t.equal(attempts(), 3, 'once free, the kept batch and the later result are written');
  t.equal(failures, 0);

  other.exec('BEGIN IMMEDIATE');
  for (let i = 0; i < 3; i++) { writer.add(result(`x${i}`)); await writer.flush(); }
  t.equal(failures, 1, 'the third busy flush in a row fails the run');
  t.match(writer.failure?.message ?? '', /SQLITE_BUSY|locked/, 'the failure says why');
  other.exec('ROLLBACK');
  writer.add(result('late'));
  await writer.flush();
  t.equal(attempts(), 3, 'after a failure nothing more is written');
  t.equal(failures, 1, 'and the run is told once');
});
