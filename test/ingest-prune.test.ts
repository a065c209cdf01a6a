// The agent path and history pruning: ingest of single documents, arrays and NDJSON (file and
// stdin), every kind of malformed document rejected whole, out-of-order documents that never
// overwrite newer facts, a real run that then skips the pusher, an ingest waiting for a busy
// writer; prune archiving or deleting closed intervals older than AGE in batches, current facts
// untouched, and a concurrent writer that gets in between batches.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { ingestText, parseTimestamp, splitDocuments, validateDocument } from '../src/app/ingest.js';
import { Log } from '../src/app/log.js';
import { pruneFacts } from '../src/app/prune.js';
import { collectRun } from '../src/app/run.js';
import { loadConfig } from '../src/config/load.js';
import type { HostResult } from '../src/core/results.js';
import { openStore, type SqliteStore } from '../src/store/store.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';
import { FACT_LAST_SEEN, JOIN_FACT_TYPES } from '../src/store/migrations.js';
import { hostStates, currentFacts as currentFactsOf, lastRun } from './helpers/store-views.js';

const BIN = path.resolve('bin/jellyfish');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

function jf(args: string[], cwd: string, input?: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end(input ?? '');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function doc(host: string, ts: number | string, data: Record<string, Record<string, unknown>>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { collection_hostname: host, collection_timestamp: ts, collection_status: 'ok', collection_data: data, ...extra };
}

function count(store: SqliteStore, sql: string, ...params: unknown[]): number {
  return (store.database.prepare(sql).get(...params) as { n: number }).n;
}

function intervals(store: SqliteStore, host: string): string[] {
  return (store.database.prepare(
    `SELECT f.type, f.subtype, f.value, f.first_seen, ${FACT_LAST_SEEN} AS last_seen, f.is_current FROM facts f JOIN hosts h ON h.id = f.host_id ${JOIN_FACT_TYPES}
      WHERE h.name = ? ORDER BY f.type, f.subtype, f.first_seen`,
  ).all(host) as Record<string, unknown>[]).map((r) => `${r.type}.${r.subtype}=${r.value} ${r.first_seen}..${r.last_seen}${r.is_current ? ' current' : ''}`);
}

t.test('splitting input: one document, an array, NDJSON, back to back; a broken one costs only itself', async (t) => {
  const a = doc('a.example', 1795399200, { t: { s: 'v' } });
  const pretty = JSON.stringify(a, null, 2);
  t.same(splitDocuments(pretty).map((d) => [d.index, d.line]), [[1, 1]], 'one pretty-printed document');
  t.same(splitDocuments(`\uFEFF${JSON.stringify(a)}\n`).length, 1, 'a BOM is fine');
  t.same(splitDocuments('   \n\n').length, 0);

  const arr = splitDocuments(JSON.stringify([a, a, a], null, 2));
  t.same(arr.map((d) => d.index), [1, 2, 3], 'array elements are the documents');
  t.same(arr.map((d) => JSON.parse(d.text)), [a, a, a]);
  t.ok(arr[1]!.line > arr[0]!.line, 'each element knows its line');
  const brokenArr = splitDocuments(`[${JSON.stringify(a)}, {"collection_hostname": oops}, ${JSON.stringify(a)}]`);
  t.same(brokenArr.map((d) => validateDocument(d)).map((v) => 'error' in v), [false, true, false], 'a broken element is one bad document, not a broken array');

  const nd = [JSON.stringify(a), '{"collection_hostname": "trunc', '', JSON.stringify(a)].join('\n');
  const ndDocs = splitDocuments(nd);
  t.same(ndDocs.map((d) => [d.index, d.line]), [[1, 1], [2, 2], [3, 4]], 'NDJSON: one per line, blank lines skipped');
  t.same(ndDocs.map((d) => 'error' in validateDocument(d)), [false, true, false], 'a truncated line does not swallow the next one');

  const b2b = splitDocuments(`${JSON.stringify(a)}${JSON.stringify(a)}\n${pretty}\n${pretty}`);
  t.same(b2b.map((d) => d.line), [1, 1, 2, 2 + pretty.split('\n').length], 'back to back, compact and pretty');
  t.same(b2b.map((d) => 'error' in validateDocument(d)), [false, false, false, false]);
  const junk = splitDocuments(`${pretty}\nthis is junk\n${pretty}`);
  t.same(junk.map((d) => 'error' in validateDocument(d)), [false, true, false], 'junk between documents is one bad document');
});

t.test('timestamps: ISO 8601 or epoch seconds, nothing else', async (t) => {
  const want = Date.UTC(2026, 10, 23, 2, 0, 0);
  for (const v of ['2026-11-23T02:00:00Z', '2026-11-23T02:00:00.000Z', '2026-11-23T03:00:00+01:00', '2026-11-23T03:00:00+0100',
    '2026-11-22T21:00:00-05:00', '2026-11-23T02:00:00', '2026-11-23 02:00:00Z', '2026-11-23T02:00Z', want / 1000, String(want / 1000), want]) {
    t.equal(parseTimestamp(v), want, JSON.stringify(v));
  }
  t.equal(parseTimestamp('2026-11-23'), Date.UTC(2026, 10, 23), 'a date alone is midnight UTC');
  t.equal(parseTimestamp(1795399200.5), 1795399200500, 'fractional seconds');
  for (const v of ['2024-02-30', '2026-13-01T00:00:00Z', '2026-11-23T25:00:00Z', '2026-11-23T02:61:00Z', 'March 7, 2026', 'yesterday',
    '', '2026/11/23', '2026-11-23T02:00:00+25:00', null, true, {}, [], NaN]) {
    t.equal(parseTimestamp(v), undefined, `rejects ${JSON.stringify(v)}`);
  }
});

t.test('malformed documents are each rejected with a message naming the field, and nothing of them is stored', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const now = Date.now();
  const good = JSON.stringify(doc('good.example', iso(now), { packages: { openssl: '3.0.11-1', zlib1g: 1.2, enabled: true } }));
  const cases: [string, RegExp][] = [
    ['this is not json', /^not valid JSON/],
    ['"just a string"', /^expected a JSON object, got a string/],
    [JSON.stringify({ collection_timestamp: now / 1000, collection_data: {} }), /^collection_hostname: expected a non-empty string \(missing\)/],
    [JSON.stringify(doc('', now / 1000, {})), /^collection_hostname: expected a non-empty string/],
    [JSON.stringify(doc('$(reboot)', now / 1000, {})), /^collection_hostname: .* is not a valid hostname/],
    [JSON.stringify(doc('b.example', 'yesterday-ish', {})), /^collection_timestamp: expected an ISO 8601 time or epoch seconds, got 'yesterday-ish'/],
    [JSON.stringify({ collection_hostname: 'b.example', collection_data: {} }), /^collection_timestamp: missing/],
    [JSON.stringify(doc('b.example', iso(now + 2 * DAY), {})), /^collection_timestamp: .* is in the future/],
    [JSON.stringify(doc('b.example', 0, {})), /^collection_timestamp: .* before 2000/],
    [JSON.stringify(doc('b.example', now / 1000, ['x'] as never)), /^collection_data: expected an object of \{type: \{subtype: value\}\}, got an array/],
    [JSON.stringify({ collection_hostname: 'b.example', collection_timestamp: now / 1000 }), /^collection_data: .* got nothing \(missing\)/],
    [JSON.stringify(doc('b.example', now / 1000, { packages: 'openssl' as never })), /^collection_data\.packages: expected an object of \{subtype: value\}, got a string/],
    // The first type is fine, the second is not: the whole document goes, not half of it.
    [JSON.stringify(doc('half.example', now / 1000, { packages: { bash: '5.2' }, disks: { sda: { size: 1 } } })), /^collection_data\.disks\.sda: expected a string .*got an object/],
    [JSON.stringify(doc('b.example', now / 1000, { packages: { openssl: null } })), /^collection_data\.packages\.openssl: expected a string .*got null/],
    [JSON.stringify(doc('b.example', now / 1000, { packages: { openssl: ['1.1'] } })), /^collection_data\.packages\.openssl: expected a string .*got an array/],
    [JSON.stringify(doc('b.example', now / 1000, { 'odd.type': { 'a b': {} } })), /^collection_data\["odd\.type"\]\["a b"\]: expected a string/],
    [JSON.stringify(doc('b.example', now / 1000, { '': { a: '1' } })), /^collection_data: a type name is empty/],
    [JSON.stringify(doc('b.example', now / 1000, {}, { collection_status: 'maybe' })), /^collection_status: 'maybe' is not a known status/],
    [JSON.stringify(doc('b.example', now / 1000, {}, { collection_status: { ok: 1 } })), /^collection_status: expected a string, got an object/],
    [JSON.stringify(doc('b.example', now / 1000, {}, { pop: 7 })), /^pop: expected a string, got a number/],
  ];
  const input = [good, ...cases.map(([text]) => text), good].join('\n');
  const seen: number[] = [];
  const { summary, exitCode } = await ingestText(store, input, { onRejected: (r) => seen.push(r.doc) });
  t.equal(exitCode, 65, 'exit 65 when any document is invalid');
  t.equal(summary.stored, 2, 'the valid documents are stored');
  t.same(summary.rejected.map((r) => r.doc), cases.map((_, i) => i + 2), 'each bad document named by its position');
  t.same(seen, summary.rejected.map((r) => r.doc), 'reported as they are met');
  cases.forEach(([, re], i) => {
    t.match(summary.rejected[i]?.error, re, `doc ${i + 2}`);
    t.equal(summary.rejected[i]?.line, i + 2, `doc ${i + 2} line`);
  });
  t.same((await hostStates(store)).map((h) => h.name), ['good.example'], 'no host row from a rejected document');
  t.same((await currentFactsOf(store, 'good.example')).map((f) => `${f.subtype}=${f.value}`), ['enabled=true', 'openssl=3.0.11-1', 'zlib1g=1.2'], 'numbers and booleans taken as text');
  t.equal(count(store, 'SELECT COUNT(*) AS n FROM facts'), 3, 'no fact from a rejected document');
  t.equal(count(store, 'SELECT COUNT(*) AS n FROM attempts'), 2, 'one attempt per stored document');
  const run = (await lastRun(store));
  t.equal(run?.mode, 'ingest');
  t.equal(run?.exitCode, 65);
  t.same(JSON.parse(run?.summary ?? '{}').stored, 2, 'the summary is kept with the runs row');

  const none = await ingestText(store, '\n  \n');
  t.equal(none.exitCode, 65, 'no document at all is not success');
});

