// The change feed (SPEC §9): added / removed / changed / new_host rows from the fact intervals,
// the same answer from SQLite and PostgreSQL, the intervals closed before migration 8, the time
// arguments, and `jellyfish changes` through the real binary in every format.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { changesView, type ChangesRequest, type ChangesView } from '../src/app/changes.js';
import { parseTime } from '../src/app/time-arg.js';
import { compareNatural } from '../src/collections/parse.js';
import { renderJson, renderJsonChunks, renderJsonStreamed } from '../src/report/status-json.js';
import { renderTable, tableLines } from '../src/report/table.js';
import type { InventoryHost } from '../src/inventory/host.js';
import type { CollectionResult, HostResult } from '../src/core/results.js';
import { MIGRATIONS } from '../src/store/migrations.js';
import { openStore, type Store } from '../src/store/store.js';
import { openTestPgStore } from './helpers/postgres.js';
import { BIN, jf } from './helpers/jellyfish-cli.js';

const T0 = Date.parse('2026-11-01T02:00:00Z');
const DAY = 86_400_000;
const at = (d: number) => T0 + d * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 1 });
const failed = (type: string): CollectionResult => ({ type, status: 'failed', exitCode: 1, message: 'boom', durationMs: 1 });
const result = (label: string, finishedAt: number, collections: CollectionResult[]): HostResult =>
  ({ label, outcome: 'ok', startedAt: finishedAt - 1000, finishedAt, collections, outputBytes: 0 });
const host = (label: string, pop: string, srvtype: string, isProd: boolean): InventoryHost =>
  ({ label, host: label, srvtype, pop, status: isProd ? 'prod' : 'test', notes: '', isProd, line: 1 });

/**
 * Four nights: web2 and web10 exist from night 0; on night 1 web10's openssl changes, its curl
 * goes and web2 gains vim; on night 2 db1 is collected for the first time; on night 3 web10's
 * packages collection fails (which must close nothing) and its release changes.
 */
async function history(store: Store): Promise<void> {
  await store.upsertHosts([host('web10', 'AMS', 'web', true), host('web2', 'ams', 'web', false), host('db1', 'fra', 'db', true)]);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(runId, [
    result('web10', at(0), [ok('packages', { openssl: '3.0.9-1', curl: '7.88.1-10' }), ok('release', { VERSION_ID: '12.1' })]),
    result('web2', at(0), [ok('packages', { openssl: '3.0.9-1' })]),
  ]);
  await store.recordResults(runId, [
    result('web10', at(1), [ok('packages', { openssl: '3.0.11-1~deb12u2' }), ok('release', { VERSION_ID: '12.1' })]),
    result('web2', at(1), [ok('packages', { openssl: '3.0.9-1', vim: '2:9.0.1378-2' })]),
  ]);
  await store.recordResults(runId, [
    result('web10', at(2), [ok('packages', { openssl: '3.0.11-1~deb12u2' }), ok('release', { VERSION_ID: '12.1' })]),
    result('db1', at(2), [ok('packages', { openssl: '3.0.11-1~deb12u2', postgresql: '15.8-0' }), ok('release', { VERSION_ID: '12.2' })]),
  ]);
  await store.recordResults(runId, [result('web10', at(3), [failed('packages'), ok('release', { VERSION_ID: '12.2' })])]);
}

const rows = (v: ChangesView | { unknownHost: string }) => {
  if ('unknownHost' in v) throw new Error(`unknown host ${v.unknownHost}`);
  return v.changes.map((c) => [iso(Date.parse(c.at)).slice(0, 10), c.host, c.type, c.subtype, c.change, c.old, c.new]);
};

