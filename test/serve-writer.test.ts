// serve's write queue (serve/writer.ts) over a real SQLite store: pushes on their way join the open
// transaction as they come, a transaction the file refused is tried again with every part it had
// taken, and each request settles with its own answer.
import path from 'node:path';
import t from 'tap';
import { StorageError } from '../src/core/errors.js';
import { SerialWriter, type Together } from '../src/serve/writer.js';
import { openStore, type Parts } from '../src/store/store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a request on its way joins the open transaction; each settles with its own answer', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  let transactions = 0;
  const together: Together = (parts) => { transactions++; return store.writeTogether(parts); };
  const writer = new SerialWriter(together);
  const arrived = writer.expect(); // a body being checked
  store.database.exec('CREATE TABLE t (n INTEGER)');
  let secondQueued = false;
  let firstRanBeforeSecond = false;
  const first = writer.run(() => { firstRanBeforeSecond = !secondQueued; store.database.prepare('INSERT INTO t VALUES (1)').run(); return 'first'; });
  await sleep(15); // the transaction is open, waiting for the one on its way
  secondQueued = true;
  arrived();
  const second = writer.run(() => { store.database.prepare('INSERT INTO t VALUES (2)').run(); return 'second'; });
  t.equal(await second, 'second');
  t.equal(await first, 'first');
  t.equal(transactions, 1, 'one transaction took both');
  t.ok(firstRanBeforeSecond, 'the first was written at once, not after waiting for the second');
  const failing = writer.run(() => { throw new Error('this part fails'); });
  const after = writer.run(() => 'after');
  await t.rejects(failing, /this part fails/, 'a failed part is its own answer');
  t.equal(await after, 'after', 'the others go on');
  t.same(store.database.prepare('SELECT n FROM t ORDER BY n').all(), [{ n: 1 }, { n: 2 }]);
});

t.test('a transaction refused by a busy file is tried again with every part it had taken', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  store.database.exec('CREATE TABLE t (n INTEGER)');
  let tries = 0;
  // The first try takes one part, writes it, then the commit is refused as busy (rolled back).
  const together: Together = async <T>(parts: Parts<T>) => {
    tries++;
    if (tries > 1) return store.writeTogether(parts);
    return store.writeTogether((async function* () {
      for await (const p of parts as AsyncIterable<() => Promise<T>>) {
        yield p;
        break;
      }
      throw new StorageError('jf.db: cannot commit: SQLITE_BUSY: database is locked');
    })());
  };
  const writer = new SerialWriter(together);
  const a = writer.run(() => { store.database.prepare('INSERT INTO t VALUES (1)').run(); return 1; });
  const b = writer.run(() => { store.database.prepare('INSERT INTO t VALUES (2)').run(); return 2; });
  t.same(await Promise.all([a, b]), [1, 2], 'both answered');
  t.equal(tries, 2, 'tried again once');
  t.same(store.database.prepare('SELECT n FROM t ORDER BY n').all(), [{ n: 1 }, { n: 2 }], 'each written once: the part of the refused try again, not lost nor twice');
});
