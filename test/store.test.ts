// The SQLite store on its own: migrations applied once (also when several processes open a new
// file together), 0600 file / 0700 folder, fact intervals, a failed collection that leaves facts
// alone, hostile values stored verbatim, and StorageError (exit 74) for files it cannot use.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { StorageError } from '../src/core/errors.js';
import type { InventoryHost } from '../src/inventory/host.js';
import { OUTCOMES, type CollectionResult, type HostResult } from '../src/core/results.js';
import { FACT_LAST_SEEN, JOIN_FACT_TYPES, MIGRATIONS } from '../src/store/migrations.js';
import { openStore, type SqliteStore } from '../src/store/store.js';
import { CURRENT_OF_TYPE } from '../src/store/sqlite/store.js';
import { jf } from './helpers/jellyfish-cli.js';
import { hostStates, currentFacts as currentFactsOf, lastRun } from './helpers/store-views.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (h: number) => T0 + h * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

function result(label: string, finishedAt: number, collections: CollectionResult[], outcome: HostResult['outcome'] = 'ok'): HostResult {
  return { label, outcome, startedAt: finishedAt - 1000, finishedAt, collections, outputBytes: 0 };
}
const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 1 });

function history(store: SqliteStore, host: string, type: string): { subtype: string; value: string; first_seen: string; last_seen: string; is_current: number }[] {
  return store.database.prepare(
    // A current fact was last seen when its type was (fact_types); a closed one keeps its own.
    `SELECT f.subtype, f.value, f.first_seen, ${FACT_LAST_SEEN} AS last_seen, f.is_current FROM facts f JOIN hosts h ON h.id = f.host_id ${JOIN_FACT_TYPES}
      WHERE h.name = ? AND f.type = ? ORDER BY f.subtype, f.first_seen`,
  ).all(host, type) as never;
}

t.test('migrations are recorded once, also when several processes open a new file at once', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'jf.db');
  const versions = MIGRATIONS.map((m) => m.version);
  t.same(versions, versions.map((_, i) => i + 1), 'migrations are numbered 1..N');
  openStore(file).close();
  const recorded = () => {
    const db = new Database(file, { readonly: true });
    try { return db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all(); } finally { db.close(); }
  };
  const first = recorded();
  for (let i = 0; i < 3; i++) openStore(file).close();
  t.same(recorded(), first, 'reopening applies nothing again (applied_at unchanged)');
  const db = new Database(file, { readonly: true });
  t.same((db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version), versions);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  t.match(tables, ['analyze_runs', 'api_tokens', 'attempt_collections', 'attempts', 'audit_collate', 'audit_results', 'audits', 'fact_changes', 'fact_types', 'facts', 'facts_archive', 'hosts', 'run_locks', 'runs', 'schema_migrations']);
  db.close();

  // Two processes open a new file together (a run and an ingest started by cron in the same
  // minute): both see no migration applied, then queue for the write lock. The one that gets it
  // second must find the schema ready, not fail on "table hosts already exists".
  const race = path.join(dir, 'race.db');
  const held = new Database(race);
  held.pragma('journal_mode = WAL');
  held.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  held.exec('BEGIN IMMEDIATE');
  // The children load the TypeScript source (not dist/, which may be older than it).
  const storeUrl = pathToFileURL(path.resolve('src/store/store.ts')).href;
  const code = `const { openStore } = await import(${JSON.stringify(storeUrl)}); openStore(${JSON.stringify(race)}).close();`;
  const openers = Array.from({ length: 3 }, () => new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code]);
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d; });
    child.on('close', (c) => resolve({ code: c, err }));
  }));
  await new Promise((r) => setTimeout(r, 1500));
  held.exec('COMMIT');
  held.close();
  const exits = await Promise.all(openers);
  t.same(exits.map((e) => e.code), [0, 0, 0], exits.map((e) => e.err).join(''));
  const rdb = new Database(race, { readonly: true });
  t.equal((rdb.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n, versions.length, 'each migration recorded once');
  rdb.close();
});

