// gap-fix: names exactly the prod hosts the run missed, collects them once repaired, and runs
// beside a full run on the same database without the run lock and without losing a write.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { statusProblems, writeEnv } from './helpers/run-env.js';
import { jf } from './helpers/jellyfish-cli.js';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('run, gap-fix --list, repair, gap-fix', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({
    count: 10, base: '127.35.0.1', port: 2222, dir,
    faults: { '127.35.0.2': { kind: 'refuse' }, '127.35.0.3': { kind: 'auth-reject' }, '127.35.0.8': { kind: 'refuse' } },
  });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l, i) => `${l},web,ams,${i < 6 ? 'prod' : 'spare'}`) });

  const run = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(run.code, 0, run.stderr);
  t.same(JSON.parse(run.stdout).global_fail_hosts_list, ['127.35.0.2', '127.35.0.3', '127.35.0.8']);

  const list = await jf(['gap-fix', '-c', 'scheduler.ini', '--list'], dir);
  t.equal(list.code, 0, list.stderr);
  t.same(JSON.parse(list.stdout), { found_gap: 2, gap_hosts: ['127.35.0.2', '127.35.0.3'] }, 'only the failed prod hosts');
  const oldSpelling = await jf(['gap-fix', '-c', 'scheduler.ini', '-f'], dir);
  t.same(JSON.parse(oldSpelling.stdout).gap_hosts, ['127.35.0.2', '127.35.0.3'], '-f still works');

  await fleet.setFault('127.35.0.2', undefined);
  await fleet.setFault('127.35.0.3', undefined);
  const fix = await jf(['gap-fix', '-c', 'scheduler.ini'], dir);
  t.equal(fix.code, 0, fix.stderr);
  const json = JSON.parse(fix.stdout);
  t.equal(json.mode, 'gap-fix');
  t.equal(json.threads, 16, '[gapfix] threads');
  t.same(json.global_success_hosts_list, ['127.35.0.2', '127.35.0.3']);
  t.same(statusProblems(json, ['127.35.0.2', '127.35.0.3']), []);

  const after = await jf(['gap-fix', '-c', 'scheduler.ini', '--list', '--compact'], dir);
  t.equal(after.stdout.trim(), '{"found_gap":0,"gap_hosts":[]}');
});

t.test('gap-fix beside a full run: no run lock, no lost write', async (t) => {
  const dir = t.testdir();
  // Each exec answers after 400 ms, so the full run (4 pipelines, 40 hosts) lasts about 4 s.
  const fleet = await startFleet({ count: 40, base: '127.35.1.1', port: 2222, dir, delayMs: 400 });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222,
    rows: labels.map((l, i) => `${l},web,ams,${i % 2 ? 'spare' : 'prod'}`),
    ini: { collector: { threads: '4' }, gapfix: { threads: '4' } },
  });
  const full = jf(['run', '-c', 'scheduler.ini'], dir);
  // The run takes its lock once its start-up is done (on a busy machine that can be seconds).
  const lockFile = path.join(dir, 'var/jf.lock.lock');
  for (let waited = 0; !fs.existsSync(lockFile) && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  t.ok(fs.existsSync(lockFile), 'the full run holds the run lock');
  const gap = await jf(['gap-fix', '-c', 'scheduler.ini'], dir);
  const run = await full;
  t.equal(gap.code, 0, gap.stderr);
  t.equal(run.code, 0, run.stderr);
  const gapJson = JSON.parse(gap.stdout);
  const runJson = JSON.parse(run.stdout);
  t.ok(gapJson.global_success_hosts > 0, `gap-fix collected ${gapJson.global_success_hosts} hosts while the run was on`);
  t.equal(runJson.global_success_hosts, 40);
  const db = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  const count = (runId: number) => (db.prepare('SELECT COUNT(*) AS n FROM attempts WHERE run_id = ?').get(runId) as { n: number }).n;
  t.equal(count(runJson.run_id), 40, 'every attempt of the run is stored');
  t.equal(count(gapJson.run_id), gapJson.global_success_hosts + gapJson.global_fail_hosts, 'every attempt of the gap-fix is stored');
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
});

t.test('a prod host that only pushes is still collected once per [sapi] verify_every', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 4, base: '127.80.1.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address).slice(0, 3);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`) });
  const first = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(first.code, 0, first.stderr);
  // A host the inventory does not know yet pushes (it becomes known to the inventory next): no SSH attempt ever.
  const now = new Date().toISOString();
  const push = (host: string) => ({ collection_hostname: host, collection_timestamp: now, collection_status: 'ok', collection_data: { rkernel: { default: '6.1-agent' } } });
  fs.writeFileSync(path.join(dir, 'push.ndjson'), [push('127.80.1.2'), push('127.80.1.4')].map((d) => JSON.stringify(d)).join('\n'));
  const ing = await jf(['ingest', 'push.ndjson', '-c', 'scheduler.ini'], dir);
  t.equal(ing.code, 0, ing.stderr);
  fs.appendFileSync(path.join(dir, 'server4.csv'), '127.80.1.4,web,ams,prod\n');

  const list = await jf(['gap-fix', '-c', 'scheduler.ini', '--list'], dir);
  t.same(JSON.parse(list.stdout), { found_gap: 1, gap_hosts: ['127.80.1.4'] }, 'the pusher that never had an SSH attempt is due; .2 had one');

  // .2's last SSH attempt made older than verify_every (7d): its push no longer vouches for it.
  const db = new Database(path.join(dir, 'var/jf.db'));
  const old = new Date(Date.now() - 8 * 86_400_000).toISOString();
  db.prepare("UPDATE attempts SET started_at = ?, finished_at = ? WHERE host_id = (SELECT id FROM hosts WHERE name = '127.80.1.2') AND run_id IN (SELECT id FROM runs WHERE mode = 'run')").run(old, old);
  db.close();
  const due = await jf(['gap-fix', '-c', 'scheduler.ini', '--list'], dir);
  t.same(JSON.parse(due.stdout).gap_hosts, ['127.80.1.2', '127.80.1.4']);
  const fix = await jf(['gap-fix', '-c', 'scheduler.ini'], dir);
  t.equal(fix.code, 0, fix.stderr);
  const json = JSON.parse(fix.stdout);
  t.same(json.global_success_hosts_list, ['127.80.1.2', '127.80.1.4'], 'collected over SSH, listed by that outcome');
  t.same(json.sapi_hosts_list, [], 'not as sapi hosts');
  t.same(statusProblems(json, ['127.80.1.2', '127.80.1.4']), []);
  const after = await jf(['gap-fix', '-c', 'scheduler.ini', '--list', '--compact'], dir);
  t.equal(after.stdout.trim(), '{"found_gap":0,"gap_hosts":[]}', 'checked: vouched for again until the window passes');
});
