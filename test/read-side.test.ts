// The read side and the agent path, on a database prepared by real runs against the fixture
// fleet: status, hosts, facts, query, ingest (malformed, out of order, then a run skips the host),
// prune; and the audit query on 10,000 hosts x 500 packages.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { acquireLock } from '../src/lock/run-lock.js';
import type { HostResult } from '../src/core/results.js';
import { auditPlan } from './helpers/sqlite-plans.js';
import { openStore } from '../src/store/store.js';
import { writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');
function jf(args: string[], cwd: string, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
  });
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('status, hosts, facts, query, ingest, prune', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 5, base: '127.33.0.1', port: 2222, dir, faults: { '127.33.0.5': { kind: 'refuse' } } });
  t.teardown(() => fleet.close());
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: fleet.hosts.map((h, i) => `${h.address},web,ams,${i < 3 ? 'prod' : 'spare'}`) });

  const none = await jf(['hosts', '-c', 'scheduler.ini'], dir);
  t.equal(none.code, 74);
  t.match(none.stderr, /no database yet at .*: run `jellyfish run` first/);
  const idle = await jf(['status', '-c', 'scheduler.ini'], dir);
  t.equal(idle.code, 0);
  t.match(idle.stdout, /idle/);
  t.match(idle.stdout, /no run recorded/);

  t.equal((await jf(['run', '-c', 'scheduler.ini'], dir)).code, 0);
  fleet.setOutputs('127.33.0.1', { rkernel: '6.1.0-99-amd64\n', packages: 'openssl 1.1.1w-0+deb11u1\nbash 5.2.15-2+b2\n' });
  t.equal((await jf(['run', '-c', 'scheduler.ini'], dir)).code, 0);

  const status = await jf(['status', '-c', 'scheduler.ini', '--json'], dir);
  t.equal(status.code, 0);
  const st = JSON.parse(status.stdout);
  t.same(st.active, []);
  t.equal(st.last_runs[0].mode, 'run');
  t.equal(st.last_runs[0].success, 4);
  t.equal(st.last_runs[0].failed, 1);
  const lock = await acquireLock(path.join(dir, 'var/jf.lock'), 'run', () => {});
  const busy = await jf(['status', '-c', 'scheduler.ini'], dir);
  t.equal(busy.code, 3, 'exit 3 while a run holds the lock');
  t.match(busy.stdout, new RegExp(`ACTIVE run: pid ${process.pid}`));
  // Read commands work while the lock is held.
  const hostsLocked = await jf(['hosts', '-c', 'scheduler.ini', '--json'], dir);
  await lock.release();
  t.equal(hostsLocked.code, 0);
  t.equal(JSON.parse(hostsLocked.stdout).length, 5);

  const failed = JSON.parse((await jf(['hosts', '-c', 'scheduler.ini', '--failed', '--json'], dir)).stdout);
  t.same(failed.map((h: { host: string }) => h.host), ['127.33.0.5']);
  t.equal(failed[0].last_code, 'ECONNREFUSED');
  const stale = JSON.parse((await jf(['hosts', '-c', 'scheduler.ini', '--stale', '1h', '--json'], dir)).stdout);
  t.same(stale.map((h: { host: string }) => h.host), ['127.33.0.5'], 'never succeeded = stale');
  const prod = JSON.parse((await jf(['hosts', '-c', 'scheduler.ini', '--prod', '--json'], dir)).stdout);
  t.equal(prod.length, 3);
  const table = await jf(['hosts', '-c', 'scheduler.ini'], dir);
  t.match(table.stdout, /^HOST\s+PROD\s+LAST ATTEMPT\s+LAST SUCCESS\s+OUTCOME\s+CODE\n-+/);
  t.match(table.stdout, /127\.33\.0\.5\s+no\s+(just now|\d+s ago)\s+never\s+unreachable\s+ECONNREFUSED/);
  t.equal((await jf(['hosts', '-c', 'scheduler.ini', '--stale', 'soon'], dir)).code, 64);

  const facts = JSON.parse((await jf(['facts', '127.33.0.1', '-c', 'scheduler.ini', '--type', 'rkernel', '--json'], dir)).stdout);
  t.same(facts.facts.map((f: { value: string }) => f.value), ['6.1.0-99-amd64']);
  const history = JSON.parse((await jf(['facts', '127.33.0.1', '-c', 'scheduler.ini', '--type', 'rkernel', '--history', '--json'], dir)).stdout);
  t.equal(history.facts.length, 2, 'the old kernel interval is closed, the new one current');
  t.same(history.facts.map((f: { current: boolean }) => f.current).sort(), [false, true]);
  const unknown = await jf(['facts', 'nope.example', '-c', 'scheduler.ini'], dir);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /nope\.example is not in the database/);

  const q = JSON.parse((await jf(['query', '-c', 'scheduler.ini', '--type', 'packages', '--subtype', 'openssl', '--like', '1.1%', '--json'], dir)).stdout);
  t.same(q.hosts.map((h: { host: string }) => h.host), ['127.33.0.1']);
  t.equal((await jf(['query', '-c', 'scheduler.ini', '--type', 'packages', '--value', 'x', '--like', 'y'], dir)).code, 64);
  const qt = await jf(['query', '-c', 'scheduler.ini', '--type', 'release', '--subtype', 'ID'], dir);
  t.match(qt.stdout, /127\.33\.0\.2\s+ID\s+debian/);

  // ingest: a good document, a malformed batch, an out-of-order one; then a run skips the pusher.
  const now = new Date().toISOString();
  const good = { collection_hostname: 'agent1.example', collection_timestamp: now, collection_status: 'OK', pop: 'fra', srvtype: 'db', status: 'prod', collection_data: { rkernel: { default: '6.1.0-7-amd64' }, packages: { openssl: '3.0.11-1', zlib1g: 1.2 } } };
  const ing = await jf(['ingest', '-', '-c', 'scheduler.ini'], dir, JSON.stringify(good));
  t.equal(ing.code, 0, ing.stderr);
  t.same(JSON.parse(ing.stdout), { rejected: [], skipped_types: [], stored: 1 });
  const bad = [
    '{"collection_hostname": "b1.example", "collection_timestamp": 1700000000, "collection_data": {"x": {"y": "z"}}}',
    '{"collection_hostname": "", "collection_timestamp": 1700000000, "collection_data": {}}',
    '{"collection_hostname": "b3.example", "collection_timestamp": "yesterday-ish", "collection_data": {}}',
    '{"collection_hostname": "b4.example", "collection_timestamp": 1700000000, "collection_data": ["x"]}',
    '{"collection_hostname": "b5.example", "collection_timestamp": 1700000000, "collection_data": {"t": {"s": {"nested": 1}}}}',
    'this is not json',
    '{"collection_hostname": "$(reboot)", "collection_timestamp": 1700000000, "collection_data": {}}',
  ].join('\n');
  const badRun = await jf(['ingest', '-', '-c', 'scheduler.ini'], dir, bad);
  t.equal(badRun.code, 65);
  const br = JSON.parse(badRun.stdout);
  t.equal(br.stored, 1, 'the one valid document is stored');
  t.same(br.rejected.map((r: { doc: number }) => r.doc), [2, 3, 4, 5, 6, 7]);
  t.match(br.rejected[3].error, /collection_data\.t\.s: expected a string/);
  t.match(badRun.stderr, /document 6 \(line 6\): not valid JSON/);
  const old = { ...good, collection_timestamp: '2020-01-01T00:00:00Z', collection_data: { rkernel: { default: '2.6.32-old' } } };
  const ooo = JSON.parse((await jf(['ingest', '-', '-c', 'scheduler.ini'], dir, JSON.stringify(old))).stdout);
  t.same(ooo.skipped_types, [{ doc: 1, host: 'agent1.example', types: ['rkernel'] }]);
  const kern = JSON.parse((await jf(['facts', 'agent1.example', '-c', 'scheduler.ini', '--type', 'rkernel', '--json'], dir)).stdout);
  t.same(kern.facts.map((f: { value: string }) => f.value), ['6.1.0-7-amd64'], 'an older document never overwrites newer facts');
  fs.appendFileSync(path.join(dir, 'server4.csv'), 'agent1.example,db,fra,prod\n');
  // It never had an SSH attempt ([sapi] verify_every): the next run tries it once, then skips it.
  const afterIngest = JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout);
  t.same(afterIngest.sapi_hosts_list, [], 'a host that only ever pushed is tried over SSH');
  t.ok(afterIngest.global_fail_hosts_list.includes('agent1.example') || afterIngest.global_success_hosts_list.includes('agent1.example'), 'listed by that attempt');
  const again = JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout);
  t.same(again.sapi_hosts_list, ['agent1.example'], 'a recent pusher with a recent SSH attempt is skipped by the run');

  // prune: closed intervals older than AGE move to the archive; current facts stay.
  const store = openStore(path.join(dir, 'var/jf.db'));
  t.teardown(() => store.close());
  const closedBefore = (store.database.prepare('SELECT COUNT(*) AS n FROM facts WHERE is_current = 0').get() as { n: number }).n;
  const current = (store.database.prepare('SELECT COUNT(*) AS n FROM facts WHERE is_current = 1').get() as { n: number }).n;
  t.ok(closedBefore > 0);
  const p0 = JSON.parse((await jf(['prune', '-c', 'scheduler.ini', '--older-than', '1d'], dir)).stdout);
  t.same(p0, { archived: 0 }, 'nothing is a day old yet');
  const p1 = JSON.parse((await jf(['prune', '-c', 'scheduler.ini', '--older-than', '1ms'], dir)).stdout);
  t.same(p1, { archived: closedBefore });
  t.equal((store.database.prepare('SELECT COUNT(*) AS n FROM facts_archive').get() as { n: number }).n, closedBefore);
  t.equal((store.database.prepare('SELECT COUNT(*) AS n FROM facts WHERE is_current = 1').get() as { n: number }).n, current, 'current facts untouched');
  t.equal((await jf(['prune', '-c', 'scheduler.ini', '--older-than', 'old'], dir)).code, 64);
});

