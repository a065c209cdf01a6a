// Point in time and targeting (SPEC §9): `facts HOST --at T` and `query --at T` answer with the
// intervals covering T, the same over SQLite and PostgreSQL, through the indexes; `--site`,
// `--srvtype`, `--prod` on the read commands; `run --limit` and `gap-fix --limit` (shell globs)
// collect only the matching hosts, through the real binary against the fixture fleet.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { factsView, type FactsAnswer } from '../src/app/facts-view.js';
import { hostsView } from '../src/app/hosts-view.js';
import { statusView } from '../src/app/status-view.js';
import { loadConfig } from '../src/config/load.js';
import { readInventory } from '../src/inventory/csv.js';
import { renderJson } from '../src/report/status-json.js';
import { runQuery, type QueryRequest } from '../src/app/query.js';
import type { UnknownHost } from '../src/app/changes.js';
import { globToRegExp, limitHosts, selectLimit } from '../src/inventory/limit.js';
import { acquireLock } from '../src/lock/run-lock.js';
import type { InventoryHost } from '../src/inventory/host.js';
import type { CollectionResult, HostResult } from '../src/core/results.js';
import { auditPlan, hostFactsPlan } from './helpers/sqlite-plans.js';
import { openAnyStore, openStore, type Store } from '../src/store/store.js';
import { openTestPgStore } from './helpers/postgres.js';
import { jf } from './helpers/jellyfish-cli.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';

const T0 = Date.parse('2026-11-01T02:00:00Z');
const DAY = 86_400_000;
const at = (d: number) => T0 + d * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

const host = (label: string, pop = 'ams', srvtype = 'web', isProd = false): InventoryHost =>
  ({ label, host: label, srvtype, pop, status: isProd ? 'prod' : 'test', notes: '', isProd, line: 1 });

t.test('shell globs and the --limit selection', async (t) => {
  const matches = (p: string, s: string) => globToRegExp(p).test(s);
  t.ok(matches('web*', 'web7.ams'));
  t.ok(matches('*.ams', 'web7.ams'));
  t.notOk(matches('*.ams', 'web7.ams.example'), 'anchored at both ends');
  t.ok(matches('web?.ams', 'web7.ams'));
  t.notOk(matches('web?.ams', 'web10.ams'), '? is exactly one character');
  t.ok(matches('web[12].ams', 'web2.ams'));
  t.notOk(matches('web[12].ams', 'web3.ams'));
  t.ok(matches('web[1-3].ams', 'web3.ams'), 'a range');
  t.ok(matches('web[!12].ams', 'web3.ams'), '[!...] negates');
  t.notOk(matches('web[^3].ams', 'web3.ams'), '[^...] negates too');
  t.ok(matches('a[]]b', 'a]b'), 'a ] first in a class is literal');
  t.ok(matches('a[b', 'a[b'), 'an unclosed [ is a plain character');
  t.notOk(matches('web.ams', 'webXams'), '. is a plain dot');
  t.ok(matches('10.0.0.1:2222', '10.0.0.1:2222'), 'the label as written, port included');
  t.ok(matches('h\\*', 'h*'));
  t.notOk(matches('h\\*', 'hx'), '\\ quotes the next character');
  t.notOk(matches('WEB*', 'web7'), 'case-sensitive, as in a shell');
  t.ok(matches('(a|b)+$', '(a|b)+$'), 'regular-expression characters are plain');

  const hosts = ['web1.ams', 'web2.ams', 'web10.ams', 'db1.fra'].map((l) => host(l));
  t.same(selectLimit(hosts, ['db*', 'web?.ams']).hosts.map((h) => h.label), ['web1.ams', 'web2.ams', 'db1.fra'], 'inventory order kept; any pattern selects');
  t.same(selectLimit(hosts, ['nope*', 'WEB1.AMS']).unmatched, [
    { pattern: 'nope*' },
    { pattern: 'WEB1.AMS', hint: 'web1.ams matches it in another case (patterns are case-sensitive)' },
  ]);
  t.throws(() => limitHosts(hosts, ['web*', 'x?'], 'server4.csv'), { exitCode: 64, message: '--limit "x?" matches no host of server4.csv' });
});