async function scenario(t: Tap.Test, store: Store): Promise<Record<string, unknown>> {
  const ask = (r: Partial<ChangesRequest>) => changesView(store, { since: at(0) + 1, until: at(10), ...r });
  const all = rows(await ask({}));
  t.same(all, [
    ['2026-11-02', 'web2', 'packages', 'vim', 'added', null, '2:9.0.1378-2'],
    ['2026-11-02', 'web10', 'packages', 'curl', 'removed', '7.88.1-10', null],
    ['2026-11-02', 'web10', 'packages', 'openssl', 'changed', '3.0.9-1', '3.0.11-1~deb12u2'],
    ['2026-11-03', 'db1', null, null, 'new_host', null, null],
    ['2026-11-04', 'web10', 'release', 'VERSION_ID', 'changed', '12.1', '12.2'],
  ], 'oldest first, hosts in natural order; a failed collection closes nothing; a new host is one row');
  const removal = (await ask({})) as ChangesView;
  t.equal(removal.changes.find((c) => c.change === 'removed')!.at, iso(at(1)), 'a removal is dated by the first collection that no longer saw it');
  t.same(rows(await ask({ includeNewHosts: true })).filter((r) => r[1] === 'db1'), [
    ['2026-11-03', 'db1', 'packages', 'openssl', 'added', null, '3.0.11-1~deb12u2'],
    ['2026-11-03', 'db1', 'packages', 'postgresql', 'added', null, '15.8-0'],
    ['2026-11-03', 'db1', 'release', 'VERSION_ID', 'added', null, '12.2'],
  ], '--include-new-hosts lists its facts instead');
  t.same(rows(await ask({ since: at(1), until: at(2) })).map((r) => r[4]), ['added', 'removed', 'changed'], 'since is inclusive, until exclusive');
  t.same(rows(await ask({ type: 'release' })).map((r) => r[1]), ['db1', 'web10'], '--type keeps new hosts (as one row)');
  t.same(rows(await ask({ type: 'packages', subtype: 'openssl' })).map((r) => `${r[1]}:${r[4]}`), ['web10:changed', 'db1:new_host']);
  t.same(rows(await ask({ host: 'WEB2' })).map((r) => r[3]), ['vim'], '--host in another case');
  t.same(rows(await ask({ sites: ['ams'] })).map((r) => r[1]), ['web2', 'web10', 'web10', 'web10'], '--site matches the pop in any case');
  t.same(rows(await ask({ srvtypes: ['db'] })).map((r) => r[1]), ['db1']);
  t.same(rows(await ask({ prod: true })).map((r) => r[1]), ['web10', 'web10', 'db1', 'web10']);
  t.same(await ask({ host: 'web3' }), { unknownHost: 'web3', similar: [] });
  t.same(rows(await ask({ since: at(5) })), [], 'a quiet window is empty');
  const v = (await ask({ prod: true, type: 'packages' })) as ChangesView;
  t.same(v.filters, { type: 'packages', prod: true });
  return (await ask({})) as unknown as Record<string, unknown>;
}

t.test('the change feed over SQLite, and the same answer over PostgreSQL', async (t) => {
  const dir = t.testdir();
  const store = openStore(path.join(dir, 'jf.db'));
  await history(store);
  const fromSqlite = await scenario(t, store);
  store.close();
  const pg = await openTestPgStore(t, 'changes');
  if (!pg) return;
  await history(pg);
  const fromPg = await t.test('PostgreSQL', (t) => scenario(t, pg).then((v) => { t.same(v, fromSqlite, 'the very same view'); }));
  t.ok(fromPg);
});

/**
 * The feed as the store writes it, on each engine: a pushed document's changes, a type first seen
 * on a host already collected (added rows), a pushed host's first document (new_host only, its
 * facts with --include-new-hosts), an unchanged collection (nothing), and prune: delete takes the
 * feed of that time with it, archive keeps it.
 */
