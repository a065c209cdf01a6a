// Site collectors on one PostgreSQL store, through the real CLI in child processes against the
// fixture fleet: two sites collected at the same time, then the read commands see every host;
// a second collector for a site that is running is refused (exit 75, holder named) while other
// sites run; `kill -9` of a collector frees its site at once; shards split a site; the fault
// fleet gives the same outcomes on PostgreSQL as on SQLite.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { startFleet, type FaultSpec } from '../fixtures/fleet/fleet.mjs';
import { postgresSkipReason, startPostgres } from './helpers/postgres.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');
const BASE = '127.46.0.';
const skip = postgresSkipReason();

interface Done { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function jf(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const done = new Promise<Done>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

const json = (d: Done): Record<string, unknown> => {
  try { return JSON.parse(d.stdout) as Record<string, unknown>; } catch { throw new Error(`not JSON (exit ${d.code}): ${d.stdout}\n${d.stderr}`); }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `status --json` until some collector is active (up to 10 s). */
async function waitActive(ini: string, env: Record<string, string>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const out = (await jf(['status', '-c', ini, '--json'], env).done).stdout;
    if ((JSON.parse(out || '{"active":[]}') as { active: unknown[] }).active.length) return true;
  }
  return false;
}

/** Collections for these tests: quick, except packages, which the hanging host never answers within 20 s. */
const COLLECTORS = `
[rkernel]
collection = uname -r
timeout = 2s

[packages]
multi = true
collection = dpkg-query -W
timeout = 20s
`;

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('site collectors on PostgreSQL', { skip: skip ?? false }, async (t) => {
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  const dir = t.testdir();
  // 24 hosts: 1-10 ams, 11-20 fra, 21-24 slow (24 never finishes its packages within 20 s).
  const faults: Record<string, FaultSpec> = { [`${BASE}24`]: { kind: 'cmd-hang', type: 'packages' } };
  const fleet = await startFleet({ count: 24, base: `${BASE}1`, port: 2222, dir, faults });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  const pop = (i: number) => (i < 10 ? 'ams' : i < 20 ? 'FRA' : 'slow');
  const rows = labels.map((l, i) => `${l},web,${pop(i)},${i % 4 === 3 ? 'spare' : 'prod'},`);
  const bySite = (s: string) => labels.filter((_, i) => pop(i).toLowerCase() === s);
  const url = await pgs.createDatabase('sites');
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, collectors: COLLECTORS,
    ini: { storage: { database: url }, collector: { threads: '16', host_timeout: '30s', threadtimeout: '60s' }, results: { output_json_file: 'false' } },
  });
  const run = (...args: string[]) => jf(['run', '-c', env.ini, '--compact', ...args], pgs.env);
  const read = async (...args: string[]) => (await jf([...args, '-c', env.ini], pgs.env).done);

  t.test('status on a database no collector has written yet: idle, no run recorded', async (t) => {
    const ini = path.join(dir, 'fresh.ini');
    fs.writeFileSync(ini, fs.readFileSync(env.ini, 'utf8').replace(url, await pgs.createDatabase('fresh')));
    const st = await jf(['status', '-c', ini], pgs.env).done;
    t.equal(st.code, 0, st.stderr);
    t.match(st.stdout, /idle: no run or gap-fix is active\nno run recorded/);
  });

  t.test('two sites collected at the same time; the read commands see every host', async (t) => {
    const [ams, fra] = await Promise.all([run('--site', 'ams').done, run('--site', 'fra').done]);
    t.equal(ams.code, 0, `ams exit 0 (${ams.stderr})`);
    t.equal(fra.code, 0, `fra exit 0 (${fra.stderr})`);
    const a = json(ams);
    const f = json(fra);
    t.same(a.sites, ['ams'], 'the JSON names its site');
    t.same(f.sites, ['fra'], 'pop FRA is site fra');
    t.equal(a.other_site_hosts, 14, 'the other sites are counted, not listed');
    t.same(statusProblems(a, bySite('ams')), [], 'ams: every ams host in exactly one list');
    t.same(statusProblems(f, bySite('fra')), [], 'fra: every fra host in exactly one list');
    t.same((a.global_success_hosts_list as string[]).sort(), [...bySite('ams')].sort(), 'all ams hosts collected');
    t.same((f.global_success_hosts_list as string[]).sort(), [...bySite('fra')].sort(), 'all fra hosts collected');
    t.not(a.run_id, f.run_id, 'two runs');

    const hosts = await read('hosts', '--json', '--all');
    t.equal(hosts.code, 0, hosts.stderr);
    const list = JSON.parse(hosts.stdout) as { host: string; last_outcome: string | null; pop: string }[];
    t.same(list.filter((h) => h.last_outcome === 'ok').map((h) => h.host).sort(), [...bySite('ams'), ...bySite('fra')].sort(), 'hosts: both sites, one database');
    const q = await read('query', '--type', 'rkernel', '--json');
    t.equal((JSON.parse(q.stdout) as { host_count: number }).host_count, 20, 'query: every collected host');
    const facts = await read('facts', `${BASE}15`, '--json');
    t.match(JSON.parse(facts.stdout), { host: `${BASE}15`, facts: [{ type: 'packages' }] }, 'facts of a fra host');
    const gap = await jf(['gap-fix', '-c', env.ini, '--list'], pgs.env).done;
    t.same(JSON.parse(gap.stdout).gap_hosts, bySite('slow').filter((_, i) => (20 + i) % 4 !== 3), 'gap-fix --list: the whole fleet, only the never-collected prod hosts');
    const gapSite = await jf(['gap-fix', '-c', env.ini, '--list', '--site', 'slow', '--compact'], pgs.env).done;
    t.same(JSON.parse(gapSite.stdout), { found_gap: 3, gap_hosts: bySite('slow').filter((_, i) => (20 + i) % 4 !== 3), sites: ['slow'] }, 'gap-fix --list --site: that site, named');
    const st = await read('status', '--json');
    t.equal(st.code, 0, 'status: nothing running');
    const last = (JSON.parse(st.stdout) as { last_runs: { mode: string; scope?: string; success?: number }[] }).last_runs;
    t.same(last.filter((r) => r.mode === 'run').map((r) => [r.scope, r.success]).sort(), [['site ams', 10], ['site fra', 10]], "status: each site's last summary");
  });

  t.test('a second collector for a running site is refused; kill -9 frees the site at once', async (t) => {
    const first = run('--site', 'slow');
    // Wait until status shows it holding its site.
    let active: { mode: string; pid: number; sites: string[]; host: string }[] = [];
    for (let i = 0; i < 100 && active.length === 0; i++) {
      await sleep(100);
      const st = await read('status', '--json');
      active = (JSON.parse(st.stdout) as { active: typeof active }).active;
      if (active.length) t.equal(st.code, 3, 'status exits 3 while a collector runs');
    }
    t.match(active, [{ mode: 'run', pid: first.child.pid, sites: ['slow'] }], 'status names the holder of site slow');
    const text = await read('status');
    t.match(text.stdout, /ACTIVE run \(sites slow\): pid \d+/, 'status text names the site');

    const second = await run('--site', 'slow').done;
    t.equal(second.code, 75, 'same site: refused with exit 75');
    t.match(json(second), { locked: true, holder: { pid: first.child.pid, site: 'slow', mode: 'run' } }, 'the refusal names the holder');
    t.match(second.stderr, /site slow is being collected by a run \(pid \d+/);
    const all = await run().done;
    t.equal(all.code, 75, 'a whole-inventory run covers site slow too: refused');
    const other = await run('--site', 'ams').done;
    t.equal(other.code, 0, 'another site runs meanwhile');

    first.child.kill('SIGKILL');
    const killed = await first.done;
    t.equal(killed.signal, 'SIGKILL');
    // The server frees the advisory locks when the dead process's connection closes.
    const t0 = Date.now();
    let freed = false;
    while (!freed && Date.now() - t0 < 10_000) {
      const st = await read('status', '--json');
      const body = JSON.parse(st.stdout) as { active: unknown[]; unfinished_runs: { state: string; scope?: string }[] };
      if (body.active.length === 0) {
        freed = true;
        t.equal(st.code, 0, 'status: idle again');
        t.match(body.unfinished_runs, [{ state: 'interrupted', scope: 'site slow' }], 'the killed run shows as interrupted');
      }
    }
    t.ok(freed, `site slow free ${Date.now() - t0} ms after kill -9`);
    const after = await run('--site', 'slow', '--threadtimeout', '3s').done;
    t.not(after.code, 75, `a new collector takes site slow (exit ${after.code})`);
    t.ok(Date.now() - t0 < 20_000, 'no stale-lock wait');
    t.same(json(after).sites, ['slow']);
  });

  t.test('shards split a site: both run at once, together they cover it', async (t) => {
    const [s1, s2] = await Promise.all([run('--site', 'ams,fra', '--shard', '1/2').done, run('--site', 'ams,fra', '--shard', '2/2').done]);
    t.equal(s1.code, 0, s1.stderr);
    t.equal(s2.code, 0, s2.stderr);
    const a = json(s1);
    const b = json(s2);
    t.equal(a.shard, '1/2');
    const covered = [...(a.global_success_hosts_list as string[]), ...(b.global_success_hosts_list as string[])].sort();
    t.same(covered, [...bySite('ams'), ...bySite('fra')].sort(), 'each host in exactly one shard');
    t.ok((a.global_success_hosts as number) > 0 && (b.global_success_hosts as number) > 0, 'both shards have hosts');
  });

  /** A collector of site slow on a server of its own, once it holds its site's lock. */
  const slowRunOnOwnServer = async (t: Test, name: string) => {
    const own = await startPostgres();
    const ini = path.join(dir, `${name}.ini`);
    fs.writeFileSync(ini, fs.readFileSync(env.ini, 'utf8').replace(url, await own.createDatabase(name)));
    const c = jf(['run', '-c', ini, '--site', 'slow', '--compact'], own.env);
    t.ok(await waitActive(ini, own.env), 'the collector holds its site');
    return { own, c };
  };

  t.test('the database server going away mid-run ends the run with its JSON, never a crash', async (t) => {
    const { own, c } = await slowRunOnOwnServer(t, 'gone');
    await own.stop();
    const r = await c.done;
    t.ok(r.code === 74 || r.code === 75, `exit 74 or 75 (${r.code})`);
    t.notMatch(r.stderr, /internal error|    at /, 'no crash, no stack');
    const out = json(r);
    t.same(out.sites, ['slow'], 'the JSON is printed');
    t.equal(out.exit_code, r.code);
  });

  t.test('a database server that stops answering (SIGSTOP) ends the run with its JSON, within its timeouts', async (t) => {
    const { own, c } = await slowRunOnOwnServer(t, 'silent');
    const pids = () => {
      const main = fs.readFileSync(path.join(own.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
      const kids = spawnSync('pgrep', ['-P', main], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      return [main, ...kids].map(Number);
    };
    t.teardown(async () => { for (const p of pids()) try { process.kill(p, 'SIGCONT'); } catch { /* gone */ } await own.stop(); });
    const t0 = Date.now();
    for (const p of pids()) process.kill(p, 'SIGSTOP');
    const r = await c.done;
    const took = Date.now() - t0;
    t.ok(r.code === 74 || r.code === 75, `exit 74 or 75 (${r.code}) after ${took} ms`);
    t.ok(took < 60_000, 'bounded by the lock ping and statement timeouts (15 s, 30 s), not by the server');
    t.notMatch(r.stderr, /internal error|    at /, 'no crash, no stack');
    t.match(json(r), { sites: ['slow'], exit_code: r.code }, 'the JSON is printed');
  });

  t.test('SIGTERM mid-run: the JSON, exit 143, the site free and the run recorded', async (t) => {
    const c = run('--site', 'slow');
    t.ok(await waitActive(env.ini, pgs.env), 'running');
    c.child.kill('SIGTERM');
    const r = await c.done;
    t.equal(r.code, 143);
    t.match(json(r), { Interrupted: /^SIGTERM at /, sites: ['slow'], exit_code: 143 });
    const st = JSON.parse((await read('status', '--json')).stdout) as { active: unknown[]; last_runs: { scope?: string; exit_code: number }[] };
    t.same(st.active, [], 'nothing active');
    t.match(st.last_runs.find((l) => l.scope === 'site slow'), { exit_code: 143 }, 'the run is recorded as finished with 143');
  });

  t.test('ingest and prune through the CLI on PostgreSQL', async (t) => {
    const doc = JSON.stringify({ collection_hostname: 'agent1.example', collection_timestamp: new Date().toISOString(), collection_data: { rkernel: { default: '6.1.0-99' } }, pop: 'ams' });
    const child = spawn(process.execPath, [BIN, 'ingest', '-', '-c', env.ini, '--compact'], { env: { ...process.env, ...pgs.env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stdin.end(doc + '\n');
    const code = await new Promise((resolve) => child.on('close', resolve));
    t.equal(code, 0);
    t.match(JSON.parse(out), { stored: 1, rejected: [] });
    const facts = await read('facts', 'agent1.example', '--json');
    t.match(JSON.parse(facts.stdout), { host: 'agent1.example', facts: [{ type: 'rkernel', value: '6.1.0-99' }] });
    const dry = await read('prune', '--older-than', '1s', '--dry-run', '--compact');
    t.equal(dry.code, 0, dry.stderr);
    t.match(JSON.parse(dry.stdout), { dry_run: true, would_archive: Number });
    const pruned = await read('prune', '--older-than', '1s', '--compact');
    t.equal(pruned.code, 0, pruned.stderr);
    t.equal(JSON.parse(pruned.stdout).archived, JSON.parse(dry.stdout).would_archive, 'archives what the dry run counted');
  });

  t.test('the password from ~/.pgpass, without PGPASSWORD', async (t) => {
    const home = path.join(dir, 'home');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(home, '.pgpass'), `127.0.0.1:${pgs.port}:*:jellyfish:${pgs.password}\n`, { mode: 0o600 });
    const { PGPASSWORD: _, ...rest } = process.env;
    const child = spawn(process.execPath, [BIN, 'status', '-c', env.ini, '--json'], { env: { ...rest, HOME: home, CI: '1' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    const code = await new Promise((resolve) => child.on('close', resolve));
    t.equal(code, 0, 'status connects with the ~/.pgpass password');
    t.match(JSON.parse(out), { active: [], last_runs: Array });
  });

  t.test('doctor checks the PostgreSQL database', async (t) => {
    const r = await jf(['doctor', '-c', env.ini, '--json'], pgs.env).done;
    const db = (JSON.parse(r.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'database');
    t.match(db, { ok: true, detail: /^PostgreSQL database postgresql:\/\/jellyfish@127\.0\.0\.1:\d+\/sites opens read-write, schema current, integrity ok, \d+ fact rows$/ });
    const bad = await jf(['doctor', '-c', env.ini, '--json'], { PGPASSWORD: 'nope' }).done;
    t.equal(bad.code, 1, 'a failing check: exit 1');
    t.match((JSON.parse(bad.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'database'), { ok: false, detail: /password authentication failed/ });
  });

  t.test('a password in the URL is a config error; a wrong one a storage error', async (t) => {
    const bad = path.join(dir, 'bad.ini');
    fs.writeFileSync(bad, fs.readFileSync(env.ini, 'utf8').replace(url, url.replace('jellyfish@', 'jellyfish:secret@')));
    const r = await jf(['run', '-c', bad], pgs.env).done;
    t.equal(r.code, 78, 'exit 78');
    t.match(r.stderr, /bad\.ini:\d+: \[storage\] database: the URL carries a password; give it in PGPASSWORD or ~\/\.pgpass/);
    t.notMatch(r.stderr + r.stdout, /secret/, 'the password is not repeated');
    // The same password as a query parameter (which pg would use): refused just as well, for every command.
    for (const param of ['password', 'sslpassword']) {
      fs.writeFileSync(bad, fs.readFileSync(env.ini, 'utf8').replace(url, `${url}?${param}=secret`));
      for (const cmd of ['run', 'status']) {
        const q = await jf([cmd, '-c', bad], pgs.env).done;
        t.equal(q.code, 78, `${cmd} with ${param}=: exit 78`);
        t.match(q.stderr, `[storage] database: the URL carries a secret in '${param}='`);
        t.notMatch(q.stderr + q.stdout, /=secret/, 'the value is not repeated');
      }
    }
    const wrong = await jf(['status', '-c', env.ini], { PGPASSWORD: 'nope' }).done;
    t.equal(wrong.code, 74);
    t.match(wrong.stderr, /password authentication failed/);
  });
});