t.test('a database from a newer jellyfish is refused, not migrated', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  openStore(file).close();
  const db = new Database(file);
  db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00Z')").run();
  db.close();
  t.throws(() => openStore(file), { name: 'StorageError', exitCode: 74, message: /schema is at version 999, newer than this jellyfish knows/ });
});

/** A database as an older jellyfish left it: the migrations up to `version` applied, open for writing. */
function databaseAtVersion(file: string, version: number): Database.Database {
  const db = new Database(file);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00Z');
  }
  return db;
}

t.test('migration 3 keeps archived rows and lets a reused fact id be archived again', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  // A database as version 2 left it, with one archived row.
  const old = databaseAtVersion(file, 2);
  old.prepare("INSERT INTO hosts (id, name, first_seen_at) VALUES (1, 'h1', '2026-01-01T00:00:00Z')").run();
  old.prepare("INSERT INTO facts_archive VALUES (7, 1, 'rkernel', 'default', '5.10', '2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z', '2026-01-01T00:00:00Z')").run();
  old.close();

  const store = openStore(file);
  t.teardown(() => store.close());
  t.same(store.database.prepare('SELECT id, value FROM facts_archive').all(), [{ id: 7, value: '5.10' }], 'archived row kept');
  // The highest fact id is pruned, and SQLite hands the same id to the next fact.
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result('h1', at(1), [ok('t', { a: '1' })])]);
  store.recordResults(runId, [result('h1', at(2), [ok('t', {})])]);
  const id = (store.database.prepare('SELECT MAX(id) AS id FROM facts').get() as { id: number }).id;
  t.equal(store.pruneBatch(iso(at(3)), 'archive', 10), 1);
  store.recordResults(runId, [result('h1', at(4), [ok('t', { a: '2' })])]);
  store.recordResults(runId, [result('h1', at(5), [ok('t', {})])]);
  t.equal((store.database.prepare('SELECT MAX(id) AS id FROM facts').get() as { id: number }).id, id, 'the id was reused');
  t.equal(store.pruneBatch(iso(at(6)), 'archive', 10), 1, 'archiving the reused id does not conflict');
  t.same(store.database.prepare('SELECT id, value FROM facts_archive WHERE id = ? ORDER BY value').all(id), [{ id, value: '1' }, { id, value: '2' }]);
});

t.test('migration 5 carries current facts over to fact_types; a reader of an older schema is told to run once', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  // A database as version 4 left it: last_seen on every current fact, one closed interval.
  const old = databaseAtVersion(file, 4);
  old.prepare("INSERT INTO hosts (id, name, first_seen_at) VALUES (1, 'h1', ?)").run(iso(at(1)));
  const add = old.prepare('INSERT INTO facts (host_id, type, subtype, value, first_seen, last_seen, is_current) VALUES (1, ?, ?, ?, ?, ?, ?)');
  add.run('pkg', 'a', '1', iso(at(1)), iso(at(3)), 1);
  add.run('pkg', 'b', '2', iso(at(2)), iso(at(3)), 1);
  add.run('pkg', 'c', '9', iso(at(1)), iso(at(2)), 0);
  add.run('kern', 'default', '6.1', iso(at(1)), iso(at(2)), 1);
  old.close();

  const ro = () => openStore(file, { readonly: true });
  t.throws(ro, { name: 'StorageError', exitCode: 74, message: /schema is at version 4, older than this jellyfish's \(\d+\); the next `jellyfish run`/ });
  const store = openStore(file);
  t.teardown(() => store.close());
  t.same(store.database.prepare('SELECT type, last_seen FROM fact_types ORDER BY type').all(), [
    { type: 'kern', last_seen: iso(at(2)) }, { type: 'pkg', last_seen: iso(at(3)) },
  ], 'one row per host and type, at its current facts\' last sighting');
  t.same(history(store, 'h1', 'pkg'), [
    { subtype: 'a', value: '1', first_seen: iso(at(1)), last_seen: iso(at(3)), is_current: 1 },
    { subtype: 'b', value: '2', first_seen: iso(at(2)), last_seen: iso(at(3)), is_current: 1 },
    { subtype: 'c', value: '9', first_seen: iso(at(1)), last_seen: iso(at(2)), is_current: 0 },
  ], 'the intervals read as before');
  // The next run: a stays, b is gone (closed at its last sighting, at(3)), d opens.
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(4)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result('h1', at(5), [ok('pkg', { a: '1', d: '4' })])]);
  t.same(history(store, 'h1', 'pkg'), [
    { subtype: 'a', value: '1', first_seen: iso(at(1)), last_seen: iso(at(5)), is_current: 1 },
    { subtype: 'b', value: '2', first_seen: iso(at(2)), last_seen: iso(at(3)), is_current: 0 },
    { subtype: 'c', value: '9', first_seen: iso(at(1)), last_seen: iso(at(2)), is_current: 0 },
    { subtype: 'd', value: '4', first_seen: iso(at(5)), last_seen: iso(at(5)), is_current: 1 },
  ]);
  t.same((await currentFactsOf(store, 'h1', 'kern')).map((f) => f.lastSeen), [iso(at(2))], 'a type not collected keeps its last sighting');
  const reader = ro();
  reader.close();
});

