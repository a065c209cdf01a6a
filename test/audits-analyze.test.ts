// analyze end to end (SPEC §10): results as intervals over three analyze runs (fail, fail, pass
// gives failing-since and fixed-at), stale hosts, collated counts, a bad audit file among good
// ones, the run lock and the analyze lock, the same answers on SQLite and PostgreSQL, the
// `audits` command in every format, and a real `run` of the fixture fleet (three distributions)
// followed by `analyze` with the shipped sample audits.
// Loopback range of this file: 127.110.0.0/16.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { analyze, type AnalyzeSummary } from '../src/audits/analyze.js';
import { auditDetailView, auditListView, hostAuditsView } from '../src/audits/audits-view.js';
import { LockHeldError } from '../src/core/errors.js';
import { Log } from '../src/app/log.js';
import { loadConfig } from '../src/config/load.js';
import type { InventoryHost } from '../src/inventory/host.js';
import { acquireLock } from '../src/lock/run-lock.js';
import type { CollectionResult, HostResult } from '../src/core/results.js';
import { openAnyStore, openStore, type Store } from '../src/store/store.js';
import { BIN, jf } from './helpers/jellyfish-cli.js';
import { postgresSkipReason, startPostgres } from './helpers/postgres.js';
import { writeEnv } from './helpers/run-env.js';

const T0 = Date.parse('2026-11-01T02:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const quiet = new Log(false, { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream);

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 1 });
const result = (label: string, finishedAt: number, collections: CollectionResult[]): HostResult =>
  ({ label, outcome: 'ok', startedAt: finishedAt - 1000, finishedAt, collections, outputBytes: 0 });
const host = (label: string, pop: string, srvtype: string, isProd: boolean): InventoryHost =>
  ({ label, host: label, srvtype, pop, status: isProd ? 'prod' : 'test', notes: '', isProd, line: 1 });
const bookworm = { ID: 'debian', VERSION_CODENAME: 'bookworm' };

const OPENSSL_INI = `[GLOBAL]
jellyfishversion = 2

[openssl-test]
vuln-name = "openssl-test"
vuln-short-description = "openssl too old"
vuln-long-description = a long
    description
vuln-primary-link = "https://example.invalid/openssl"
vuln-priority = 9
filters = {'bookworm': {'filter-match': 'is', 'filter-collection-type': ['release', 'release'],
    'filter-collection-subtype': ['ID', 'VERSION_CODENAME'], 'filter-match-value': ['debian', 'bookworm']}}
comparisons = {'bookworm': {'comparison-match': 'aptge', 'comparison-collection-type': 'packages',
    'comparison-collection-subtype': 'openssl:amd64', 'comparison-match-value': '3.0.11-1~deb12u2'}}
`;

/** Night n's collection: web1's openssl is old until night 2; db1 has no openssl; old1 was last seen 5 days before night 0. */
async function night(store: Store, n: number): Promise<void> {
  if (n === 0) {
    await store.upsertHosts([host('web1', 'ams', 'web', true), host('web2', 'fra', 'web', false), host('db1', 'ams', 'db', true), host('old1', 'ams', 'web', true)]);
    const early = await store.beginRun({ mode: 'run', startedAt: new Date(T0 - 5 * DAY), pid: 1, hostname: 'x', threads: 1, workers: 0 });
    await store.recordResults(early, [result('old1', T0 - 5 * DAY, [ok('release', bookworm), ok('packages', { openssl: '3.0.9-1' })])]);
  }
  const at = T0 + n * DAY;
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(runId, [
    result('web1', at, [ok('release', bookworm), ok('packages', { openssl: n >= 2 ? '3.0.11-1~deb12u2' : '3.0.9-1', bash: '5.2' })]),
    result('web2', at, [ok('release', bookworm), ok('packages', { openssl: '3.0.11-1~deb12u2' })]),
    result('db1', at, [ok('release', bookworm), ok('packages', { postgresql: '15' })]),
  ]);
}