const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 1 });
const failed = (type: string): CollectionResult => ({ type, status: 'failed', exitCode: 1, message: 'boom', durationMs: 1 });
const result = (label: string, finishedAt: number, collections: CollectionResult[]): HostResult =>
  ({ label, outcome: 'ok', startedAt: finishedAt - 1000, finishedAt, collections, outputBytes: 0 });
const debian = (version: string) => ok('release', { ID: 'debian', VERSION_ID: version });

/**
 * Four nights. web10 and web2 from night 0; night 1: web10's openssl changes and its curl goes,
 * web2 gains vim; night 2: db1 is first collected and web2's release stops naming a dpkg family;
 * night 3: web10's packages collection fails (closing nothing) and its release changes.
 */
async function history(store: Store): Promise<void> {
  await store.upsertHosts([host('web10', 'AMS', 'web', true), host('web2', 'ams', 'web', false), host('db1', 'fra', 'db', true)]);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(runId, [
    result('web10', at(0), [ok('packages', { openssl: '3.0.9-1', curl: '7.88.1-10' }), debian('12.1')]),
    result('web2', at(0), [ok('packages', { openssl: '3.0.9-1' }), debian('12.1')]),
  ]);
  await store.recordResults(runId, [
    result('web10', at(1), [ok('packages', { openssl: '3.0.11-1~deb12u2' }), debian('12.1')]),
    result('web2', at(1), [ok('packages', { openssl: '3.0.9-1', vim: '2:9.0.1378-2' }), debian('12.1')]),
  ]);
  await store.recordResults(runId, [
    result('web10', at(2), [ok('packages', { openssl: '3.0.11-1~deb12u2' }), debian('12.1')]),
    result('web2', at(2), [ok('packages', { openssl: '3.0.9-1', vim: '2:9.0.1378-2' }), ok('release', { ID: 'plan9', VERSION_ID: '4' })]),
    result('db1', at(2), [ok('packages', { openssl: '3.0.11-1~deb12u2', postgresql: '15.8-0' }), debian('12.2')]),
  ]);
  await store.recordResults(runId, [result('web10', at(3), [failed('packages'), debian('12.2')])]);
}

const facts = (a: FactsAnswer | UnknownHost) => {
  if ('unknownHost' in a) throw new Error(`unknown host ${a.unknownHost}`);
  return a.view.facts.map((f) => `${f.type}/${f.subtype}=${f.value}${f.current ? '' : ' (closed)'}`);
};