t.test('the database file is 0600 and its new folders 0700, whatever the umask', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'var', 'deep', 'jf.db');
  const old = process.umask(0);
  let store: SqliteStore;
  try {
    store = openStore(file);
  } finally {
    process.umask(old);
  }
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result('h1', Date.now(), [ok('t', { a: '1' })])]);
  const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
  t.equal(mode(file), '600');
  t.equal(mode(`${file}-wal`), '600', 'the WAL file too');
  t.equal(mode(`${file}-shm`), '600', 'and the shared-memory file');
  t.equal(mode(path.join(dir, 'var')), '700');
  t.equal(mode(path.join(dir, 'var', 'deep')), '700');
  store.close();
});

t.test('fact intervals: unchanged moves last_seen, new opens, unseen closes, a returning value opens a new row', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result('h1', at(1), [ok('pkg', { a: '1', b: '2' })])]);
  store.recordResults(runId, [result('h1', at(2), [ok('pkg', { a: '1', b: '3' })])]);
  store.recordResults(runId, [result('h1', at(3), [ok('pkg', { a: '1' })])]);
  store.recordResults(runId, [result('h1', at(4), [ok('pkg', { a: '1', b: '2' })])]);
  t.same(history(store, 'h1', 'pkg'), [
    { subtype: 'a', value: '1', first_seen: iso(at(1)), last_seen: iso(at(4)), is_current: 1 },
    { subtype: 'b', value: '2', first_seen: iso(at(1)), last_seen: iso(at(1)), is_current: 0 },
    { subtype: 'b', value: '3', first_seen: iso(at(2)), last_seen: iso(at(2)), is_current: 0 },
    { subtype: 'b', value: '2', first_seen: iso(at(4)), last_seen: iso(at(4)), is_current: 1 },
  ]);
  t.same((await currentFactsOf(store, 'h1')).map((f) => `${f.subtype}=${f.value}`), ['a=1', 'b=2']);
  const rows = await store.factRowCount();
  store.recordResults(runId, [result('h1', at(5), [ok('pkg', { a: '1', b: '2' })])]);
  t.equal(await store.factRowCount(), rows, 'an unchanged collection adds no row');
});

