// Site collectors on the SQLite store (one machine, one database file), through the real CLI:
// two sites run at the same time and share the file; a collector whose hosts overlap a running
// one (the whole inventory, an overlapping site list, the same shard) is refused with exit 75;
// shards of one count run side by side; status shows each collector and each site's last run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet, type FaultSpec } from '../fixtures/fleet/fleet.mjs';
import { overlaps } from '../src/lock/site-lock.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');
const BASE = '127.47.0.';

interface Done { code: number | null; stdout: string; stderr: string }

function jf(args: string[]): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('which holders overlap a collector', async (t) => {
  const c = (sites: string[] | 'all', shard?: string) => ({ sites, unknownSites: [], ...(shard ? { shard } : {}) });
  t.ok(overlaps(c(['ams']), {}), 'a holder that names no sites (an older jellyfish) covers everything');
  t.ok(overlaps(c(['ams']), { sites: 'all' }), 'the whole inventory covers every site');
  t.ok(overlaps(c('all'), { sites: ['fra'] }), 'the whole inventory meets any site');
  t.notOk(overlaps(c(['ams']), { sites: ['fra'] }), 'two sites do not meet');
  t.ok(overlaps(c(['ams', 'fra']), { sites: ['fra', 'lon'] }), 'overlapping site lists meet');
  t.notOk(overlaps(c(['ams'], '1/2'), { sites: ['ams'], shard: '2/2' }), 'shards of one count split a site');
  t.ok(overlaps(c(['ams'], '1/2'), { sites: ['ams'], shard: '1/2' }), 'the same shard meets');
  t.ok(overlaps(c(['ams'], '1/2'), { sites: ['ams'], shard: '1/3' }), 'shards of different counts share hosts');
  t.ok(overlaps(c(['ams'], '1/2'), { sites: ['ams'] }), 'the whole site meets its shards');
});

t.test('site collectors on one SQLite file', async (t) => {
  const dir = t.testdir();
  // 1-8 ams, 9-16 fra, 17-18 slow (18 never answers its packages within 15 s).
  const faults: Record<string, FaultSpec> = { [`${BASE}18`]: { kind: 'cmd-hang', type: 'packages' } };
  const fleet = await startFleet({ count: 18, base: `${BASE}1`, port: 2222, dir, faults });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  const pop = (i: number) => (i < 8 ? 'ams' : i < 16 ? 'fra' : 'slow');
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l, i) => `${l},web,${pop(i)},prod`),
    collectors: '[rkernel]\ncollection = uname -r\ntimeout = 2s\n\n[packages]\nmulti = true\ncollection = dpkg-query -W\ntimeout = 15s\n',
    ini: { collector: { threads: '16', host_timeout: '30s' }, results: { output_json_file: 'false' } },
  });
  const run = (...args: string[]) => jf(['run', '-c', env.ini, '--compact', ...args]);
  const bySite = (s: string) => labels.filter((_, i) => pop(i) === s);

  const [ams, fra] = await Promise.all([run('--site', 'ams').done, run('--site', 'fra').done]);
  t.equal(ams.code, 0, ams.stderr);
  t.equal(fra.code, 0, fra.stderr);
  const a = JSON.parse(ams.stdout);
  t.same(a.sites, ['ams']);
  t.same(statusProblems(a, bySite('ams')), [], 'every ams host in exactly one list');
  t.same(statusProblems(JSON.parse(fra.stdout), bySite('fra')), [], 'every fra host in exactly one list');
  t.ok(fs.existsSync(path.join(dir, 'var/jf.db')), 'one database');

  const slow = run('--site', 'slow');
  let active: { scope?: string; pid: number }[] = [];
  for (let i = 0; i < 100 && active.length === 0; i++) {
    await sleep(100);
    active = JSON.parse((await jf(['status', '-c', env.ini, '--json']).done).stdout).active;
  }
  t.match(active, [{ mode: 'run', pid: slow.child.pid, scope: 'site_slow', lockfile: /jf\.site_slow\.lock$/ }], 'status shows the site collector and its lock file');
  const whole = await run().done;
  t.equal(whole.code, 75, 'the whole inventory overlaps site slow: refused');
  t.match(JSON.parse(whole.stdout), { locked: true, holder: { pid: slow.child.pid, sites: ['slow'] } });
  t.match(whole.stderr, /a run of sites slow is running \(pid \d+/);
  const overlapping = await run('--site', 'slow,ams').done;
  t.equal(overlapping.code, 75, 'an overlapping site list: refused');
  const same = await run('--site', 'SLOW').done;
  t.equal(same.code, 75, 'the same site (any case): refused');
  const other = await run('--site', 'ams').done;
  t.equal(other.code, 0, 'another site runs meanwhile, on the same file');
  const done = await slow.done;
  t.equal(done.code, 0, done.stderr);

  const [s1, s2] = await Promise.all([run('--shard', '1/2').done, run('--shard', '2/2').done]);
  t.equal(s1.code, 0, s1.stderr);
  t.equal(s2.code, 0, s2.stderr);
  const both = [...JSON.parse(s1.stdout).global_success_hosts_list, ...JSON.parse(s2.stdout).global_success_hosts_list,
    ...JSON.parse(s1.stdout).global_fail_hosts_list, ...JSON.parse(s2.stdout).global_fail_hosts_list].sort();
  t.same(both, [...labels].sort(), 'two shards of the whole inventory ran together and cover it once');

  const st = JSON.parse((await jf(['status', '-c', env.ini, '--json']).done).stdout);
  t.same(st.last_runs.filter((r: { mode: string }) => r.mode === 'run').map((r: { scope?: string }) => r.scope ?? 'all').sort(),
    ['all sites, shard 1/2', 'all sites, shard 2/2', 'site ams', 'site fra', 'site slow'], "status: each scope's last run");
  const text = (await jf(['status', '-c', env.ini]).done).stdout;
  t.match(text, /last run \(site ams\) #\d+/, 'status text names the scope');
});