function writeConfig(dir: string, database: string, audits: string, analyzeExtra = ''): string {
  const ini = path.join(dir, 'scheduler.ini');
  fs.writeFileSync(ini, `[GLOBAL]\nlockfile = var/jf.lock\n[storage]\ndatabase = ${database}\n[analyze]\naudits = ${audits}\n${analyzeExtra}[results]\nmetrics_file = var/metrics.prom\n`);
  return ini;
}

const counts = (s: AnalyzeSummary) => [s.pass, s.fail, s.exempt, s.stale, s.hosts_evaluated];

/** Three analyze runs an hour after nights 0, 1 and 2; what they say, as plain data (compared across engines). */
async function scenario(t: Tap.Test, dir: string, database: string, open: () => Promise<Store>): Promise<unknown> {
  const audits = path.join(dir, 'audits');
  fs.mkdirSync(audits, { recursive: true });
  fs.writeFileSync(path.join(audits, 'openssl.ini'), OPENSSL_INI);
  const config = loadConfig({ file: writeConfig(dir, database, audits) });
  const store = await open();
  const seen: unknown[] = [];
  try {
    const a: AnalyzeSummary[] = [];
    for (let n = 0; n < 3; n++) {
      await night(store, n);
      a.push(await analyze({ config, log: quiet, now: () => T0 + n * DAY + HOUR }));
    }
    t.same(counts(a[0]!), [1, 1, 1, 1, 3], 'first analyze: web2 pass, web1 fail, db1 exempt (no openssl), old1 stale');
    t.same(counts(a[1]!), [1, 1, 1, 1, 3], 'second: the same');
    t.same(counts(a[2]!), [2, 0, 1, 1, 3], 'third: web1 fixed');
    t.same(a.map((s) => s.exit_code), [0, 0, 0]);
    t.same(a[0]!.errors, []);

    const detail = await auditDetailView(store, 'openssl-test');
    if ('unknownAudit' in detail) throw new Error('audit not stored');
    const byHost = Object.fromEntries(detail.hosts.map((h) => [h.host, h]));
    t.same(Object.keys(byHost), ['db1', 'web1', 'web2'], 'hosts in natural order; old1, never fresh, was never evaluated');
    t.equal(byHost.web1!.result, 'pass');
    t.equal(byHost.web1!.since, iso(T0 + 2 * DAY + HOUR), 'web1 passes since the third analyze');
    t.equal(byHost.web1!.fixed_at, iso(T0 + 2 * DAY + HOUR), 'fixed at: when its fail interval closed');
    t.equal(byHost.web2!.since, iso(T0 + HOUR), 'web2 passes since the first analyze');
    t.equal(byHost.web2!.fixed_at, null, 'never failed: no fixed_at');
    t.equal(byHost.web2!.last_seen, iso(T0 + 2 * DAY + HOUR), 'an unchanged result is seen at every analyze');
    t.equal(byHost.db1!.result, 'exempt', 'db1 lacks the compared package');
    t.same([detail.pass, detail.fail, detail.exempt], [2, 0, 1]);

    const list = await auditListView(store);
    t.same(list.audits.map((x) => [x.name, x.priority, x.pass, x.fail, x.exempt]), [['openssl-test', 9, 2, 0, 1]]);
    t.same((await auditListView(store, { failing: true })).audits, [], '--failing: nothing fails now');
    const web1 = await store.findHost('web1');
    const mine = await hostAuditsView(store, web1!.id);
    t.same(mine.map((x) => [x.audit, x.result, x.fixed_at]), [['openssl-test', 'pass', iso(T0 + 2 * DAY + HOUR)]]);
    seen.push({ ...detail, audit: { ...detail.audit, file: path.basename(detail.audit.file) } }, list, mine);
  } finally {
    await store.close();
  }
  return seen;
}