t.test('a failed collection or an unreachable host leaves facts untouched', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result('h1', at(1), [ok('pkg', { a: '1' }), ok('kern', { default: '6.1' })])]);
  const before = [...history(store, 'h1', 'pkg'), ...history(store, 'h1', 'kern')];
  store.recordResults(runId, [result('h1', at(2), [
    { type: 'pkg', status: 'failed', exitCode: 1, message: 'dpkg: error', durationMs: 1 },
    { type: 'kern', status: 'timeout', message: 'timed out', durationMs: 1 },
  ], 'partial')]);
  store.recordResults(runId, [result('h1', at(3), [], 'unreachable')]);
  t.same([...history(store, 'h1', 'pkg'), ...history(store, 'h1', 'kern')], before, 'not closed, last_seen not moved');
  const h = (await hostStates(store)).find((s) => s.name === 'h1');
  t.equal(h?.lastOutcome, 'unreachable');
  t.equal(h?.lastSuccessAt, iso(at(2)), 'the partial attempt still counts as a success');
  const attempts = store.database.prepare('SELECT outcome FROM attempts ORDER BY id').all();
  t.same(attempts, [{ outcome: 'ok' }, { outcome: 'partial' }, { outcome: 'unreachable' }], 'every attempt recorded');
});

t.test('SQL- and shell-looking names and values are stored verbatim and never run', async (t) => {
  const dir = t.testdir();
  const store = openStore(path.join(dir, 'jf.db'));
  t.teardown(() => store.close());
  const canary = path.join(dir, 'canary');
  const hostile: Record<string, string> = {
    "x'; DROP TABLE facts; --": "'); DELETE FROM hosts; --",
    '$(touch CANARY)': `\`touch ${canary}\`; touch ${canary}`,
    "'; DROP TABLE facts; --": '$(rm -rf /)',
    '__proto__': 'not a prototype',
    constructor: '%s %n %x {{7*7}} ${7*7}',
    'tab\there': 'line1\nline2\r\n\u001b[31mred\u001b[0m',
    'ünïcödé 🐟': '日本語 — ✓',
    long: 'v'.repeat(1_000_000),
    empty: '',
  };
  const values: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(hostile)) values[k] = v.replace('CANARY', canary);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result("h'1; rm -rf /", Date.now(), [ok("type\"; --", values)])]);
  const got = Object.fromEntries((await currentFactsOf(store, "h'1; rm -rf /", "type\"; --")).map((f) => [f.subtype, f.value]));
  t.equal(Object.keys(got).length, Object.keys(values).length);
  for (const [k, v] of Object.entries(values)) t.equal(got[k], v, `${JSON.stringify(k.slice(0, 20))} verbatim`);
  t.equal(got.long?.length, 1_000_000, 'a 1 MB value is not truncated');
  t.notOk(fs.existsSync(canary), 'nothing was executed');
  t.equal(store.integrityCheck(), 'ok');
});

t.test('a transaction that fails leaves no trace, and the next one for the same host works', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  // Fail after the new host row was inserted, inside the same transaction.
  store.database.exec("CREATE TEMP TRIGGER boom BEFORE INSERT ON attempts WHEN NEW.message = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
  const bad = { ...result('new.example', Date.now(), [ok('t', { a: '1' })]), message: 'boom' };
  t.throws(() => store.recordResults(runId, [result('h0', Date.now(), []), bad]), { name: 'StorageError', exitCode: 74, message: /nothing of it was written/ });
  t.same((await hostStates(store)).map((h) => h.name), [], 'the whole batch rolled back');
  store.database.exec('DROP TRIGGER boom');
  store.recordResults(runId, [result('new.example', Date.now(), [ok('t', { a: '1' })])]);
  t.same((await currentFactsOf(store, 'new.example')).map((f) => f.value), ['1']);
});

