// Store.writeTogether, the storage API's shared transaction, on both engines: every part's writes
// commit together (a second connection sees none of them before the commit), a part that fails
// keeps what it stored before its failure and the other parts are stored, a failed document write
// is undone alone, and a SQLite file locked by another writer fails at BEGIN before any part runs.
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { StorageError } from '../src/core/errors.js';
import { openAnyStore, type PushDocument, type Store } from '../src/store/store.js';
import { openTestPgStore } from './helpers/postgres.js';

const at = new Date(Date.now() - 60_000).getTime();
const doc = (host: string, value = 'v1'): PushDocument => ({ host, timestamp: at, ok: true, statusText: 'ok', data: { pkg: { a: value, b: 'x' } } });

async function pushed(store: Store, host: string): Promise<string[]> {
  const ref = await store.findHost(host);
  return ref ? (await store.hostFacts(ref)).map((f) => `${f.subtype}=${f.value}`) : [];
}

async function together(t: Tap.Test, store: Store, reader: Store): Promise<void> {
  const runId = await store.beginRun({ mode: 'ingest', startedAt: new Date(at), pid: 1, hostname: 'x', threads: 0, workers: 0 });
  const seenMidway: string[][] = [];
  const settled = await store.writeTogether([
    async () => (await store.recordPush(runId, doc('one.ams'))).storedTypes,
    async () => {
      // The first part is written but not committed: another connection does not see it yet.
      seenMidway.push(await pushed(reader, 'one.ams'));
      await store.recordPush(runId, doc('two.ams'));
      throw new Error('this request failed after its first document');
    },
    async () => (await store.recordPush(runId, doc('three.ams'))).storedTypes,
  ]);
  t.same(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled'], 'each part settles on its own');
  t.same(seenMidway, [[]], 'nothing of the group is visible to another connection before the commit');
  t.match((settled[1] as PromiseRejectedResult).reason, { message: /failed after its first document/ });
  t.same(await pushed(reader, 'one.ams'), ['a=v1', 'b=x'], 'a part before the failed one is stored');
  t.same(await pushed(reader, 'two.ams'), ['a=v1', 'b=x'], 'the failed part keeps what it stored before failing');
  t.same(await pushed(reader, 'three.ams'), ['a=v1', 'b=x'], 'a part after the failed one is stored');

  // A second group: the same host changes; intervals as if each document had its own transaction.
  const again = await store.writeTogether([
    async () => store.recordPush(runId, { ...doc('one.ams', 'v2'), timestamp: at + 1000 }),
    async () => store.recordPush(runId, { ...doc('one.ams', 'v3'), timestamp: at + 2000 }),
  ]);
  t.same(again.map((s) => s.status), ['fulfilled', 'fulfilled']);
  const ref = await reader.findHost('one.ams');
  const history = (await reader.hostFacts(ref!, { history: true })).filter((f) => f.subtype === 'a').map((f) => `${f.value}:${f.current ? 'open' : 'closed'}`);
  t.same(history, ['v1:closed', 'v2:closed', 'v3:open'], 'two documents of one host in one group: two intervals closed in turn');
}

t.test('SQLite: parts share one commit, fail alone, and a locked file fails before any part', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  const store = await openAnyStore(file);
  t.teardown(() => store.close());
  const reader = await openAnyStore(file, { readonly: true });
  t.teardown(() => reader.close());
  await together(t, store, reader);

  const other = new Database(file);
  other.pragma('busy_timeout = 0');
  other.exec('BEGIN IMMEDIATE');
  (store as unknown as { database: Database.Database }).database.pragma('busy_timeout = 0');
  let ran = 0;
  await t.rejects(store.writeTogether([async () => { ran++; }]), StorageError, 'BEGIN fails while another writer holds the file');
  t.equal(ran, 0, 'no part ran');
  other.exec('ROLLBACK');
  other.close();
  const ok = await store.writeTogether([async () => { ran++; return 'done'; }]);
  t.same(ok, [{ status: 'fulfilled', value: 'done' }], 'the next group goes through once the file is free');
});

t.test('PostgreSQL: parts share one commit and fail alone', async (t) => {
  const store = await openTestPgStore(t, 'together');
  if (!store) return;
  const reader = await openAnyStore(store.path, { readonly: true });
  t.teardown(() => reader.close());
  await together(t, store, reader);
});