async function written(t: Tap.Test, store: Store): Promise<unknown> {
  await history(store);
  const ingest = await store.beginRun({ mode: 'ingest', startedAt: new Date(at(4)), pid: 1, hostname: 'x', threads: 0, workers: 0 });
  await store.recordPush(ingest, { host: 'web2', timestamp: at(4), ok: true, statusText: 'ok', data: { packages: { openssl: '3.0.11-1~deb12u2', vim: '2:9.0.1378-2' }, kernel: { release: '6.1.0-26' } } });
  await store.recordPush(ingest, { host: 'agent.fra', timestamp: at(4) + 5000, ok: true, statusText: 'ok', data: { packages: { curl: '7.88.1-10' } } });
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(5)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(runId, [result('db1', at(5), [ok('packages', { openssl: '3.0.11-1~deb12u2', postgresql: '15.8-0' }), ok('release', { VERSION_ID: '12.2' })])]);
  const view = await changesView(store, { since: at(4), until: at(10) });
  t.same(rows(view), [
    ['2026-11-05', 'web2', 'kernel', 'release', 'added', null, '6.1.0-26'],
    ['2026-11-05', 'web2', 'packages', 'openssl', 'changed', '3.0.9-1', '3.0.11-1~deb12u2'],
    ['2026-11-05', 'agent.fra', null, null, 'new_host', null, null],
  ], 'a push: its changes and a new type; a new pushed host is one row; an unchanged collection adds nothing');
  t.same(rows(await changesView(store, { since: at(4), until: at(10), includeNewHosts: true })).filter((r) => r[1] === 'agent.fra'),
    [['2026-11-05', 'agent.fra', 'packages', 'curl', 'added', null, '7.88.1-10']], 'its first document with --include-new-hosts');
  return { all: rows(await changesView(store, { since: at(0), until: at(10) })), view: rows(view) };
}

t.test('the feed is written with the facts: pushes, new types, first collections; prune', async (t) => {
  const dir = t.testdir();
  const sqlite = openStore(path.join(dir, 'jf.db'));
  t.teardown(() => sqlite.close());
  const fromSqlite = await written(t, sqlite);
  // prune --older-than: archive keeps the feed, delete takes it with the intervals.
  const { pruneFacts } = await import('../src/app/prune.js');
  const feedRows = () => Number((sqlite.database.prepare('SELECT COUNT(*) AS n FROM fact_changes').get() as { n: number }).n);
  const all = feedRows();
  await pruneFacts(sqlite, { beforeMs: at(3), mode: 'archive', pauseMs: 0 });
  t.equal(feedRows(), all, 'archive keeps the feed');
  await pruneFacts(sqlite, { beforeMs: at(3), mode: 'delete', pauseMs: 0 });
  const left = (sqlite.database.prepare('SELECT at FROM fact_changes ORDER BY at').all() as { at: string }[]).map((r) => r.at);
  t.ok(left.length > 0 && left.length < all && left.every((a) => a >= iso(at(3))), `delete takes the feed before then (${all} -> ${left.length} rows)`);
  const pg = await openTestPgStore(t, 'written');
  if (!pg) return;
  await t.test('PostgreSQL', async (t) => { t.same(await written(t, pg), fromSqlite, 'the very same feed'); });
});