t.test('single document, array and NDJSON are stored through the interval logic; the push is history', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const t1 = Date.now() - 3 * HOUR;
  const t2 = Date.now() - 2 * HOUR;
  const t3 = Date.now() - HOUR;
  const prodStatuses = ['prod'];

  const one = await ingestText(store, JSON.stringify(doc('db1.example', iso(t1), { rkernel: { default: '6.1.0-7' }, packages: { openssl: '3.0.11-1', bash: '5.2' } },
    { pop: 'fra', srvtype: 'db', status: 'PROD' }), null, 2), { prodStatuses });
  t.same(one, { summary: { stored: 1, rejected: [], skipped_types: [] }, exitCode: 0 });
  const host = store.database.prepare('SELECT srvtype, pop, status, is_prod, sapi_at, last_success_at, last_outcome FROM hosts WHERE name = ?').get('db1.example');
  t.same(host, { srvtype: 'db', pop: 'fra', status: 'PROD', is_prod: 1, sapi_at: iso(t1), last_success_at: iso(t1), last_outcome: 'ok' }, 'a new host is created with what the agent says');

  const arr = await ingestText(store, JSON.stringify([
    doc('db1.example', Math.floor(t2 / 1000), { rkernel: { default: '6.1.0-7' }, packages: { openssl: '3.0.13-1', bash: '5.2' } }),
    doc('db2.example', Math.floor(t2 / 1000), { rkernel: { default: '5.15.0' } }, { srvtype: 'web' }),
  ]));
  t.equal(arr.summary.stored, 2);
  const nd = await ingestText(store, [
    JSON.stringify(doc('db1.example', iso(t3), { packages: { openssl: '3.0.13-1' } })),
    JSON.stringify(doc('db2.example', iso(t3), { rkernel: { default: '5.15.0' } })),
  ].join('\n'));
  t.equal(nd.summary.stored, 2);
  const s2 = iso(Math.floor(t2 / 1000) * 1000);
  t.same(intervals(store, 'db1.example'), [
    `packages.bash=5.2 ${iso(t1)}..${s2}`,
    `packages.openssl=3.0.11-1 ${iso(t1)}..${iso(t1)}`,
    `packages.openssl=3.0.13-1 ${s2}..${iso(t3)} current`,
    `rkernel.default=6.1.0-7 ${iso(t1)}..${s2} current`,
  ], 'unchanged moves last_seen, a new value opens, a value not pushed again closes, a type not pushed is left alone');

  // The same document twice changes nothing.
  const rows = await store.factRowCount();
  await ingestText(store, JSON.stringify(doc('db1.example', iso(t3), { packages: { openssl: '3.0.13-1' } })));
  t.equal(await store.factRowCount(), rows, 'an identical push adds no row');

  t.same((store.database.prepare("SELECT mode, exit_code FROM runs ORDER BY id").all()), Array(4).fill({ mode: 'ingest', exit_code: 0 }), 'every ingest is a runs row');
  t.same(store.database.prepare(
    `SELECT a.outcome, a.finished_at, group_concat(c.type || ':' || c.status) AS cols FROM attempts a JOIN hosts h ON h.id = a.host_id
      LEFT JOIN attempt_collections c ON c.attempt_id = a.id WHERE h.name = 'db2.example' GROUP BY a.id ORDER BY a.id`,
  ).all(), [{ outcome: 'ok', finished_at: s2, cols: 'rkernel:ok' }, { outcome: 'ok', finished_at: iso(t3), cols: 'rkernel:ok' }], 'attempts at the document times');
  t.same([...(await store.sapiHostsSince(t3))].sort(), ['db1.example', 'db2.example']);
});