t.test('StorageError (exit 74) for a file that is not SQLite or a path that cannot be written', async (t) => {
  const dir = t.testdir({ 'notes.db': 'this is a text file, not a database\n'.repeat(200), 'plain-file': 'x', folder: {} });
  const notDb = path.join(dir, 'notes.db');
  for (const opts of [{}, { readonly: true }]) {
    let err: unknown;
    try { openStore(notDb, opts).close(); } catch (e) { err = e; }
    t.ok(err instanceof StorageError, `not SQLite (${JSON.stringify(opts)}): StorageError`);
    t.match(err, { exitCode: 74, message: /notes\.db: cannot open the database: .*(not a database|SQLITE_NOTADB)/ });
  }
  t.equal(fs.readFileSync(notDb, 'utf8').slice(0, 9), 'this is a', 'the foreign file is left alone');
  t.throws(() => openStore(path.join(dir, 'plain-file', 'jf.db')), { name: 'StorageError', exitCode: 74 }, 'a folder that is a file');
  t.throws(() => openStore(path.join(dir, 'folder')), { name: 'StorageError', exitCode: 74 }, 'a path that is a folder');
  t.throws(() => openStore(path.join(dir, 'missing.db'), { readonly: true }), { name: 'StorageError', exitCode: 74 });
  const empty = new Database(path.join(dir, 'other.db'));
  empty.exec('CREATE TABLE x (y)');
  empty.close();
  t.throws(() => openStore(path.join(dir, 'other.db'), { readonly: true }), { name: 'StorageError', message: /not a jellyfish database/ });

  // Through the binary: the exit code a cron wrapper sees.
  fs.writeFileSync(path.join(dir, 'notdb.ini'), `[storage]\ndatabase = ${notDb}\n`);
  fs.writeFileSync(path.join(dir, 'unwritable.ini'), `[storage]\ndatabase = ${path.join(dir, 'plain-file', 'jf.db')}\n`);
  const prune = await jf(['prune', '-c', 'notdb.ini', '--older-than', '1d'], dir);
  t.equal(prune.code, 74, prune.stderr);
  t.match(prune.stderr, /jellyfish: error: .*notes\.db: cannot open the database/);
  t.equal(prune.stdout, '', 'no JSON that could pass for a result');
  fs.writeFileSync(path.join(dir, 'doc.json'), JSON.stringify({ collection_hostname: 'a.example', collection_timestamp: Math.floor(Date.now() / 1000), collection_data: {} }));
  const ingest = await jf(['ingest', 'doc.json', '-c', 'unwritable.ini'], dir);
  t.equal(ingest.code, 74, ingest.stderr);
  t.match(ingest.stderr, /cannot open the database/);
});

const inv = (label: string, status: string, srvtype = 'web'): InventoryHost => ({
  label, host: label.replace(/:\d+$/, ''), srvtype, pop: 'ams', status, notes: '', isProd: status === 'prod', line: 1,
});

t.test('every attempt is recorded whatever its outcome; last_success_at only moves on ok/partial', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  // One host per outcome, the failures with no collection at all (they never got that far).
  store.recordResults(runId, OUTCOMES.map((o, i) => ({
    ...result(`${o}.example:2222`, at(1) + i, o === 'ok' || o === 'partial'
      ? [ok('t', { a: o }), { type: 'u', status: 'failed', exitCode: 127, message: 'not found', durationMs: 2 }]
      : [], o),
    ...(o === 'ok' ? {} : { code: 'ETIMEDOUT' as const, message: `why ${o}` }),
  })));
  const rows = store.database.prepare(
    `SELECT h.name, a.outcome, a.code, a.message, a.run_id, a.duration_ms, (SELECT COUNT(*) FROM attempt_collections c WHERE c.attempt_id = a.id) AS n
       FROM attempts a JOIN hosts h ON h.id = a.host_id ORDER BY a.id`,
  ).all() as { name: string; outcome: string; code: string | null; n: number; run_id: number; duration_ms: number }[];
  t.same(rows.map((r) => r.outcome), [...OUTCOMES], 'one attempt per outcome, hosts not in the inventory created on the way');
  t.ok(rows.every((r) => r.run_id === runId && r.duration_ms === 1000));
  t.same(rows.map((r) => r.n), OUTCOMES.map((o) => (o === 'ok' || o === 'partial' ? 2 : 0)));
  const states = new Map((await hostStates(store)).map((h) => [h.name, h]));
  for (const [i, o] of OUTCOMES.entries()) {
    const h = states.get(`${o}.example:2222`);
    t.equal(h?.lastOutcome, o);
    t.equal(h?.lastAttemptAt, iso(at(1) + i));
    t.equal(h?.lastSuccessAt, o === 'ok' || o === 'partial' ? iso(at(1) + i) : null, `${o}: last success`);
    t.equal(h?.lastCode, o === 'ok' ? null : 'ETIMEDOUT');
  }
  // A later failure keeps the last success and replaces the last error.
  store.recordResults(runId, [{ ...result('ok.example:2222', at(2), [], 'auth_failed'), code: 'AUTH', message: 'denied' }]);
  const h = (await hostStates(store)).find((s) => s.name === 'ok.example:2222');
  t.match(h, { lastOutcome: 'auth_failed', lastCode: 'AUTH', lastMessage: 'denied', lastAttemptAt: iso(at(2)), lastSuccessAt: iso(at(1)) });
  await store.finishRun(runId, new Date(at(3)), 1, '{"exit_code":1}');
  t.match((await lastRun(store)), { id: runId, mode: 'run', startedAt: iso(at(0)), finishedAt: iso(at(3)), exitCode: 1, summary: '{"exit_code":1}' });
});