t.test('analyze on SQLite: intervals over three analyze runs, stale hosts, collate, metrics', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'var/jf.db');
  fs.mkdirSync(path.dirname(db), { recursive: true });
  const seen = await scenario(t, dir, db, async () => openStore(db));
  const raw = openStore(db).database;
  t.teardown(() => raw.close());
  const rows = raw.prepare(`SELECT h.name, r.result, r.first_seen, r.last_seen, r.closed_at, r.is_current FROM audit_results r JOIN hosts h ON h.id = r.host_id WHERE h.name = 'web1' ORDER BY r.id`).all();
  t.same(rows, [
    { name: 'web1', result: 'fail', first_seen: iso(T0 + HOUR), last_seen: iso(T0 + DAY + HOUR), closed_at: iso(T0 + 2 * DAY + HOUR), is_current: 0 },
    { name: 'web1', result: 'pass', first_seen: iso(T0 + 2 * DAY + HOUR), last_seen: iso(T0 + 2 * DAY + HOUR), closed_at: null, is_current: 1 },
  ], 'web1: a fail interval (seen at the first two analyze runs, closed by the third), then a pass');
  t.equal((raw.prepare('SELECT COUNT(*) AS n FROM audit_results').get() as { n: number }).n, 4, 'only changes were written: 3 results, then one more');
  const collate = raw.prepare('SELECT run_id, pop, srvtype, result, hosts FROM audit_collate ORDER BY run_id, pop, srvtype, result').all();
  t.same(collate, [
    { run_id: 1, pop: 'ams', srvtype: 'db', result: 'exempt', hosts: 1 },
    { run_id: 1, pop: 'ams', srvtype: 'web', result: 'fail', hosts: 1 },
    { run_id: 1, pop: 'fra', srvtype: 'web', result: 'pass', hosts: 1 },
    { run_id: 2, pop: 'ams', srvtype: 'db', result: 'exempt', hosts: 1 },
    { run_id: 2, pop: 'ams', srvtype: 'web', result: 'fail', hosts: 1 },
    { run_id: 2, pop: 'fra', srvtype: 'web', result: 'pass', hosts: 1 },
    { run_id: 3, pop: 'ams', srvtype: 'db', result: 'exempt', hosts: 1 },
    { run_id: 3, pop: 'ams', srvtype: 'web', result: 'pass', hosts: 1 },
    { run_id: 3, pop: 'fra', srvtype: 'web', result: 'pass', hosts: 1 },
  ], 'counts per analyze run x audit x pop x srvtype x result');
  const metrics = fs.readFileSync(path.join(dir, 'var/metrics.prom'), 'utf8');
  t.match(metrics, /jellyfish_audit_results\{mode="analyze",result="pass"\} 2/);
  t.notMatch(metrics, /jellyfish_audit_failing_results\{/, 'no failures left after the third analyze');
  (t.context as { seen?: unknown }).seen = seen;
  // PostgreSQL: the same scenario must give the same views.
  const skip = postgresSkipReason();
  if (skip) { t.comment(`PostgreSQL part skipped: ${skip}`); return; }
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  process.env.PGPASSWORD = pgs.password;
  const url = await pgs.createDatabase('audits');
  const pgDir = path.join(dir, 'pg');
  fs.mkdirSync(pgDir);
  await t.test('PostgreSQL', async (t) => {
    const fromPg = await scenario(t, pgDir, url, () => openAnyStore(url));
    t.same(fromPg, seen, 'the very same views as SQLite');
    // With PostgreSQL the run lock is an advisory lock in the database: analyze refuses while a run holds one.
    const { acquirePgLock } = await import('../src/lock/pg-lock.js');
    const held = await acquirePgLock({ url, mode: 'run', sites: ['ams'], scope: 'sites ams', onLost: () => undefined });
    const config = loadConfig({ file: path.join(pgDir, 'scheduler.ini') });
    await t.rejects(analyze({ config, log: quiet, now: () => T0 + 2 * DAY + 2 * HOUR }), LockHeldError, 'a run holding a site lock: refused (exit 75)');
    await held.release();
    const after = await analyze({ config, log: quiet, now: () => T0 + 2 * DAY + 2 * HOUR });
    t.equal(after.exit_code, 0, 'and runs once the lock is released');
  });
});