t.test('out-of-order documents never overwrite newer facts', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const tNew = Date.now() - HOUR;
  const tOld = Date.now() - 5 * HOUR;
  await ingestText(store, JSON.stringify(doc('h1.example', iso(tNew), { rkernel: { default: '6.1.0-99' }, packages: { openssl: '3.0.13' } })));
  const before = intervals(store, 'h1.example');
  const old = await ingestText(store, JSON.stringify(doc('h1.example', iso(tOld), {
    rkernel: { default: '2.6.32' }, packages: { openssl: '1.0.2', telnetd: '0.17' }, memory: { MemTotal: '8 GB' },
  })));
  t.equal(old.exitCode, 0, 'skipping is not an error');
  t.same(old.summary, { stored: 1, rejected: [], skipped_types: [{ doc: 1, host: 'h1.example', types: ['rkernel', 'packages'] }] });
  t.same(intervals(store, 'h1.example'), [
    `memory.MemTotal=8 GB ${iso(tOld)}..${iso(tOld)} current`,
    ...before,
  ], 'newer types untouched (nothing closed, nothing opened); a type never seen is stored');
  const h = store.database.prepare("SELECT sapi_at, last_attempt_at, last_success_at FROM hosts WHERE name = 'h1.example'").get();
  t.same(h, { sapi_at: iso(tNew), last_attempt_at: iso(tNew), last_success_at: iso(tNew) }, 'the host times never move back');
  t.same(store.database.prepare("SELECT type, status, message FROM attempt_collections WHERE status = 'skipped' ORDER BY type").all(), [
    { type: 'packages', status: 'skipped', message: `older than what is stored (last observed ${iso(tNew)})` },
    { type: 'rkernel', status: 'skipped', message: `older than what is stored (last observed ${iso(tNew)})` },
  ], 'the skip is in the attempt history');

  // A run later found the type empty (every value closed): an older push must not reopen them.
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const tRun = Date.now() - 30 * 60_000;
  const r: HostResult = { label: 'h1.example', outcome: 'ok', startedAt: tRun, finishedAt: tRun, outputBytes: 0, collections: [{ type: 'packages', status: 'ok', values: {}, durationMs: 1 }] };
  store.recordResults(runId, [r]);
  t.equal((await currentFactsOf(store, 'h1.example', 'packages')).length, 0);
  const between = await ingestText(store, JSON.stringify(doc('h1.example', iso(tRun - 60_000), { packages: { openssl: '3.0.13' } })));
  t.same(between.summary.skipped_types, [{ doc: 1, host: 'h1.example', types: ['packages'] }]);
  t.equal((await currentFactsOf(store, 'h1.example', 'packages')).length, 0, 'still empty');
  // A failed collection is not an observation: a push older than it but newer than the facts is stored.
  store.recordResults(runId, [{ ...r, finishedAt: Date.now() - 60_000, collections: [{ type: 'rkernel', status: 'failed', durationMs: 1 }] }]);
  const afterFail = await ingestText(store, JSON.stringify(doc('h1.example', iso(Date.now() - 2 * 60_000), { rkernel: { default: '6.1.0-100' } })));
  t.same(afterFail.summary.skipped_types, []);
  t.same((await currentFactsOf(store, 'h1.example', 'rkernel')).map((f) => f.value), ['6.1.0-100']);
});