/** The questions asked of one store; returns every answer, for the comparison of the engines. */
async function scenario(t: Tap.Test, store: Store): Promise<unknown[]> {
  const answers: unknown[] = [];
  const keep = <T>(v: T): T => { answers.push(v); return v; };
  const web10 = (atMs: number | undefined, more: { type?: string; subtype?: string; history?: boolean } = {}) =>
    factsView(store, 'web10', { ...more, ...(atMs !== undefined ? { at: iso(atMs) } : {}) }).then(keep);

  t.same(facts(await web10(at(0) - 1)), [], 'before its first collection a host had nothing');
  const night0 = ['packages/curl=7.88.1-10 (closed)', 'packages/openssl=3.0.9-1 (closed)', 'release/ID=debian', 'release/VERSION_ID=12.1 (closed)'];
  t.same(facts(await web10(at(0))), night0, 'at the first collection itself (first_seen <= T)');
  t.same(facts(await web10(at(0.5))), night0, 'between collections the values stood');
  t.same(facts(await web10(at(1) - 1)), night0, 'up to the collection that no longer saw them');
  t.same(facts(await web10(at(1))), ['packages/openssl=3.0.11-1~deb12u2', 'release/ID=debian', 'release/VERSION_ID=12.1 (closed)'],
    'from that collection on: the new value, the removed one gone; one interval per subtype');
  const now = ['packages/openssl=3.0.11-1~deb12u2', 'release/ID=debian', 'release/VERSION_ID=12.2'];
  t.same(facts(await web10(at(3.5))), now, 'a failed collection closed nothing');
  t.same(facts(await web10(undefined)), now, 'without --at: the current facts');
  t.same(facts(await web10(at(30))), now, 'a time to come: what is current');
  t.same(facts(await web10(at(0.5), { type: 'packages', subtype: 'openssl' })), ['packages/openssl=3.0.9-1 (closed)'], 'with --type and --subtype');
  const v = await web10(at(0.5), { history: true });
  t.match(v, { view: { host: 'web10', history: false, at: iso(at(0.5)) } }, 'the instant wins over history and is named in the view');
  t.same(facts(await factsView(store, 'WEB10', { at: iso(at(0.5)) }).then(keep)), night0, 'the host in another case');
  t.same(await factsView(store, 'web3', { at: iso(at(0.5)) }), { unknownHost: 'web3', similar: [] });

  const q = async (r: Omit<QueryRequest, 'type'>) => keep(await runQuery(store, { type: 'packages', subtype: 'openssl', ...r }));
  const hits = (view: Awaited<ReturnType<typeof q>>) => view.hits.map((h) => `${h.host}=${h.value}@${h.since.slice(0, 10)}`);
  t.same(hits(await q({ at: iso(at(0.5)) })), ['web2=3.0.9-1@2026-11-01', 'web10=3.0.9-1@2026-11-01'], 'query --at: who had it then');
  t.same(hits(await q({ at: iso(at(1.5)) })), ['web2=3.0.9-1@2026-11-01', 'web10=3.0.11-1~deb12u2@2026-11-02'], 'db1 not yet collected');
  t.same(hits(await q({})), ['db1=3.0.11-1~deb12u2@2026-11-03', 'web2=3.0.9-1@2026-11-01', 'web10=3.0.11-1~deb12u2@2026-11-02']);
  t.same((await q({ at: iso(at(0.5)), countBy: 'value' })).counts, [{ value: '3.0.9-1', count: 2, hosts: ['web2', 'web10'] }], '--count-by at an instant');
  t.same(hits(await q({ sites: ['AMS'] })), ['web2=3.0.9-1@2026-11-01', 'web10=3.0.11-1~deb12u2@2026-11-02'], '--site in any case');
  t.same(hits(await q({ srvtypes: ['db', 'cache'] })), ['db1=3.0.11-1~deb12u2@2026-11-03'], 'several server types: any of them');
  t.same(hits(await q({ prod: true })), ['db1=3.0.11-1~deb12u2@2026-11-03', 'web10=3.0.11-1~deb12u2@2026-11-02']);
  t.same(hits(await q({ prod: true, sites: ['fra'], at: iso(at(1.5)) })), [], 'filters combine with the instant');
  // --scheme auto reads the release of then: web2 named debian until night 2.
  const older = await q({ versions: [{ op: 'lt', version: '3.0.10' }] });
  t.same(hits(older), [], 'now web2 names no dpkg family ...');
  t.same(older.leftOut.map((l) => l.host), ['web2'], '... and is left out');
  t.same(hits(await q({ versions: [{ op: 'lt', version: '3.0.10' }], at: iso(at(1.5)) })), ['web2=3.0.9-1@2026-11-01'], 'then it was judged by dpkg');

  t.same((await hostsView(store, { filter: { sites: ['ams'], srvtypes: ['web'] } })).hosts.map((h) => h.host), ['web2', 'web10'], 'hosts --site --srvtype, natural order');
  t.same((await hostsView(store, { filter: { prod: true, sites: ['FRA'] } })).hosts.map((h) => h.host), ['db1']);
  return answers;
}