t.test('a host that goes stale keeps its result (not counted); one that leaves every bucket closes it', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'var/jf.db');
  fs.mkdirSync(path.dirname(db), { recursive: true });
  const audits = path.join(dir, 'audits');
  fs.mkdirSync(audits);
  fs.writeFileSync(path.join(audits, 'openssl.ini'), OPENSSL_INI);
  const config = loadConfig({ file: writeConfig(dir, db, audits) });
  const store = openStore(db);
  await night(store, 0);
  await analyze({ config, log: quiet, now: () => T0 + HOUR });
  // Night 3: only web2 (now Ubuntu: in no bucket) and db1 are collected; web1 goes stale.
  const at = T0 + 3 * DAY;
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(runId, [
    result('web2', at, [ok('release', { ID: 'ubuntu', VERSION_CODENAME: 'jammy' }), ok('packages', { openssl: '3.0.2' })]),
    result('db1', at, [ok('release', bookworm), ok('packages', { postgresql: '15' })]),
  ]);
  const s = await analyze({ config, log: quiet, now: () => at + HOUR });
  t.same(counts(s), [0, 0, 1, 2, 2], 'web1 and old1 stale; web2 not applicable; db1 exempt');
  const detail = await auditDetailView(store, 'openssl-test');
  if ('unknownAudit' in detail) throw new Error('audit not stored');
  t.same(detail.hosts.map((h) => [h.host, h.result, h.stale, h.last_seen]), [
    ['db1', 'exempt', false, iso(at + HOUR)],
    ['web1', 'fail', true, iso(T0 + HOUR)],
  ], 'web1 keeps its fail, marked stale, last seen at the first analyze; web2\'s pass closed');
  t.same([detail.pass, detail.fail, detail.exempt], [0, 0, 1], 'the stale host is not counted');
  const closed = store.database.prepare(`SELECT r.result, r.last_seen, r.closed_at FROM audit_results r JOIN hosts h ON h.id = r.host_id WHERE h.name = 'web2'`).all();
  t.same(closed, [{ result: 'pass', last_seen: iso(T0 + HOUR), closed_at: iso(at + HOUR) }]);
  store.close();
});

t.test('a bad audit file among good ones: reported with file:line, the others run, exit 1', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'var/jf.db');
  fs.mkdirSync(path.dirname(db), { recursive: true });
  const audits = path.join(dir, 'audits');
  fs.mkdirSync(path.join(audits, 'nested'), { recursive: true });
  fs.writeFileSync(path.join(audits, 'nested/openssl.ini'), OPENSSL_INI);
  fs.writeFileSync(path.join(audits, 'broken.json'), '{\n  "x": {\n    "filters": {,}\n  }\n}\n');
  fs.writeFileSync(path.join(audits, 'badregex.ini'), OPENSSL_INI.replace('[openssl-test]', '[regex-test]').replace("'filter-match': 'is'", "'filter-match': 'match'").replace("['debian', 'bookworm']", "['(a)\\\\1', 'bookworm']"));
  fs.writeFileSync(path.join(audits, 'README.txt'), 'not an audit');
  const config = loadConfig({ file: writeConfig(dir, db, audits) });
  const store = openStore(db);
  await night(store, 0);
  store.close();
  const s = await analyze({ config, log: quiet, now: () => T0 + HOUR });
  t.equal(s.exit_code, 1, 'exit 1: an audit file was invalid');
  t.equal(s.audits, 1, 'the good audit still ran');
  t.same(counts(s), [1, 1, 1, 1, 3]);
  t.same(s.errors.map((e) => [path.basename(e.file), e.line, e.audit ?? null]), [['badregex.ini', 11, 'regex-test'], ['broken.json', 3, null]], 'file:line of each problem, in file order');
  t.match(s.errors[0]!.message, /bad regular expression.*linear time/);
  t.match(s.errors[1]!.message, /not valid JSON/);
});