t.test('intervals closed before migration 8 are dated by the next opening, else their last sighting; migration 12 writes them into the feed', async (t) => {
  const file = path.join(t.testdir(), 'old.db');
  const old = new Database(file);
  old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version < 8)) {
    old.exec(m.sql);
    old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, iso(T0));
  }
  old.prepare("INSERT INTO hosts (id, name, first_seen_at) VALUES (1, 'h1', ?)").run(iso(at(0)));
  const fact = old.prepare('INSERT INTO facts (host_id, type, subtype, value, first_seen, last_seen, is_current) VALUES (1, ?, ?, ?, ?, ?, ?)');
  fact.run('packages', 'openssl', '1', iso(at(0)), iso(at(1)), 0);
  fact.run('packages', 'openssl', '2', iso(at(2)), iso(at(2)), 1);
  fact.run('packages', 'curl', '7', iso(at(0)), iso(at(1)), 0);
  old.prepare("INSERT INTO fact_types VALUES (1, 'packages', ?, NULL)").run(iso(at(3)));
  old.close();
  const store = openStore(file);
  t.teardown(() => store.close());
  t.same(rows(await changesView(store, { since: at(0) + 1, until: at(10) })), [
    ['2026-11-02', 'h1', 'packages', 'curl', 'removed', '7', null],
    ['2026-11-03', 'h1', 'packages', 'openssl', 'changed', '1', '2'],
  ]);
  const plan = (sql: string) => (store.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 'a')) as { detail: string }[]).map((p) => p.detail).join(' ');
  const piece = 'SELECT * FROM fact_changes c WHERE c.at >= ? AND (c.at > ? OR c.id > ?) AND c.at < ? AND +c.type = ? ORDER BY c.at, c.id LIMIT 10';
  t.match(plan(piece), /SEARCH c USING INDEX fact_changes_at \(at>\? AND at<\?\)/, 'a piece of the window is a range of the feed\'s time index');
  t.notMatch(plan(piece), /TEMP B-TREE/, 'in time order: nothing to sort');
  t.match(plan('SELECT * FROM fact_changes c WHERE c.at >= ? AND c.at < ? AND c.host_id = ? ORDER BY c.at'), /fact_changes_host/, 'one host: its own index');
});

t.test('time arguments, and hosts in natural order', async (t) => {
  const now = Date.parse('2026-12-03T12:00:00Z');
  t.equal(parseTime('24h', now), now - DAY);
  t.equal(parseTime('7d', now), now - 7 * DAY);
  t.equal(parseTime('30m', now), now - 1_800_000);
  t.equal(parseTime('2w', now), now - 14 * DAY);
  t.equal(parseTime('2026-12-01', now), Date.parse('2026-12-01T00:00:00Z'), 'a date is midnight UTC');
  t.equal(parseTime('2026-12-01T02:30', now), Date.parse('2026-12-01T02:30:00Z'), 'no offset = UTC');
  t.equal(parseTime('2026-12-01T02:30:00+01:00', now), Date.parse('2026-12-01T01:30:00Z'));
  t.equal(parseTime('2026-12-01 02:30:05.250Z', now), Date.parse('2026-12-01T02:30:05.250Z'));
  for (const bad of ['', 'yesterday', '24', '2026-02-31', '2026-13-01', '24x', '-1d']) t.equal(parseTime(bad, now), undefined, `refused: ${JSON.stringify(bad)}`);
  const names = ['web10', 'web2', '127.1.0.10', '127.1.0.2', 'web2a', 'a'];
  t.same([...names].sort(compareNatural), ['127.1.0.2', '127.1.0.10', 'a', 'web2', 'web2a', 'web10']);
});

