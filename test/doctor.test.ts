// `jellyfish doctor` against a fixture host: every check passes on a good setup, and each broken
// part is named without hiding the others.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { unsetIniKey, writeEnv } from './helpers/run-env.js';
import { loadConfig } from '../src/config/load.js';

const BIN = path.resolve('bin/jellyfish');
function jf(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('doctor', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 2, base: '127.37.0.1', port: 2222, dir, faults: { '127.37.0.2': { kind: 'refuse' } }, outputs: { doctor: 'Linux 6.1.0-fixture\n' } });
  t.teardown(() => fleet.close());
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.37.0.1,web,ams,prod', 'bad row'] });

  const good = await jf(['doctor', '-c', 'scheduler.ini', '--host', '127.37.0.1', '--json'], dir);
  t.equal(good.code, 0, good.stdout + good.stderr);
  const json = JSON.parse(good.stdout);
  t.equal(json.ok, true);
  t.same(json.checks.map((c: { name: string }) => c.name), ['config', 'inventory', 'collections', 'ssh key', 'known_hosts', 'database', 'lock', 'result_json', 'host keys 127.37.0.1', 'connect 127.37.0.1', 'api']);
  t.match(json.checks[1].detail, /1 hosts \(1 prod\), 1 invalid rows \(line 2: fewer than 4 fields/);
  t.match(json.checks[9].detail, /^ok in \d+ ms: Linux /);

  const refused = await jf(['doctor', '-c', 'scheduler.ini', '--host', '127.37.0.2'], dir);
  t.equal(refused.code, 1);
  t.match(refused.stdout, /FAIL\s+connect 127\.37\.0\.2\s+unreachable ECONNREFUSED/);
  t.match(refused.stdout, /ok\s+database/, 'the other checks still report');

  fs.chmodSync(fleet.userKeyPath, 0o644);
  const badKey = await jf(['doctor', '-c', 'scheduler.ini'], dir);
  t.equal(badKey.code, 1);
  t.match(badKey.stdout, /FAIL\s+ssh key\s+.*accessible by group or others/);
  t.notMatch(badKey.stdout + badKey.stderr, /PRIVATE KEY/);
});

t.test('doctor --host shows the host-key policy and known_hosts a run would use for that host', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 2, base: '127.50.4.1', port: 2222, dir, outputs: { doctor: 'Linux 6.1.0-fixture\n' } });
  t.teardown(() => fleet.close());
  const hopKnown = path.join(dir, 'hop_known_hosts');
  fs.copyFileSync(fleet.knownHostsPath, hopKnown);
  const sshConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(sshConfig, [
    'Host 127.50.4.1',
    `  UserKnownHostsFile ${hopKnown}`,
    '  HostKeyAlias [127.50.4.1]:2222',
    'Host *',
    '  StrictHostKeyChecking no',
    `  UserKnownHostsFile ${fleet.knownHostsPath}`,
    '  ProxyJump 127.50.4.1:2222',
    '',
  ].join('\n'));
  const env = writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.50.4.2,web,ams,prod'], ini: { paramiko: { ssh_config: sshConfig } } });
  unsetIniKey(env.ini, 'host_key_policy');
  unsetIniKey(env.ini, 'known_hosts');

  const text = await jf(['doctor', '-c', 'scheduler.ini', '--host', '127.50.4.2'], dir);
  t.equal(text.code, 0, text.stdout + text.stderr);
  const line = text.stdout.split('\n').find((l) => l.includes('host keys 127.50.4.2')) ?? '';
  t.match(line, `jump host 127.50.4.1:2222: policy accept-new, known_hosts ${hopKnown} as [127.50.4.1]:2222`);
  t.match(line, `policy accept-new, known_hosts ${fleet.knownHostsPath} as [127.50.4.2]:2222`, 'ssh_config StrictHostKeyChecking no is shown as what it is: accept-new');
  t.match(line, 'warning: ' + sshConfig + ': StrictHostKeyChecking no is read as accept-new');
  t.match(text.stdout, /ok\s+connect 127\.50\.4\.2\s+ok in \d+ ms: Linux/, 'connected through the jump host, as a run would');

  const json = JSON.parse((await jf(['doctor', '-c', 'scheduler.ini', '--host', '127.50.4.2', '--json'], dir)).stdout);
  const check = json.checks.find((c: { name: string }) => c.name === 'host keys 127.50.4.2');
  t.same(check?.host_keys, [
    { role: 'jump', host: '127.50.4.1', port: 2222, policy: 'accept-new', known_hosts: [hopKnown], known_as: '[127.50.4.1]:2222' },
    { role: 'target', host: '127.50.4.2', port: 2222, policy: 'accept-new', known_hosts: [fleet.knownHostsPath], known_as: '[127.50.4.2]:2222' },
  ]);

  // An unreadable known_hosts for that host fails the check, naming the file.
  const folder = path.join(dir, 'kh.d');
  fs.mkdirSync(folder);
  fs.writeFileSync(sshConfig, `Host *\n  UserKnownHostsFile ${folder}\n`);
  const bad = await jf(['doctor', '-c', 'scheduler.ini', '--host', '127.50.4.2'], dir);
  t.equal(bad.code, 1);
  t.match(bad.stdout, `FAIL  host keys 127.50.4.2  ${folder}: known_hosts is a directory`);
});

t.test('doctor warns when hashed known_hosts lines make each lookup cost more than collecting a host', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 1, base: '127.60.2.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const hashedLine = (i: number) => {
    const salt = crypto.randomBytes(20);
    return `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(`h${i}.example`).digest('base64')} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`;
  };
  const few = path.join(dir, 'kh_few');
  fs.writeFileSync(few, Array.from({ length: 100 }, (_, i) => hashedLine(i)).join(''));
  const global = path.join(dir, 'kh_global');
  fs.writeFileSync(global, Array.from({ length: 3000 }, (_, i) => hashedLine(i)).join(''));
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: few, port: 2222, rows: ['127.60.2.1,web,ams,prod'] });
  const quiet = JSON.parse((await jf(['doctor', '-c', 'scheduler.ini', '--json'], dir)).stdout);
  t.notMatch(quiet.checks[4].detail, /warning/, '100 hashed lines cost nothing worth a warning');
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: few, port: 2222, rows: ['127.60.2.1,web,ams,prod'], ini: { paramiko: { global_known_hosts: global } } });
  const r = await jf(['doctor', '-c', 'scheduler.ini', '--json'], dir);
  t.equal(r.code, 0, 'a warning, not a failure');
  const check = JSON.parse(r.stdout).checks[4];
  t.equal(check.name, 'known_hosts');
  t.match(check.detail, /warning: 3100 hashed lines \(\|1\|\.\.\.\): finding each host costs ~4 ms of CPU, more than collecting it/, 'the global file counts too');
});

t.test('the shipped production example INI is valid', async (t) => {
  const c = loadConfig({ file: path.resolve('config/examples/scheduler.ini') });
  t.equal(c.storage.database, '/var/lib/jellyfish/jellyfish.db');
  t.equal(c.results.maxFailPercent, 10);
});