t.test('locks: 75 while a run holds the run lock, not for gap-fix; one analyze at a time', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'var/jf.db');
  fs.mkdirSync(path.dirname(db), { recursive: true });
  const audits = path.join(dir, 'audits');
  fs.mkdirSync(audits);
  fs.writeFileSync(path.join(audits, 'openssl.ini'), OPENSSL_INI);
  const ini = writeConfig(dir, db, audits, 'max_age = 100000d\n');
  const config = loadConfig({ file: ini });
  const store = openStore(db);
  await night(store, 0);
  store.close();
  const compromised = () => undefined;
  const run = await acquireLock(config.lockfile, 'run', compromised);
  await t.rejects(analyze({ config, log: quiet }), LockHeldError, 'in process: LockHeldError');
  const cli = await jf(['analyze', '-c', ini], dir);
  t.equal(cli.code, 75, 'exit 75 while the run lock is held');
  t.same(JSON.parse(cli.stdout).locked, true);
  t.match(cli.stderr, /a run is collecting/);
  t.ok(cli.ms < 5000, `at once (${cli.ms} ms)`);
  await run.release();
  const gapfix = await acquireLock(path.join(dir, 'var/jf-gapfix.lock'), 'gap-fix', compromised);
  const beside = await jf(['analyze', '-c', ini, '--compact'], dir);
  t.equal(beside.code, 0, 'gap-fix does not block analyze');
  t.equal(JSON.parse(beside.stdout).hosts_evaluated, 4, 'old1 too, under this max_age');
  await gapfix.release();
  const other = await acquireLock(path.join(dir, 'var/jf-analyze.lock'), 'analyze', compromised);
  const second = await jf(['analyze', '-c', ini], dir);
  t.equal(second.code, 75, 'a second analyze exits 75 while one holds the analyze lock');
  await other.release();
  const help = await jf(['analyze', '--help'], dir);
  t.match(help.stdout, /Exit codes: 0 done, 1 done but/);
  t.match(help.stdout, /jellyfish analyze -a/);
});

t.test('jellyfish audits: list, one audit, formats, filters, errors', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'var/jf.db');
  fs.mkdirSync(path.dirname(db), { recursive: true });
  const audits = path.join(dir, 'audits');
  fs.mkdirSync(audits);
  fs.writeFileSync(path.join(audits, 'openssl.ini'), OPENSSL_INI);
  // The real clock: the nights' collections must be within max_age of now.
  const ini = writeConfig(dir, db, audits, 'max_age = 100000d\n');
  const c = ['-c', ini];
  t.equal((await jf(['audits', ...c], dir)).code, 74, 'no database yet');
  const store = openStore(db);
  await night(store, 0);
  store.close();
  t.equal((await jf(['analyze', ...c], dir)).code, 0);
  const list = JSON.parse((await jf(['audits', ...c, '--json'], dir)).stdout);
  t.same(list.audits.map((a: { name: string; fail: number; failing_prod_hosts: string[] }) => [a.name, a.fail, a.failing_prod_hosts]), [['openssl-test', 2, ['old1', 'web1']]], 'old1 is fresh under this max_age');
  const table = await jf(['audits', ...c], dir);
  t.match(table.stdout, /^AUDIT\s+PRIO\s+PASS\s+FAIL\s+EXEMPT\s+FAILING PROD\n/);
  t.match(table.stdout, /openssl-test\s+9\s+1\s+2\s+1\s+old1, web1/);
  const csv = await jf(['audits', ...c, '--format', 'csv'], dir);
  t.equal(csv.stdout.split('\r\n')[0], 'name,priority,pass,fail,exempt,failing_prod,failing_prod_hosts,last_analyzed,link');
  const one = await jf(['audits', 'openssl-test', ...c, '--format', 'ndjson', '--failing'], dir);
  const rows = one.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(rows.map((r: { host: string; result: string }) => [r.host, r.result]), [['old1', 'fail'], ['web1', 'fail']], '--failing: the failing hosts only');
  const site = JSON.parse((await jf(['audits', 'openssl-test', ...c, '--json', '--site', 'FRA'], dir)).stdout);
  t.same(site.hosts.map((h: { host: string }) => h.host), ['web2'], '--site, any case');
  const prod = JSON.parse((await jf(['audits', 'openssl-test', ...c, '--json', '--prod', '--srvtype', 'db'], dir)).stdout);
  t.same(prod.hosts.map((h: { host: string; result: string }) => [h.host, h.result]), [['db1', 'exempt']]);
  const detailTable = await jf(['audits', 'openssl-test', ...c], dir);
  t.match(detailTable.stdout, /^HOST\s+RESULT\s+SINCE\s+FIXED AT\s+BUCKET\s+SITE\s+SRVTYPE\n/);
  t.match(detailTable.stdout, /web1\s+fail\s+\S+ \S+\s+-\s+bookworm\s+ams\s+web/);
  const unknown = await jf(['audits', 'openssl', ...c], dir);
  t.equal(unknown.code, 1, 'an unknown audit: exit 1');
  t.match(unknown.stderr, /no audit named openssl was analyzed; similar: openssl-test/);
  const facts = await jf(['facts', 'web1', '--audits', ...c, '--json'], dir);
  t.equal(facts.code, 0);
  t.same(JSON.parse(facts.stdout).audits.map((a: { audit: string; result: string }) => [a.audit, a.result]), [['openssl-test', 'fail']], 'facts HOST --audits');
  const help = await jf(['audits', '--help'], dir);
  t.match(help.stdout, /jellyfish audits --failing --prod/);
  t.match(help.stdout, /Exit codes: 0, 1 AUDIT is not in the database/);
});