t.test('a failed push is recorded but stores nothing and does not excuse the host from runs', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const now = Date.now();
  store.upsertHosts([{ host: 'web1.example', label: 'web1.example', srvtype: 'web', pop: 'ams', status: 'prod', notes: '', isProd: true, line: 1 }]);
  const r = await ingestText(store, JSON.stringify(doc('WEB1.example.', iso(now), { packages: { a: '1' } }, { collection_status: 'failed', srvtype: 'db', pop: 'fra' })));
  t.equal(r.exitCode, 0, 'a well-formed document reporting a failure is stored as such');
  t.same((await hostStates(store)).map((h) => h.name), ['web1.example'], 'matched to the inventory spelling (case, trailing dot)');
  t.same(await currentFactsOf(store, 'web1.example'), [], 'no facts from a failed collection');
  t.same(store.database.prepare("SELECT outcome, code, message FROM attempts").all(), [{ outcome: 'error', code: 'AGENT', message: 'the host agent reported collection_status "failed"' }]);
  const h = store.database.prepare("SELECT srvtype, pop, sapi_at, last_outcome, last_code, last_success_at FROM hosts").get();
  t.same(h, { srvtype: 'web', pop: 'ams', sapi_at: null, last_outcome: 'error', last_code: 'AGENT', last_success_at: null }, 'inventory attributes kept; no sapi time');
  t.equal((await store.sapiHostsSince(now - DAY)).size, 0);
});