t.test('inventory upsert, lastSuccessByHost and sapiHostsSince', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  t.same(await store.lastSuccessByHost(), new Map(), 'empty database');
  t.same(await store.sapiHostsSince(0), new Set());
  t.equal((await lastRun(store)), undefined);
  store.upsertHosts([inv('a.ams', 'prod'), inv('db7.ams:2222', 'spare'), inv('[2001:db8::7]:2222', 'prod'), inv('agent.ams', 'prod')]);
  store.upsertHosts([inv('db7.ams:2222', 'prod', 'db')]);
  const row = store.database.prepare("SELECT srvtype, status, is_prod FROM hosts WHERE name = 'db7.ams:2222'").get();
  t.same(row, { srvtype: 'db', status: 'prod', is_prod: 1 }, 'a known host takes the inventory\'s new values');
  t.equal((await hostStates(store)).length, 4, 'no duplicate row');

  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [
    result('a.ams', at(1), [ok('t', { a: '1' })]),
    result('db7.ams:2222', at(2), [{ type: 't', status: 'failed', durationMs: 1 }], 'partial'),
    result('[2001:db8::7]:2222', at(3), [], 'unreachable'),
  ]);
  t.same(await store.lastSuccessByHost(), new Map([['a.ams', at(1)], ['db7.ams:2222', at(2)]]), 'epoch ms, inventory spelling, failures absent');

  const ingestRun = await store.beginRun({ mode: 'ingest', startedAt: new Date(at(4)), pid: 1, hostname: 'x', threads: 0, workers: 0 });
  store.recordPush(ingestRun, { host: 'agent.ams', timestamp: at(5), ok: true, statusText: 'ok', data: { t: { a: '1' } } });
  t.same(await store.sapiHostsSince(at(5)), new Set(['agent.ams']), 'pushed at exactly the limit counts');
  t.same(await store.sapiHostsSince(at(5) + 1), new Set(), 'older pushes do not');
  t.same(await store.sapiHostsSince(0), new Set(['agent.ams']), 'hosts that never pushed are not agent hosts');
});

t.test('a reader on a second connection is never blocked by an open write transaction (WAL)', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result('h1', at(1), [ok('pkg', { openssl: '1.1.1w' })])]);
  const reader = openStore(file, { readonly: true });
  t.teardown(() => reader.close());

  store.database.exec('BEGIN IMMEDIATE');
  store.recordResults(runId, [result('h1', at(2), [ok('pkg', { openssl: '3.0.15' })]), result('h2', at(2), [])]);
  const started = Date.now();
  t.same((await currentFactsOf(reader, 'h1')).map((f) => f.value), ['1.1.1w'], 'the reader sees the last committed state');
  t.same((await hostStates(reader)).map((h) => h.name), ['h1']);
  t.ok(Date.now() - started < 1000, 'and did not wait for the writer (busy_timeout is 10 s)');
  store.database.exec('COMMIT');
  t.same((await currentFactsOf(reader, 'h1')).map((f) => f.value), ['3.0.15'], 'then sees the commit');
  t.equal(await reader.factRowCount(), 2);
});

