// OpenSSH client config + ProxyJump: targets behind a fixture jump host, one jump connection
// shared by all of them, a broken jump host reported with its own code, and each hop's host key
// checked with that hop's own settings.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { HostSshResolver } from '../src/app/host-ssh.js';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { buildSshSettings } from '../src/app/ssh-settings.js';
import { loadConfig } from '../src/config/load.js';
import { jf } from './helpers/jellyfish-cli.js';
import { unsetIniKey, writeEnv } from './helpers/run-env.js';
import { startSshd } from './helpers/sshd.js';

t.test('targets through a jump host', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 6, base: '127.38.0.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const sshConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(sshConfig, [
    'Host 127.38.0.1',
    '  ProxyJump none',
    'Host 127.38.0.6',
    '  ProxyJump jumper@127.38.0.99:2222',
    'Host 127.38.0.*',
    '  ProxyJump 127.38.0.1:2222',
    '  User collector',
    '',
  ].join('\n'));
  const targets = fleet.hosts.slice(1).map((h) => h.address);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222,
    rows: targets.map((a) => `${a},web,ams,prod`),
    ini: { paramiko: { ssh_config: sshConfig }, collector: { workers: '1' } },
  });
  // The INI sets paramiko_user (writeEnv does): it wins over the config's User, as documented.
  const before = fleet.stats();
  const config = loadConfig({ file: env.ini });
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 60_000 });
  t.same(r.json.global_success_hosts_list, targets.slice(0, 4), 'the four hosts behind the good jump host');
  const failures = r.json.failures as Record<string, { code: string; message: string }>;
  t.equal(failures['127.38.0.6']?.code, 'JUMP');
  t.match(failures['127.38.0.6']?.message, /jump host jumper@127\.38\.0\.99:2222/);
  const after = fleet.stats();
  t.equal(after.tcpip - before.tcpip, 4, 'one forwarded channel per target');
  t.equal(after.sshConnections - before.sshConnections, 5, 'one shared jump connection plus the four targets');
});

/** What `ssh -G -F file host` says, keyword -> first value; undefined without an OpenSSH client. */
function sshG(file: string, host: string): Map<string, string> | undefined {
  const r = spawnSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0 && !out.has(line.slice(0, sp))) out.set(line.slice(0, sp), line.slice(sp + 1));
  }
  return out;
}