t.test('a real run of the fixture fleet, then analyze with the shipped audits', async (t) => {
  const dir = t.testdir();
  const base = '127.110.1.';
  const fleet = await startFleet({ count: 9, base: `${base}1`, port: 2222, dir });
  t.teardown(() => fleet.close());
  const out = (profile: string, type: string) => fs.readFileSync(`fixtures/outputs/${profile}/${type}.txt`, 'utf8');
  const types = ['release', 'packages', 'users', 'reboot-needed'];
  const labels = fleet.hosts.map((h) => h.address);
  // .1-.3 Debian 12 (the fleet's default), .4-.6 Ubuntu 22.04, .7-.9 RHEL 9.
  labels.forEach((a, i) => {
    const profile = i < 3 ? 'debian12' : i < 6 ? 'ubuntu22' : 'rhel9';
    fleet.setOutputs(a, Object.fromEntries(types.map((ty) => [ty, out(profile, ty)])));
  });
  const collectors = types.map((ty) => `[${ty}]\nmulti = ${ty === 'reboot-needed' ? 'false' : 'true'}\ncollection = true\ntimeout = 2s\n`).join('\n');
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l, i) => `${l},web,${i % 2 ? 'ams' : 'fra'},prod`), collectors });
  t.equal((await jf(['run', '-c', 'scheduler.ini'], dir)).code, 0, 'the run collects every host');
  const r = await jf(['analyze', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as AnalyzeSummary;
  t.equal(s.audits, 5, 'the five shipped sample audits');
  t.same([s.hosts_evaluated, s.stale], [9, 0]);
  t.same([s.pass, s.fail, s.exempt], [27, 15, 0], 'the expected totals');
  const list = JSON.parse((await jf(['audits', '-c', 'scheduler.ini', '--json'], dir)).stdout);
  const by = Object.fromEntries(list.audits.map((a: { name: string; pass: number; fail: number; exempt: number }) => [a.name, [a.pass, a.fail, a.exempt]]));
  t.same(by, {
    'openssl-minimum': [3, 6, 0],
    'curl-minimum': [3, 3, 0],
    'pending-reboot': [3, 6, 0],
    'unexpected-accounts': [9, 0, 0],
    'root-is-uid-0': [9, 0, 0],
  }, 'Debian passes openssl and fails curl; Ubuntu the reverse; RHEL fails openssl (rpm order, epoch) and has no curl bucket; Ubuntu and RHEL need a reboot');
  const curl = JSON.parse((await jf(['audits', 'curl-minimum', '-c', 'scheduler.ini', '--json', '--failing'], dir)).stdout);
  t.same(curl.hosts.map((h: { host: string }) => h.host), labels.slice(0, 3), 'the Debian hosts fail curl');
  t.ok(fs.existsSync(BIN));
});