t.test('limits of a push: [sapi] max_skew, max_document, names up to 512 characters', async (t) => {
  const now = Date.now();
  const MIN = 60_000;
  const raw = (d: Record<string, unknown>) => ({ index: 1, line: 1, text: JSON.stringify(d) });
  const check = (d: Record<string, unknown>, opts = {}) => validateDocument(raw(d), { now, ...opts });
  // max_skew (default 5m): ten minutes ahead was taken before (the old limit was an hour).
  t.match(check(doc('a.example', iso(now + 10 * MIN), {})), { host: 'a.example', error: /^collection_timestamp: .* is in the future, more than \[sapi\] max_skew \(5m\) ahead/ });
  t.notOk('error' in check(doc('a.example', iso(now + 4 * MIN), {})), 'within 5m: taken');
  t.notOk('error' in check(doc('a.example', iso(now + 10 * MIN), {}), { maxSkewMs: 15 * MIN }), 'max_skew as configured');
  // max_document: counted in UTF-8 bytes before the document is parsed.
  const big = doc('a.example', iso(now), { packages: { x: 'é'.repeat(600) } });
  t.match(check(big, { maxDocumentBytes: 1024 }), { error: /^the document is \d+ bytes, more than \[sapi\] max_document \(1024 bytes\)/ });
  t.notOk('error' in check(big, { maxDocumentBytes: 4096 }));
  // Type and subtype names: 512 characters at most.
  const long = 'p'.repeat(513);
  t.match(check(doc('a.example', iso(now), { [long]: { a: '1' } })), { host: 'a.example', error: /^collection_data\["p{60}… \(513 characters\)"\]: the type name is 513 characters, more than 512$/ });
  t.match(check(doc('a.example', iso(now), { packages: { [long]: '1' } })), { host: 'a.example', error: /^collection_data\.packages\["p{60}… \(513 characters\)"\]: the subtype name is 513 characters, more than 512$/ });
  t.notOk('error' in check(doc('a.example', iso(now), { ['t'.repeat(512)]: { ['s'.repeat(512)]: '1' } })), '512 characters are fine');

  // Through the binary: the file, document, host and field named; exit 65; the rest stored.
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[storage]\ndatabase = var/jf.db\n[sapi]\nmax_document = 2KB\nmax_skew = 1m\n');
  fs.writeFileSync(path.join(dir, 'push.ndjson'), [
    JSON.stringify(doc('ok.example', iso(now), { rkernel: { default: '6.1' } })),
    JSON.stringify(doc('long.example', iso(now), { packages: { [long]: '1' } })),
    JSON.stringify(doc('big.example', iso(now), { packages: { x: 'y'.repeat(3000) } })),
    JSON.stringify(doc('ahead.example', iso(now + 3 * MIN), {})),
  ].join('\n') + '\n');
  const r = await jf(['ingest', 'push.ndjson', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 65, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.stored, 1);
  t.same(out.rejected.map((x: { doc: number; host?: string }) => [x.doc, x.host ?? null]), [[2, 'long.example'], [3, null], [4, 'ahead.example']]);
  t.match(r.stderr, /jellyfish: push\.ndjson: document 2 \(line 2, host long\.example\): collection_data\.packages\["p+… \(513 characters\)"\]: the subtype name is 513 characters, more than 512/);
  t.match(r.stderr, /jellyfish: push\.ndjson: document 3 \(line 3\): the document is \d+ bytes, more than \[sapi\] max_document \(2048 bytes\)/);
  t.match(r.stderr, /document 4 \(line 4, host ahead\.example\): collection_timestamp: .* more than \[sapi\] max_skew \(1m\)/);
});

t.test('the binary: stdin, a file, --help, and an unreadable input', async (t) => {
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[storage]\ndatabase = var/jf.db\n');
  const now = Math.floor(Date.now() / 1000);
  const nd = [
    JSON.stringify(doc('a1.example', now, { rkernel: { default: '6.1' } })),
    '{"collection_hostname": "a2.example", "collection_timestamp": ',
    JSON.stringify(doc('a3.example', now, { rkernel: { default: '6.1' } })),
  ].join('\n');
  const r = await jf(['ingest', '-', '-c', 'scheduler.ini'], dir, nd);
  t.equal(r.code, 65, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.stored, 2);
  t.same(out.rejected.map((x: { doc: number; line: number }) => [x.doc, x.line]), [[2, 2]]);
  t.match(r.stderr, /jellyfish: stdin: document 2 \(line 2\): not valid JSON/);
  t.equal(fs.statSync(path.join(dir, 'var/jf.db')).mode & 0o777, 0o600);

  fs.writeFileSync(path.join(dir, 'push.json'), JSON.stringify([doc('a4.example', now, {}), doc('a5.example', now, {})], null, 2));
  const f = await jf(['ingest', 'push.json', '-c', 'scheduler.ini', '--compact'], dir);
  t.equal(f.code, 0, f.stderr);
  t.equal(f.stdout, '{"rejected":[],"skipped_types":[],"stored":2}\n', 'stdout is the JSON summary only');
  t.equal(f.stderr, '');

  const missing = await jf(['ingest', 'nope.json', '-c', 'scheduler.ini'], dir);
  t.equal(missing.code, 65);
  t.match(missing.stderr, /nope\.json: cannot read: no such file/);
  const empty = await jf(['ingest', '-', '-c', 'scheduler.ini'], dir, '');
  t.equal(empty.code, 65);
  t.match(empty.stderr, /stdin: no document found/);
  t.equal((await jf(['ingest', '-c', 'scheduler.ini'], dir)).code, 64, 'FILE is required');

  const help = await jf(['ingest', '--help'], dir);
  t.equal(help.code, 0);
  for (const re of [/ISO 8601/, /epoch seconds/, /NDJSON/, /collection_data/, /skipped_types/, /65 some document invalid/, /\[sapi\] max_age/]) t.match(help.stdout, re);
  const phelp = await jf(['prune', '--help'], dir);
  for (const re of [/--older-than <age>/, /--delete/, /--dry-run/, /facts_archive/, /64 bad AGE/]) t.match(phelp.stdout, re);
});

t.test('an ingest waits for a writer that holds the database, then stores', async (t) => {
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[storage]\ndatabase = jf.db\n');
  openStore(path.join(dir, 'jf.db')).close();
  const other = new Database(path.join(dir, 'jf.db'));
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  const pending = jf(['ingest', '-', '-c', 'scheduler.ini'], dir, JSON.stringify(doc('w1.example', Math.floor(Date.now() / 1000), { t: { s: 'v' } })));
  await sleep(1500);
  other.exec('COMMIT');
  const r = await pending;
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).stored, 1);
  t.ok(r.ms >= 1400, `it waited for the other writer (${r.ms} ms)`);
});