t.test('jellyfish changes: formats, filters, errors', async (t) => {
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[collector]\nservercsv = server4.csv\n[storage]\ndatabase = var/jf.db\n');
  fs.writeFileSync(path.join(dir, 'server4.csv'), 'web10,web,ams,prod\n');
  const missing = await jf(['changes', '--since', '24h'], dir);
  t.equal(missing.code, 74, 'no database yet');
  t.match(missing.stderr, /no database yet/);
  const store = openStore(path.join(dir, 'var/jf.db'));
  await history(store);
  // A value from a host is escaped in the table, whole in JSON.
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(4)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(runId, [result('web2', at(4), [ok('packages', { openssl: '3.0.9-1', vim: '2:9.0.1378-2', 'ev,il': 'a"b\u001b[2Jc' })])]);
  store.close();
  const since = iso(at(0) + 1);
  const reader = openStore(path.join(dir, 'var/jf.db'), { readonly: true });
  const whole = await changesView(reader, { since: at(0) + 1, until: at(10) });
  reader.close();
  for (const [flag, compact] of [['--json', false], ['--compact', true]] as const) {
    const streamed = await jf(['changes', '--since', since, '--until', iso(at(10)), flag], dir);
    t.equal(streamed.stdout, `${renderJson(whole, compact)}\n`, `${flag}: written as read, the very text of the whole view`);
  }
  const json = await jf(['changes', '--since', since, '--json'], dir);
  t.equal(json.code, 0, json.stderr);
  const view = JSON.parse(json.stdout) as ChangesView;
  t.match(json.stdout, /\}\n$/, 'one JSON document and its newline, as every command prints');
  t.equal(view.count, 6);
  t.equal(view.new_hosts, 1);
  t.equal(view.since, since);
  t.match(view.changes[0], { at: iso(at(1)), host: 'web2', type: 'packages', subtype: 'vim', change: 'added', old: null, new: '2:9.0.1378-2' });

  const nd = await jf(['changes', '--since', since, '--format', 'ndjson', '--type', 'release'], dir);
  t.equal(nd.code, 0);
  t.same(nd.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { host: string; change: string }).change), ['new_host', 'changed']);

  const csv = await jf(['changes', '--since', since, '--format', 'csv', '--host', 'web2'], dir);
  t.equal(csv.stdout, [
    'at,host,type,subtype,change,old,new',
    `${iso(at(1))},web2,packages,vim,added,,2:9.0.1378-2`,
    `${iso(at(4))},web2,packages,"ev,il",added,,"a""b\u001b[2Jc"`,
    '',
  ].join('\r\n'), 'RFC 4180: quoted fields, doubled quotes, CRLF');
  const bare = await jf(['changes', '--since', since, '--format', 'csv', '--host', 'web2', '--no-headers'], dir);
  t.equal(bare.stdout.split('\r\n')[0], `${iso(at(1))},web2,packages,vim,added,,2:9.0.1378-2`);

  const table = await jf(['changes', '--since', since, '--host', 'web2'], dir);
  t.equal(table.code, 0);
  t.match(table.stdout, /^AT +HOST +TYPE +SUBTYPE +CHANGE +OLD +NEW\n-+/);
  t.match(table.stdout, /a"b\\x1b\[2Jc/, 'a control character from a host is shown, not sent');
  t.notMatch(table.stdout, /\u001b/);
  const noHead = await jf(['changes', '--since', since, '--host', 'web2', '--no-headers'], dir);
  t.notMatch(noHead.stdout, /AT +HOST/);
  t.equal(noHead.stdout.trim().split('\n').length, 2);

  for (const [args, code, msg] of [
    [['--since', 'yesterday'], 64, /--since "yesterday": give an ISO 8601 date/],
    [['--since', '1d', '--until', '2d'], 64, /must be after --since/],
    [['--since', '1d', '--format', 'xml'], 64, /'xml' is invalid. Allowed choices are table, json, ndjson, csv/],
    [[], 64, /required option '--since <T>'/],
    [['--since', '30d', '--host', 'web3'], 1, /web3 is not in the database/],
  ] as [string[], number, RegExp][]) {
    const r = await jf(['changes', ...args], dir);
    t.equal(r.code, code, args.join(' '));
    t.match(r.stderr, msg);
    t.equal(r.stdout, '', 'nothing on stdout');
  }
  const help = await jf(['changes', '--help'], dir);
  t.match(help.stdout, /Examples:\n +jellyfish changes --since 24h/);
});