t.test('a jump host checks its key with its own HostKeyAlias, UserKnownHostsFile and StrictHostKeyChecking', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 3, base: '127.50.2.1', port: 2222, dir, faults: { '127.50.2.2': { kind: 'auth-reject' } } });
  t.teardown(() => fleet.close());
  const hopKnown = path.join(dir, 'hop_known_hosts');
  const sshConfig = path.join(dir, 'ssh_config');
  const writeConfig = (strict: string) => fs.writeFileSync(sshConfig, [
    'Host 127.50.2.1',
    '  ProxyJump none',
    '  HostKeyAlias Bastion.Example',
    `  UserKnownHostsFile ${hopKnown}`,
    `  StrictHostKeyChecking ${strict}`,
    'Host 127.50.2.*',
    '  ProxyJump 127.50.2.1:2222',
    `  UserKnownHostsFile ${fleet.knownHostsPath}`,
    '',
  ].join('\n'));
  writeConfig('accept-new');
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.50.2.2,web,ams,prod'],
    ini: { paramiko: { ssh_config: sshConfig }, collector: { workers: '1' } },
  });
  // The INI's known_hosts and host_key_policy, when set, win for every connection, hops included.
  unsetIniKey(env.ini, 'host_key_policy');
  unsetIniKey(env.ini, 'known_hosts');
  const run = async (rows: string[]) => {
    fs.writeFileSync(env.csv, rows.map((a) => `${a},web,ams,prod`).join('\n') + '\n');
    const config = loadConfig({ file: env.ini });
    return collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 4, limitMs: 60_000 });
  };

  // The hop as OpenSSH resolves it.
  const config = loadConfig({ file: env.ini });
  const hop = new HostSshResolver(config, buildSshSettings(config, () => {}), () => {}).resolve({ host: '127.50.2.3' }).jump?.[0];
  const g = sshG(sshConfig, '127.50.2.1');
  if (g) {
    t.equal(hop?.hostKeyAlias?.toLowerCase(), g.get('hostkeyalias')?.toLowerCase(), 'HostKeyAlias as ssh -G');
    t.equal(hop?.knownHostsPath, g.get('userknownhostsfile'), 'UserKnownHostsFile as ssh -G');
    t.equal(g.get('stricthostkeychecking'), 'accept-new');
  }
  t.equal(hop?.hostKeyPolicy, 'accept-new');

  // The only target behind the hop fails (its key is refused): the hop's key is learned all the same, under its alias.
  const first = await run(['127.50.2.2']);
  t.equal((first.json.failures as Record<string, { code: string }>)['127.50.2.2']?.code, 'AUTH');
  const fleetKey = fs.readFileSync(fleet.knownHostsPath, 'utf8').split('\n')[0]!.split(' ').slice(1).join(' ');
  t.equal(fs.existsSync(hopKnown) && fs.readFileSync(hopKnown, 'utf8'), `bastion.example ${fleetKey}\n`, 'recorded in the hop\'s own file once it authenticated');

  // A changed key for the alias in the hop's file: the hop is refused, though the target's file knows its address.
  fs.writeFileSync(hopKnown, 'bastion.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');
  const changed = await run(['127.50.2.3']);
  const failure = (changed.json.failures as Record<string, { code: string; message: string }>)['127.50.2.3'];
  t.equal(failure?.code, 'JUMP');
  t.match(failure?.message, /HOSTKEY: host key for bastion\.example has CHANGED/);

  // StrictHostKeyChecking yes for the hop: an unknown hop key is refused, not learned.
  writeConfig('yes');
  fs.writeFileSync(hopKnown, '');
  const strict = await run(['127.50.2.3']);
  t.match((strict.json.failures as Record<string, { message: string }>)['127.50.2.3']?.message, /HOSTKEY: bastion\.example is not in .*hop_known_hosts \(host_key_policy = strict\)/);
  t.equal(fs.readFileSync(hopKnown, 'utf8'), '', 'strict writes nothing');
});