t.test('ingest, then a real run over the fixture fleet skips the pusher while its push is recent', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 4, base: '127.34.0.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  const env = writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`) });
  const config = loadConfig({ file: env.ini });
  const store = openStore(env.db);
  t.teardown(() => store.close());
  const now = Date.now();
  const pushed = await ingestText(store, [
    JSON.stringify(doc('127.34.0.2', iso(now - HOUR), { rkernel: { default: '6.1.0-agent' } })),
    // Failed: recorded, but the run still collects the host.
    JSON.stringify(doc('127.34.0.3', iso(now - HOUR), {}, { collection_status: 'error' })),
    // Successful but older than [sapi] max_age (3d): the run collects it.
    JSON.stringify(doc('127.34.0.4', iso(now - 4 * DAY), { rkernel: { default: '4.19-ancient' } })),
  ].join('\n'), { prodStatuses: config.collector.prodStatuses });
  t.equal(pushed.summary.stored, 3);

  const collect = (c = config) => collectRun({ mode: 'run', config: c, inventoryFile: env.csv, log: new Log(false), lockFile: c.lockfile, threads: 8, limitMs: 60_000 });
  // .2 pushed but never had an SSH attempt: [sapi] verify_every has it collected all the same.
  const first = await collect();
  t.same(statusProblems(first.json, labels), [], 'every host in exactly one list');
  t.same(first.json.sapi_hosts_list, [], 'a host that only ever pushed is not vouched for by its push');
  t.same([...(first.json.global_success_hosts_list as string[])].sort(), labels, 'listed by the outcome of its SSH attempt');
  await ingestText(store, JSON.stringify(doc('127.34.0.2', iso(Date.now()), { rkernel: { default: '6.1.0-agent' } })));

  const run = await collect();
  t.same(statusProblems(run.json, labels), [], 'every host in exactly one list');
  t.same(run.json.sapi_hosts_list, ['127.34.0.2'], 'the recent pusher with a recent SSH attempt is skipped');
  t.same([...(run.json.global_success_hosts_list as string[])].sort(), ['127.34.0.1', '127.34.0.3', '127.34.0.4']);
  t.equal(run.exitCode, 0);
  t.same((await currentFactsOf(store, '127.34.0.2', 'rkernel')).map((f) => f.value), ['6.1.0-agent'], 'the pushed facts stand');

  // Its last SSH attempt older than verify_every: collected again, however recent the push.
  await sleep(1100);
  const due = await collect(loadConfig({ file: env.ini, overrides: new Map([['sapi.verify_every', '1s']]) }));
  t.same(due.json.sapi_hosts_list, [], 'verify_every elapsed: no longer skipped');
  t.ok((due.json.global_success_hosts_list as string[]).includes('127.34.0.2'));
  t.notSame((await currentFactsOf(store, '127.34.0.4', 'rkernel')).map((f) => f.value), ['4.19-ancient'], 'the collected kernel replaced the old push');
  t.equal(count(store, "SELECT COUNT(*) AS n FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name = '127.34.0.4' AND f.value = '4.19-ancient' AND f.is_current = 0"), 1, 'kept as a closed interval');

  // The push for .4 is older than what the run just collected: it is now out of order.
  const late = await ingestText(store, JSON.stringify(doc('127.34.0.4', iso(now - 2 * HOUR), { rkernel: { default: '4.19-ancient' } })));
  t.same(late.summary.skipped_types, [{ doc: 1, host: '127.34.0.4', types: ['rkernel'] }]);
});