t.test('streamed JSON and tables are the very text of the whole ones', async (t) => {
  const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => ({ z: i, a: `v${i}\n"q"`, nested: { b: [1, 2], a: null } }));
  for (const value of [
    { changes: rowsOf(1000), count: 1000, filters: {}, empty: [], since: 'x', skip: undefined },
    rowsOf(300), rowsOf(3), { a: [[...rowsOf(400)]], b: 1 }, [], {}, 'text', 7, null,
  ]) {
    for (const compact of [false, true]) {
      t.equal([...renderJsonChunks(value, compact)].join(''), renderJson(value, compact), `${compact ? 'compact' : 'pretty'} ${JSON.stringify(value)?.slice(0, 40)}`);
    }
  }
  // The change feed's JSON written batch by batch as the store reads it: the same text again.
  const batched = async function* (rows: unknown[], sizes: number[]) { let i = 0; for (const n of sizes) { yield rows.slice(i, i + n); i += n; } };
  for (const [rows, sizes] of [[rowsOf(0), [0, 0]], [rowsOf(1), [1]], [rowsOf(1000), [0, 300, 1, 699]], [rowsOf(3), []]] as [unknown[], number[]][]) {
    for (const rest of [{ count: rows.length, filters: { type: 'x' }, since: 'a' }, {}]) {
      for (const compact of [false, true]) {
        let text = '';
        for await (const c of renderJsonStreamed('changes', batched(rows, sizes.length ? sizes : [rows.length]), () => rest, compact)) text += c;
        t.equal(text, renderJson({ changes: rows, ...rest }, compact), `streamed ${rows.length} rows in ${sizes.length} batches, ${compact ? 'compact' : 'pretty'}${Object.keys(rest).length ? '' : ', nothing after'}`);
      }
    }
  }
  const cells = Array.from({ length: 200_000 }, (_, i) => [`h${i}`, 'x'.repeat(i % 13)]);
  t.equal([...tableLines(['HOST', 'V'], cells)].join(''), renderTable(['HOST', 'V'], cells), 'a table of 200,000 rows (no spread of a column into Math.max)');
  t.equal([...tableLines(['HOST', 'V'], [['a', 'b']], false)].join(''), 'a  b\n', 'no header and rule');
});

t.test('a large answer read slowly arrives whole (the exit waits for stdout)', async (t) => {
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[collector]\nservercsv = server4.csv\n[storage]\ndatabase = jf.db\n');
  fs.writeFileSync(path.join(dir, 'server4.csv'), 'h0,web,ams,prod\n');
  const store = openStore(path.join(dir, 'jf.db'));
  const hosts = Array.from({ length: 20 }, (_, h) => `h${h}`);
  await store.upsertHosts(hosts.map((h) => host(h, 'ams', 'web', true)));
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const packages = (night: number) => Object.fromEntries(Array.from({ length: 1000 }, (_, p) => [`pkg${p}`, `1.${night}-${'x'.repeat(40)}`]));
  for (let night = 0; night < 3; night++) await store.recordResults(runId, hosts.map((h) => result(h, at(night), [ok('packages', packages(night))])));
  store.close();
  // 40,000 changed rows, several MB: far more than a pipe holds, read only after 7 s.
  const child = spawn(process.execPath, [BIN, 'changes', '--since', iso(at(0) + 1), '--format', 'ndjson'], { cwd: dir, env: { ...process.env, CI: '1' } });
  child.stdout.pause();
  await new Promise((r) => setTimeout(r, 7000));
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => { chunks.push(d); });
  child.stdout.resume();
  const code = await new Promise((r) => child.on('close', r));
  t.equal(code, 0);
  const got = Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { at: string; host: string; subtype: string; change: string });
  t.equal(got.length, 40_000, 'every row');
  // 20,000 rows at each instant, read 4,096 at a time: still in order across the pieces.
  const key = (r: { at: string; host: string; subtype: string }) => [r.at, hosts.indexOf(r.host), r.subtype] as const;
  const want = [...got].sort((x, y) => { const a = key(x); const b = key(y); return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0); });
  t.ok(got.every((r, i) => r === want[i]), 'oldest first, hosts in natural order, then subtype, across the pieces');
  t.equal(new Set(got.map((r) => `${r.at} ${r.host} ${r.subtype}`)).size, 40_000, 'no row twice');
});