t.test('a full disk mid-batch: StorageError naming the file and SQLITE_FULL, nothing half-written', async (t) => {
  const file = path.join(t.testdir(), 'jf.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  store.recordResults(runId, [result('h1', at(1), [ok('pkg', { a: '1' })])]);
  const count = () => store.database.prepare('SELECT (SELECT COUNT(*) FROM attempts) AS a, (SELECT COUNT(*) FROM hosts) AS h, (SELECT COUNT(*) FROM facts) AS f').get();
  const before = count();
  // max_page_count makes SQLite answer SQLITE_FULL exactly as it does on ENOSPC.
  const pages = store.database.pragma('page_count', { simple: true }) as number;
  store.database.pragma(`max_page_count = ${pages + 2}`);
  const big = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x'.repeat(100_000)]));
  t.throws(() => store.recordResults(runId, [result('h1', at(2), [ok('pkg', { a: '2' })]), result('h2', at(2), [ok('pkg', big)])]), {
    name: 'StorageError', exitCode: 74, message: new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot store a batch of 2 host results.*SQLITE_FULL`),
  });
  t.same(count(), before, 'no attempt, host or fact of the batch remains');
  t.same((await currentFactsOf(store, 'h1')).map((f) => f.value), ['1'], 'h1 still has its old interval open');
  store.database.pragma('max_page_count = 4294967294');
  store.recordResults(runId, [result('h2', at(3), [ok('pkg', big)])]);
  t.equal((await currentFactsOf(store, 'h2')).length, 50, 'the store works again once there is room');
});

t.test('1,000 hosts x 20 types x 30 facts in one batch; the same batch again adds no row', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 256, workers: 0 });
  const batch = (finishedAt: number): HostResult[] => Array.from({ length: 1000 }, (_, h) => result(`host${h}.ams`, finishedAt,
    Array.from({ length: 20 }, (_, c) => ok(`type${c}`, Object.fromEntries(Array.from({ length: 30 }, (_, f) => [`pkg${f}`, `${c}.${f}.${h % 7}-1ubuntu0.22.04`]))))));
  const timed = (b: HostResult[]) => {
    const t0 = performance.now();
    store.recordResults(runId, b);
    return performance.now() - t0;
  };
  const first = timed(batch(at(1)));
  t.equal(await store.factRowCount(), 600_000);
  const second = timed(batch(at(2)));
  t.equal(await store.factRowCount(), 600_000, 'an identical batch adds no fact row');
  t.comment(`recordResults, 600,000 facts: first batch ${first.toFixed(0)} ms, identical second batch ${second.toFixed(0)} ms`);
  // Generous bounds for a busy CI machine: they catch a lost index (a scan per host and type
  // takes minutes), not a few hundred milliseconds.
  t.ok(first < 20_000, 'first batch in bounded time');
  t.ok(second < 15_000, 'second batch in bounded time');
  const h = (await currentFactsOf(store, 'host999.ams', 'type19'));
  t.equal(h.length, 30);
  t.ok(h.every((f) => f.firstSeen === iso(at(1)) && f.lastSeen === iso(at(2))), 'last_seen moved, first_seen kept');
  const plan = (store.database.prepare('EXPLAIN QUERY PLAN SELECT id FROM facts WHERE is_current = 0 AND last_seen < ?').all('x') as { detail: string }[]).map((r) => r.detail).join();
  t.match(plan, /facts_closed/, 'prune finds closed intervals through the partial index');
  const changed = (store.database.prepare(`EXPLAIN QUERY PLAN ${CURRENT_OF_TYPE}`).all(1, 'type19') as { detail: string }[]).map((r) => r.detail).join();
  t.match(changed, /facts_host_type \(host_id=\? AND type=\? AND is_current=\?\)/, 'a changed collection reads its host\'s current facts through facts_host_type, not every host\'s');
});