/** `closedPerRun` values of one type, changed `runs` times at old timestamps: (runs - 1) * closedPerRun closed rows. */
async function history(store: SqliteStore, host: string, closedPerRun: number, runs: number, firstAt: number, stepMs: number): Promise<void> {
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(firstAt), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  for (let i = 0; i < runs; i++) {
    const values: Record<string, string> = {};
    for (let k = 0; k < closedPerRun; k++) values[`p${k}`] = `v${i}`;
    const at = firstAt + i * stepMs;
    store.recordResults(runId, [{ label: host, outcome: 'ok', startedAt: at, finishedAt: at, outputBytes: 0, collections: [{ type: 'packages', status: 'ok', values, durationMs: 1 }] }]);
  }
}

t.test('prune archives (or deletes) closed intervals older than AGE; current facts are never touched', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'jf.db');
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), `[storage]\ndatabase = ${db}\n`);
  const store = openStore(db);
  const now = Date.now();
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(now - 100 * DAY), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const rec = (label: string, at: number, values: Record<string, string>) => store.recordResults(runId, [
    { label, outcome: 'ok', startedAt: at, finishedAt: at, outputBytes: 0, collections: [{ type: 'pkg', status: 'ok', values, durationMs: 1 }] },
  ]);
  rec('h1', now - 10 * DAY, { a: '1', b: '1' });
  rec('h1', now - 5 * DAY, { a: '2', b: '1' });
  rec('h1', now - HOUR, { a: '3', b: '1' });
  // A host not reached for 100 days: its current facts are old, and stay.
  rec('h2', now - 100 * DAY, { a: '1' });
  const current = JSON.stringify(store.database.prepare('SELECT * FROM facts WHERE is_current = 1 ORDER BY id').all());
  t.equal(count(store, 'SELECT COUNT(*) AS n FROM facts WHERE is_current = 0'), 2);
  store.close();

  const dry = await jf(['prune', '-c', 'scheduler.ini', '--older-than', '7d', '--dry-run', '--compact'], dir);
  t.equal(dry.stdout, '{"dry_run":true,"would_archive":1}\n', dry.stderr);
  const p7 = await jf(['prune', '-c', 'scheduler.ini', '--older-than', '7d'], dir);
  t.equal(p7.code, 0, p7.stderr);
  t.same(JSON.parse(p7.stdout), { archived: 1 });
  const s1 = openStore(db);
  t.teardown(() => s1.close());
  t.same(s1.database.prepare('SELECT subtype, value, first_seen, last_seen FROM facts_archive').all(),
    [{ subtype: 'a', value: '1', first_seen: iso(now - 10 * DAY), last_seen: iso(now - 10 * DAY) }], 'the 10-day-old interval went to the archive');
  t.ok(Date.now() - Date.parse((s1.database.prepare('SELECT archived_at FROM facts_archive').get() as { archived_at: string }).archived_at) < 60_000, 'archived_at is now');
  t.equal(count(s1, 'SELECT COUNT(*) AS n FROM facts WHERE is_current = 0'), 1, 'the 5-day-old one stays');

  const del = await jf(['prune', '-c', 'scheduler.ini', '--older-than', '2d', '--delete'], dir);
  t.same(JSON.parse(del.stdout), { deleted: 1 });
  t.equal(count(s1, 'SELECT COUNT(*) AS n FROM facts WHERE is_current = 0'), 0);
  t.equal(count(s1, 'SELECT COUNT(*) AS n FROM facts_archive'), 1, '--delete does not archive');
  t.same(JSON.parse((await jf(['prune', '-c', 'scheduler.ini', '--older-than', '1ms'], dir)).stdout), { archived: 0 });
  t.equal(JSON.stringify(s1.database.prepare('SELECT * FROM facts WHERE is_current = 1 ORDER BY id').all()), current, 'current facts untouched, even 100 days old');

  for (const bad of ['old', '-1d', '7 weeks', '']) {
    const r = await jf(['prune', '-c', 'scheduler.ini', '--older-than', bad], dir);
    t.equal(r.code, 64, `--older-than ${JSON.stringify(bad)}`);
    t.equal(r.stdout, '');
  }
  t.equal((await jf(['prune', '-c', 'scheduler.ini'], dir)).code, 64, '--older-than is required');
  fs.writeFileSync(path.join(dir, 'nodb.ini'), `[storage]\ndatabase = ${path.join(dir, 'none', 'jf.db')}\n`);
  const nodb = await jf(['prune', '-c', 'nodb.ini', '--older-than', '1d'], dir);
  t.equal(nodb.code, 74);
  t.match(nodb.stderr, /no database yet at .*: nothing to prune/);
  t.notOk(fs.existsSync(path.join(dir, 'none')), 'no database is created just to prune it');
});