t.test('facts --at and query --at over SQLite, and the same answers over PostgreSQL', async (t) => {
  const dir = t.testdir();
  const store = openStore(path.join(dir, 'jf.db'));
  await history(store);
  let answers: unknown[] = [];
  await t.test('SQLite', (t) => scenario(t, store).then((a) => { answers = a; }));
  t.ok(answers.length > 20, 'every answer kept for the comparison');
  // Both questions go through their index; the instant is compared on the rows it finds.
  const db = store.database;
  const ref = (await store.findHost('web10'))!;
  for (const plan of [hostFactsPlan(db, ref, { at: iso(at(1)) }), hostFactsPlan(db, ref, { at: iso(at(1)), type: 'packages' })]) {
    t.match(plan.join('; '), /SEARCH f USING INDEX facts_host_type \(host_id=\?/, 'facts --at seeks the host');
  }
  const audit = auditPlan(db, { type: 'packages', subtype: 'openssl', at: iso(at(1)) }).join('; ');
  t.match(audit, /SEARCH f USING INDEX facts_audit \(type=\? AND subtype=\?\)/, 'query --at seeks (type, subtype)');
  t.notMatch(audit, /SCAN f|facts_opened|facts_closed/, 'no walk of the window indexes or the table');
  const sqliteAnswers = answers;
  store.close();

  const pg = await openTestPgStore(t, 'pointintime');
  if (!pg) return;
  await history(pg);
  await t.test('PostgreSQL', (t) => scenario(t, pg).then((a) => { t.same(a, sqliteAnswers, 'the very same views'); }));
});

t.test('through the binary: facts/query --at, read filters, run --limit, gap-fix --limit', async (t) => {
  const dir = t.testdir();
  const base = '127.100.1.';
  const fleet = await startFleet({ count: 6, base: `${base}1`, port: 2222, dir });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  // .1-.3 web in AMS, .4-.6 db in fra; .1 and .4 prod
  const rows = labels.map((l, i) => `${l},${i < 3 ? 'web' : 'db'},${i < 3 ? 'AMS' : 'fra'},${i % 3 === 0 ? 'prod' : 'spare'}`);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows,
    ini: { results: { metrics_file: 'var/jf.prom' } },
  });
  const c = ['-c', env.ini];
  const json = (r: { stdout: string; stderr: string; code: number | null }) => {
    try { return JSON.parse(r.stdout); } catch { throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`); }
  };

  const first = await jf(['run', ...c, '--compact'], dir);
  t.equal(first.code, 0, first.stderr);
  t.same(statusProblems(json(first), labels), [], 'a full run accounts for every host, as before');
  t.notOk('limit' in json(first), 'no limit key without --limit');
  const between = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  const packages = fs.readFileSync('fixtures/outputs/debian12/packages.txt', 'utf8');
  fleet.setOutputs(`${base}1`, { packages: packages.replace(/^openssl .*$/m, 'openssl 1.1.1w-0+deb11u1') });
  const prom = path.join(dir, 'var/jf.prom');
  const promBefore = fs.readFileSync(prom, 'utf8');

  await t.test('run --limit collects only the matching hosts', async (t) => {
    fs.rmSync(prom);
    const r = await jf(['run', ...c, '--limit', `${base}1,${base}[45]`], dir);
    t.equal(r.code, 0, r.stderr);
    const js = json(r);
    t.same(js.limit, [`${base}1`, `${base}[45]`], 'limit names the patterns');
    t.same(js.global_success_hosts_list, [`${base}1`, `${base}4`, `${base}5`], 'the lists hold only the selected hosts');
    t.same(statusProblems(js, [`${base}1`, `${base}4`, `${base}5`]), [], 'each selected host in exactly one list');
    t.equal(js.not_started_hosts, 0);
    t.notOk(fs.existsSync(prom), 'a limited run writes no metrics file');
    fs.writeFileSync(prom, promBefore);
    const hosts = json(await jf(['hosts', ...c, '--json'], dir)) as { host: string; last_attempt_at: string }[];
    const attempted = hosts.filter((h) => Date.parse(h.last_attempt_at) > between).map((h) => h.host);
    t.same(attempted, [`${base}1`, `${base}4`, `${base}5`], 'no other host was attempted');
    const st = json(await jf(['status', ...c, '--json'], dir));
    t.match(st.last_runs, [{ mode: 'run', run_id: 1, success: 6 }, { mode: 'run', scope: 'limit', run_id: 2, success: 3, limit: [`${base}1`, `${base}[45]`] }],
      'status keeps the last full run beside the limited one');
    t.match((await jf(['status', ...c], dir)).stdout, /last run \(limit\) #2: .*3 ok.*; --limit 127\.100\.1\.1,127\.100\.1\.\[45\]/);
  });

  await t.test('a --limit pattern matching no host: exit 64 before any lock', async (t) => {
    // The run lock is held: a check made after taking it would answer 75.
    const held = await acquireLock(path.join(dir, 'var/jf.lock'), 'run', () => {});
    try {
      const r = await jf(['run', ...c, '--limit', `${base}1,web*`], dir);
      t.equal(r.code, 64, 'the pattern is refused before the lock is tried');
      t.match(r.stderr, /--limit "web\*" matches no host of .*server4\.csv/);
      t.equal(r.stdout, '', 'no status JSON: nothing ran');
      const cased = await jf(['run', ...c, '--limit', '127.100.1.1*,X'], dir);
      t.equal(cased.code, 64);
      t.match(cased.stderr, /--limit "X" matches no host/);
      const ok = await jf(['run', ...c, '--limit', `${base}1`], dir);
      t.equal(ok.code, 75, 'a pattern that matches goes on to the lock, held here');
    } finally {
      await held.release();
    }
    t.equal(json(await jf(['status', ...c, '--json'], dir)).last_runs.length, 2, 'no run recorded');
    const g = await jf(['gap-fix', ...c, '--list', '--limit', 'zzz'], dir);
    t.equal(g.code, 64);
    t.match(g.stderr, /--limit "zzz" matches no host/);
  });

  await t.test('gap-fix --limit: the gap hosts among the matching ones', async (t) => {
    // A short max_age makes every prod host a gap host (.1 and .4).
    const gapIni = path.join(dir, 'gap.ini');
    fs.writeFileSync(gapIni, fs.readFileSync(env.ini, 'utf8') + '\n[gapfix]\nmax_age = 1s\n');
    await new Promise((r) => setTimeout(r, 1100));
    const all = json(await jf(['gap-fix', '-c', gapIni, '--list'], dir));
    t.same(all.gap_hosts, [`${base}1`, `${base}4`]);
    t.notOk('limit' in all);
    const list = json(await jf(['gap-fix', '-c', gapIni, '--list', '--limit', `${base}[1-3]`], dir));
    t.same(list, { found_gap: 1, gap_hosts: [`${base}1`], limit: [`${base}[1-3]`] });
    const r = await jf(['gap-fix', '-c', gapIni, '--limit', `${base}[1-3]`, '--compact'], dir);
    t.equal(r.code, 0, r.stderr);
    const js = json(r);
    t.same(js.global_success_hosts_list, [`${base}1`]);
    t.same(js.limit, [`${base}[1-3]`]);
    t.same(statusProblems(js, [`${base}1`]), []);
  });

  await t.test('facts --at and query --at: what was true then', async (t) => {
    const then = iso(between);
    const old = json(await jf(['facts', `${base}1`, ...c, '--at', then, '--type', 'packages', '--subtype', 'openssl', '--json'], dir));
    t.match(old, { host: `${base}1`, at: then, facts: [{ subtype: 'openssl', value: '3.0.19-1~deb12u2', current: false }] }, 'the value before the change');
    const nowFacts = json(await jf(['facts', `${base}1`, ...c, '--type', 'packages', '--subtype', 'openssl', '--json'], dir));
    t.match(nowFacts.facts, [{ value: '1.1.1w-0+deb11u1', current: true }]);
    t.notOk('at' in nowFacts, 'no at key without --at');
    const table = await jf(['facts', `${base}1`, ...c, '--at', then, '--type', 'packages', '--subtype', 'openssl'], dir);
    t.match(table.stdout, /FIRST SEEN\s+LAST SEEN\s+STATE/);
    t.match(table.stdout, /openssl\s+3\.0\.19-1~deb12u2\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+closed/);
    const q = json(await jf(['query', ...c, '--type', 'packages', '--subtype', 'openssl', '--at', then, '--count-by', 'value', '--json'], dir));
    t.same(q.values.map((v: { value: string; count: number }) => [v.value, v.count]), [['3.0.19-1~deb12u2', 6]], 'every host ran it then');
    t.equal(q.query.at, then, 'the request echoes the instant');
    const nowQ = json(await jf(['query', ...c, '--type', 'packages', '--subtype', 'openssl', '--count-by', 'value', '--json'], dir));
    t.same(nowQ.values.map((v: { value: string; count: number }) => [v.value, v.count]), [['3.0.19-1~deb12u2', 5], ['1.1.1w-0+deb11u1', 1]]);
    const early = json(await jf(['query', ...c, '--type', 'rkernel', '--at', '2020-01-01', '--json'], dir));
    t.equal(early.count, 0, 'before the first run nobody had anything');

    const both = await jf(['facts', `${base}1`, ...c, '--at', '1h', '--history'], dir);
    t.equal(both.code, 64, '--at with --history is a usage error');
    t.match(both.stderr, /--at asks for one instant, --history for every interval/);
    const bad = await jf(['query', ...c, '--type', 'packages', '--at', 'yesterday'], dir);
    t.equal(bad.code, 64);
    t.match(bad.stderr, /--at "yesterday": give an ISO 8601 date or date-time/);
    t.equal(bad.stdout, '');
  });

  await t.test('--site, --srvtype, --prod on hosts and query', async (t) => {
    const names = (r: { stdout: string }) => (JSON.parse(r.stdout) as { host: string }[]).map((h) => h.host);
    t.same(names(await jf(['hosts', ...c, '--site', 'ams', '--json'], dir)), labels.slice(0, 3), '--site matches the pop in any case');
    t.same(names(await jf(['hosts', ...c, '--srvtype', 'db', '--prod', '--json'], dir)), [`${base}4`]);
    t.same(names(await jf(['hosts', ...c, '--site', 'fra', '--site', 'AMS', '--prod', '--json'], dir)), [`${base}1`, `${base}4`], 'repeated: either site');
    t.same(names(await jf(['hosts', ...c, '--site', 'lon', '--json'], dir)), [], 'no host of that site');
    const q = json(await jf(['query', ...c, '--type', 'rkernel', '--srvtype', 'web', '--site', 'ams,fra', '--json'], dir));
    t.same(q.hosts.map((h: { host: string }) => h.host), labels.slice(0, 3));
    t.same(q.query.sites, ['ams', 'fra'], 'the request echoes the filters');
    const csv = await jf(['query', ...c, '--type', 'rkernel', '--prod', '--format', 'csv', '--no-headers'], dir);
    t.same(csv.stdout.trim().split('\r\n').map((l) => l.split(',')[0]), [`${base}1`, `${base}4`]);
    const ch = await jf(['changes', ...c, '--since', '1h', '--prod', '--site', 'ams', '--json'], dir);
    t.equal(ch.code, 0, ch.stderr);
    t.ok(JSON.parse(ch.stdout).changes.every((r: { host: string }) => r.host === `${base}1`), 'changes takes the same filters');
  });

  await t.test('the views are what the commands print', async (t) => {
    const config = loadConfig({ file: env.ini });
    const sorted = (v: unknown) => JSON.parse(renderJson(v, true));
    t.same(sorted(await statusView(config)), json(await jf(['status', ...c, '--json'], dir)), 'statusView = status --json');
    const store = await openAnyStore(config.storage.database, { readonly: true });
    try {
      const inventory = readInventory(env.csv, { prodStatuses: config.collector.prodStatuses }).hosts;
      t.same(sorted((await hostsView(store, { inventory, filter: { sites: ['ams'] } })).hosts), json(await jf(['hosts', ...c, '--site', 'ams', '--json'], dir)), 'hostsView = hosts --json');
      const f = await factsView(store, `${base}2`, { type: 'release' });
      t.same(sorted('view' in f ? f.view : f), json(await jf(['facts', `${base}2`, ...c, '--type', 'release', '--json'], dir)), 'factsView = facts --json');
    } finally {
      await store.close();
    }
  });

  await t.test('help names the new flags, with examples', async (t) => {
    for (const [cmd, words] of [
      ['facts', [/--at <T>/, /--at 7d/]], ['query', [/--at <T>/, /--site <site>/, /--srvtype <srvtype>/, /--prod/, /--at 2026-11-01/]],
      ['hosts', [/--site <site>/, /--srvtype <srvtype>/, /hosts --site ams,fra/]], ['changes', [/--site <site>/, /--prod/]],
      ['run', [/--limit <patterns>/, /run --limit web7\.ams/, /64 usage \(a --limit pattern matching no host\)/]], ['gap-fix', [/--limit <patterns>/, /gap-fix --limit/]],
    ] as const) {
      const r = await jf([cmd, '--help'], dir);
      for (const w of words) t.match(r.stdout, w, `${cmd} --help: ${w}`);
    }
  });
});