t.test('prune works in batches over more than 5,000 rows', async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'jf.db');
  const store = openStore(db);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const mk = (i: number, finishedAt: number): HostResult => ({
    label: 'h1', outcome: 'ok', startedAt: finishedAt, finishedAt, outputBytes: 0,
    collections: [{ type: 'packages', status: 'ok', durationMs: 1, values: Object.fromEntries(Array.from({ length: 6000 }, (_, k) => [`p${k}`, `v${i}`])) }],
  });
  store.recordResults(runId, [mk(1, Date.now() - 10_000)]);
  store.recordResults(runId, [mk(2, Date.now() - 5_000)]);
  store.close();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), `[storage]\ndatabase = ${db}\n`);
  const r = await jf(['prune', '-c', 'scheduler.ini', '--older-than', '1s', '--delete'], dir);
  t.same(JSON.parse(r.stdout), { deleted: 6000 });
});

t.test('the audit query on 10,000 hosts x 500 packages', { timeout: 300_000 }, async (t) => {
  const dir = t.testdir();
  const store = openStore(path.join(dir, 'big.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const now = Date.now();
  for (let b = 0; b < 10_000; b += 500) {
    const batch: HostResult[] = [];
    for (let i = b; i < b + 500; i++) {
      const values: Record<string, string> = {};
      for (let p = 0; p < 500; p++) values[`pkg${p}`] = `1.${p % 7}.${i % 3}`;
      values.openssl = i % 10 === 0 ? '1.1.1w-0' : '3.0.11-1';
      batch.push({ label: `h${i}.example`, outcome: 'ok', startedAt: now, finishedAt: now, outputBytes: 0, collections: [{ type: 'packages', status: 'ok', durationMs: 1, values }] });
    }
    store.recordResults(runId, batch);
  }
  const started = process.hrtime.bigint();
  const hits = await store.auditQuery({ type: 'packages', subtype: 'openssl', like: '1.1%' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(hits.length, 1000);
  t.ok(ms < 1000, `answered in ${ms.toFixed(1)} ms`);
  const plan = auditPlan(store.database, { type: 'packages', subtype: 'openssl', like: '1.1%' }).join('; ');
  t.match(plan, /USING (COVERING )?INDEX facts_audit/, `plan: ${plan}`);
  t.notMatch(plan, /SCAN f\b/, 'no full scan of facts');
});