t.test('prune works in batches of 5,000', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'jf.db');
  const store = openStore(db);
  await history(store, 'h1', 6_000, 3, Date.now() - 30 * DAY, DAY);
  t.equal(count(store, 'SELECT COUNT(*) AS n FROM facts WHERE is_current = 0'), 12_000);
  const batches: number[] = [];
  const n = await pruneFacts(store, { beforeMs: Date.now() - DAY, mode: 'archive', pauseMs: 0, onBatch: (b) => batches.push(b) });
  t.equal(n, 12_000);
  t.same(batches, [5_000, 5_000, 2_000], 'bounded transactions');
  t.equal(count(store, 'SELECT COUNT(*) AS n FROM facts_archive'), 12_000);
  t.equal(count(store, 'SELECT COUNT(*) AS n FROM facts WHERE is_current = 0'), 0);
  t.equal(count(store, 'SELECT COUNT(*) AS n FROM facts WHERE is_current = 1'), 6_000);
  store.close();

  // The binary, deleting.
  const db2 = path.join(dir, 'jf2.db');
  const s2 = openStore(db2);
  await history(s2, 'h1', 6_000, 3, Date.now() - 30 * DAY, DAY);
  s2.close();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), `[storage]\ndatabase = ${db2}\n`);
  const r = await jf(['prune', '-c', 'scheduler.ini', '--older-than', '1d', '--delete'], dir);
  t.same(JSON.parse(r.stdout), { deleted: 12_000 });
});

t.test('a writer in another process gets in between prune batches', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'jf.db');
  const store = openStore(db);
  await history(store, 'h1', 10_000, 5, Date.now() - 30 * DAY, DAY);
  store.close();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), `[storage]\ndatabase = ${db}\n`);
  // A run's writer waits 1 s per try (WRITER_BUSY_MS in app/run.ts); this one gives up after 1 s.
  const writer = new Database(db);
  t.teardown(() => writer.close());
  writer.pragma('busy_timeout = 1000');
  const insert = writer.prepare("INSERT INTO runs (mode, started_at) VALUES ('probe', ?)");
  const write = writer.transaction(() => insert.run(new Date().toISOString()));
  let done = false;
  const pruning = jf(['prune', '-c', 'scheduler.ini', '--older-than', '1d'], dir).finally(() => { done = true; });
  const waits: number[] = [];
  const failures: string[] = [];
  while (!done) {
    const started = Date.now();
    try {
      write.immediate();
    } catch (e) {
      failures.push((e as Error).message);
    }
    waits.push(Date.now() - started);
    await sleep(20);
  }
  const r = await pruning;
  t.same(JSON.parse(r.stdout), { archived: 40_000 }, r.stderr);
  t.same(failures, [], 'the other writer never gave up');
  t.ok(waits.length >= 5, `it wrote ${waits.length} times during the prune`);
  t.ok(Math.max(...waits) < 1000, `longest wait ${Math.max(...waits)} ms`);
});
