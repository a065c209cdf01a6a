// The fact-interval rule both engines write through (src/store/intervals.ts), on its own: which
// current facts close, which values open, what the change feed records.
import t from 'tap';
import { diffCurrent, seenValues } from '../src/store/intervals.js';

t.test('unchanged values stay open; a different value closes the old and opens the new (changed); gone is removed; new is added', async (t) => {
  const current: [number, string, string][] = [[1, 'openssl', '3.0.11'], [2, 'bash', '5.2'], [3, 'zlib', '1.2']];
  const d = diffCurrent(current, seenValues({ openssl: '3.0.15', bash: '5.2', curl: '8.5' }), true);
  t.same(d.close, [1, 3], 'the changed and the gone value close; the unchanged one stays');
  t.same([...d.open], [['openssl', '3.0.15'], ['curl', '8.5']], 'the new values open');
  t.same(d.changes, [
    { subtype: 'openssl', change: 'changed', old: '3.0.11', now: '3.0.15' },
    { subtype: 'curl', change: 'added', old: null, now: '8.5' },
    { subtype: 'zlib', change: 'removed', old: '1.2', now: null },
  ]);
});

t.test('outside the change feed (a host\'s first collection) the intervals move the same and nothing is recorded', async (t) => {
  const d = diffCurrent([[7, 'a', '1']], seenValues({ a: '2' }), false);
  t.same(d.close, [7]);
  t.same([...d.open], [['a', '2']]);
  t.same(d.changes, []);
});

t.test('a type new on the host: everything opens, and is added when in the feed', async (t) => {
  const d = diffCurrent([], seenValues({ x: '1', y: '2' }), true);
  t.same(d.close, []);
  t.same(d.changes.map((c) => `${c.change} ${c.subtype}`), ['added x', 'added y']);
});

t.test('the same values again change nothing', async (t) => {
  const d = diffCurrent([[1, 'k', 'v'], [2, 'l', 'w']], seenValues({ k: 'v', l: 'w' }), true);
  t.same(d.close, []);
  t.equal(d.open.size, 0);
  t.same(d.changes, []);
});

t.test('values are stored as text, through the engine\'s own text cleaning', async (t) => {
  const seen = seenValues({ n: 5 as unknown as string, b: true as unknown as string, s: 'a\u0000b' }, (s) => s.replace(/\u0000/g, '\uFFFD'));
  t.same([...seen], [['n', '5'], ['b', 'true'], ['s', 'a\uFFFDb']]);
  // A value equal after cleaning is the same value: no close, no open.
  const d = diffCurrent([[1, 's', 'a\uFFFDb']], seen, true);
  t.same(d.close, []);
  t.notOk(d.open.has('s'));
});
