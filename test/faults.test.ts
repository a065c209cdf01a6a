// More of the host fault matrix (the rest is in run-fleet.test.ts): endless and 100 MB output
// stopped at the cap, a SYN that is never answered (inside a network namespace this test makes),
// a host key of a type known_hosts does not hold. Healthy hosts beside them are unaffected.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { loadConfig } from '../src/config/load.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';

t.test('output faults stop at the cap; neighbours are unaffected', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({
    count: 5, base: '127.36.0.1', port: 2222, dir,
    faults: {
      '127.36.0.1': { kind: 'endless-output', type: 'packages' },
      '127.36.0.2': { kind: 'huge-output', type: 'packages', bytes: 100 * 1024 * 1024 },
    },
  });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { storage: { database: 'var/jf.db', max_output: '2MB' } },
  });
  const config = loadConfig({ file: env.ini });
  const started = Date.now();
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 60_000 });
  t.ok(Date.now() - started < 30_000, 'the run ended promptly');
  t.same(statusProblems(r.json, labels), []);
  t.same(r.json.global_success_hosts_list, labels, 'capped hosts count as partial successes, the rest ok');
  const outcomes = r.json.outcomes as Record<string, number>;
  t.equal(outcomes.partial, 2);
  t.equal(outcomes.ok, 3);
  t.ok(process.memoryUsage().rss < 1024 * 1024 * 1024, 'memory stayed bounded (no 100 MB buffers per host)');
});

t.test('a host key of a type known_hosts does not hold is refused', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 1, base: '127.36.1.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  // known_hosts knows this host only by an RSA key: the ed25519 key it presents is not accepted.
  const kh = path.join(dir, 'rsa_known_hosts');
  fs.writeFileSync(kh, '[127.36.1.1]:2222 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDfake\n');
  const env = writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: kh, port: 2222, rows: ['127.36.1.1,web,ams,prod'], ini: { paramiko: { host_key_policy: 'accept-new', known_hosts: kh } } });
  const config = loadConfig({ file: env.ini });
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 30_000 });
  const f = (r.json.failures as Record<string, { outcome: string; code: string; message: string }>)['127.36.1.1'];
  t.equal(f?.outcome, 'hostkey_mismatch');
  t.match(f?.message, /holds only ssh-rsa/);
  t.equal(fs.readFileSync(kh, 'utf8').split('\n').filter(Boolean).length, 1, 'accept-new did not add a key for a host it already knows');
});

t.test('a SYN that is never answered ends as ETIMEDOUT at connect_timeout', async (t) => {
  const ns = `jf-syn-${process.pid}`;
  const ip = (...args: string[]) => spawnSync('ip', ['netns', 'exec', ns, 'ip', ...args], { encoding: 'utf8' });
  if (process.getuid?.() !== 0 || spawnSync('ip', ['netns', 'add', ns]).status !== 0) {
    t.skip('needs root and iproute2 to make a network namespace');
    return;
  }
  t.teardown(() => { spawnSync('ip', ['netns', 'del', ns]); });
  // Inside our own namespace: 192.0.2.2 (TEST-NET) has a neighbour entry but nobody answers,
  // so the SYN goes out on a veth pair and is never answered. Nothing leaves the namespace.
  ip('link', 'set', 'lo', 'up');
  const veth = ip('link', 'add', 'jfv0', 'type', 'veth', 'peer', 'name', 'jfv1');
  if (veth.status !== 0) { t.skip(`no veth in this kernel: ${veth.stderr.trim()}`); return; }
  ip('addr', 'add', '192.0.2.1/24', 'dev', 'jfv0');
  ip('link', 'set', 'jfv0', 'up');
  ip('link', 'set', 'jfv1', 'up');
  ip('neigh', 'add', '192.0.2.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'jfv0', 'nud', 'permanent');
  const dir = t.testdir();
  const key = path.join(dir, 'id');
  fs.writeFileSync(key, (await import('ssh2')).default.utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
  writeEnv({ dir, keyPath: key, knownHosts: path.join(dir, 'kh'), port: 22, rows: ['192.0.2.2,web,ams,prod', '127.0.0.1:1,web,ams,prod'], ini: { paramiko: { connect_timeout: '2s', host_key_policy: 'accept-new' } } });
  const started = Date.now();
  const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, path.resolve('bin/jellyfish'), 'run', '-c', 'scheduler.ini'], { cwd: dir });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.on('close', (code) => resolve({ code, stdout }));
  });
  const json = JSON.parse(r.stdout);
  t.equal(json.failures['192.0.2.2'].code, 'ETIMEDOUT');
  t.equal(json.failures['127.0.0.1:1'].code, 'ECONNREFUSED', 'the other host failed fast, on its own');
  t.ok(Date.now() - started < 15_000, 'ended at connect_timeout, not later');
});