t.test('ProxyCommand carries the session; a failing or hanging command is named and ended', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 4, base: '127.60.0.1', port: 2222, dir, outputs: { doctor: 'Linux 6.1.0-fixture\n' } });
  t.teardown(() => fleet.close());
  const pipe = path.resolve('test/helpers/proxy-pipe.mjs');
  const log = path.join(dir, 'proxy.log');
  const pidFile = path.join(dir, 'hang.pid');
  // The inventory names do not resolve: a direct connection would fail with ENOTFOUND.
  const names = ['px1.jf-proxy.invalid', 'px2.jf-proxy.invalid', 'px3.jf-proxy.invalid'];
  const knownHosts = path.join(dir, 'known_hosts.proxied');
  fs.writeFileSync(knownHosts, fs.readFileSync(fleet.knownHostsPath, 'utf8').replace(/\[127\.60\.0\.(\d)\]:2222/g, '[px$1.jf-proxy.invalid]:2222'));
  const node = process.execPath;
  fs.writeFileSync(path.join(dir, 'ssh_config'), [
    ...names.map((n, i) => `Host ${n}\n  ProxyCommand ${node} ${pipe} 127.60.0.${i + 1} 2222 ${log} %h %p %r %n %%`),
    'Host fails.jf-proxy.invalid',
    `  ProxyCommand ${node} -e "process.stderr.write('\\x1b[31mno route to bastion\\n'); process.exit(3)"`,
    'Host hangs.jf-proxy.invalid',
    `  ProxyCommand ${node} -e "require('fs').writeFileSync('${pidFile}', String(process.pid)); setInterval(() => {}, 1000)"`,
    // The first value obtained wins: `none` here means a direct connection, and ProxyJump below is not used.
    'Host 127.60.0.4',
    '  ProxyCommand none',
    'Host *',
    '  ProxyJump 127.60.0.250:2222',
    '',
  ].join('\n'));
  const rows = [...names, 'fails.jf-proxy.invalid', 'hangs.jf-proxy.invalid', '127.60.0.4'].map((n) => `${n},web,ams,prod`);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts, port: 2222, rows,
    ini: { paramiko: { ssh_config: path.join(dir, 'ssh_config'), known_hosts: knownHosts, connect_timeout: '6s' }, collector: { workers: '1' } },
  });
  fs.appendFileSync(knownHosts, fs.readFileSync(fleet.knownHostsPath, 'utf8'));
  const config = loadConfig({ file: env.ini });
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 60_000 });
  t.same(r.json.global_success_hosts_list, [...names, '127.60.0.4'], 'the three proxied hosts and the direct one');
  t.same(fs.readFileSync(log, 'utf8').trim().split('\n').sort(), names.map((n) => `${n} 2222 tester ${n} %`), 'tokens expanded, one command per host');
  const failures = r.json.failures as Record<string, { outcome: string; code: string; message: string }>;
  t.equal(failures['fails.jf-proxy.invalid']?.code, 'PROXY_COMMAND');
  t.equal(failures['fails.jf-proxy.invalid']?.outcome, 'unreachable');
  t.match(failures['fails.jf-proxy.invalid']?.message, /ProxyCommand exited with status 3 before the SSH session was ready: \\x1b\[31mno route to bastion/);
  t.equal(failures['hangs.jf-proxy.invalid']?.code, 'ETIMEDOUT', 'a command that never answers is bounded by connect_timeout');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  await new Promise((res) => setTimeout(res, 300));
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the hanging command was killed');

  // doctor --host takes the same route as a run.
  fs.writeFileSync(log, '');
  const doc = await jf(['doctor', '-c', env.ini, '--host', names[0]!, '--json'], dir);
  const checks = (JSON.parse(doc.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks;
  t.match(checks.find((c) => c.name === `connect ${names[0]}`), { ok: true, detail: /^ok in \d+ ms/ }, `doctor connected through the ProxyCommand: ${doc.stderr}`);
  t.match(checks.find((c) => c.name === `host keys ${names[0]}`)?.detail, /through ProxyCommand /);
  t.equal(fs.readFileSync(log, 'utf8').trim(), `${names[0]} 2222 tester ${names[0]} %`, 'the command ran once, for doctor');
});

t.test('ProxyCommand ssh -W through a real OpenSSH sshd', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir, address: '127.60.3.1', forwarding: true });
  if ('skip' in sshd) {
    t.skip(sshd.skip);
    return;
  }
  t.teardown(() => sshd.stop());
  const sshLog = path.join(dir, 'ssh-client.log');
  const ssh = `ssh -F /dev/null -E ${sshLog} -v -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${sshd.knownHostsPath} -i ${sshd.keyPath} -p ${sshd.port} -l ${sshd.user}`;
  fs.writeFileSync(path.join(dir, 'ssh_config'), [
    // The names do not resolve: only the ProxyCommand knows where the host is.
    'Host real.jf-proxy.invalid',
    `  HostKeyAlias [127.60.3.1]:${sshd.port}`,
    `  ProxyCommand ${ssh} -W 127.60.3.1:%p 127.60.3.1`,
    'Host refused.jf-proxy.invalid',
    `  ProxyCommand ${ssh} -W 127.60.3.1:1 127.60.3.1`,
    '',
  ].join('\n'));
  const env = writeEnv({
    dir, keyPath: sshd.keyPath, knownHosts: sshd.knownHostsPath, port: sshd.port,
    rows: ['real.jf-proxy.invalid,web,ams,prod', 'refused.jf-proxy.invalid,web,ams,prod'],
    ini: { paramiko: { paramiko_user: sshd.user, ssh_config: path.join(dir, 'ssh_config'), connect_timeout: '10s' } },
  });
  const config = loadConfig({ file: env.ini });
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 4, limitMs: 60_000 });
  t.same(r.json.global_success_hosts_list, ['real.jf-proxy.invalid'], JSON.stringify(r.json.failures));
  t.match(fs.readFileSync(sshLog, 'utf8'), /Authenticated to 127\.60\.3\.1/, 'the session went through ssh -W');
  const failures = r.json.failures as Record<string, { outcome: string; code: string; message: string }>;
  t.equal(failures['refused.jf-proxy.invalid']?.code, 'PROXY_COMMAND');
  t.match(failures['refused.jf-proxy.invalid']?.message, /ProxyCommand exited with status 255 before the SSH session was ready/);
});
