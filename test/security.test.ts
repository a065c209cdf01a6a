// Security promises: host-key policies, file modes, no secrets in any output, hostile fact values
// stored verbatim and never executed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { PassThrough } from 'node:stream';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { trustWarnings } from '../src/app/trust-warnings.js';
import { loadConfig } from '../src/config/load.js';
import { unsetIniKey, writeEnv } from './helpers/run-env.js';
import { jf } from './helpers/jellyfish-cli.js';

/** A stderr stand-in (no TTY) that keeps what was written. */
function logStream() {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => { out += d; });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => out };
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('host key policies', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 2, base: '127.36.6.1', port: 2222, dir, faults: { '127.36.6.2': { kind: 'wrong-hostkey' } } });
  t.teardown(() => fleet.close());
  const rows = fleet.hosts.map((h) => `${h.address},web,ams,prod`);
  const empty = path.join(dir, 'empty_known_hosts');
  fs.writeFileSync(empty, '');
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: empty, port: 2222, rows, ini: { paramiko: { host_key_policy: 'strict', known_hosts: empty } } });
  const strict = JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout);
  t.equal(strict.global_success_hosts, 0, 'strict refuses hosts not in known_hosts');
  t.match(strict.failures['127.36.6.1'].message, /not in .* \(host_key_policy = strict\)/);
  t.equal(fs.readFileSync(empty, 'utf8'), '', 'strict writes nothing');

  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { host_key_policy: 'accept-new' } } });
  const acceptNew = JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout);
  t.same(acceptNew.global_success_hosts_list, ['127.36.6.1']);
  t.equal(acceptNew.failures['127.36.6.2'].code, 'HOSTKEY', 'accept-new refuses a changed key');

  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { host_key_policy: 'off' } } });
  for (let i = 0; i < 2; i++) {
    const off = await jf(['run', '-c', 'scheduler.ini'], dir);
    t.match(off.stderr, /host_key_policy = off: host keys are NOT verified/, `off warns on run ${i + 1}`);
    t.equal(JSON.parse(off.stdout).global_success_hosts, 2);
  }
});

const count = (text: string, part: string) => text.split(part).length - 1;

t.test('ssh_config never weakens host-key checking; weak settings warn on every run', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 2, base: '127.50.1.1', port: 2222, dir, faults: { '127.50.1.2': { kind: 'wrong-hostkey' } } });
  t.teardown(() => fleet.close());
  const rows = fleet.hosts.map((h) => `${h.address},web,ams,prod`);
  const sshConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(sshConfig, 'Host *\n  StrictHostKeyChecking no\n');
  const env = writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { ssh_config: sshConfig } } });
  unsetIniKey(env.ini, 'host_key_policy');
  const before = fs.readFileSync(fleet.knownHostsPath, 'utf8');
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  const json = JSON.parse(r.stdout);
  t.same(json.global_success_hosts_list, ['127.50.1.1']);
  t.equal(json.failures['127.50.1.2']?.outcome, 'hostkey_mismatch', 'StrictHostKeyChecking no still refuses a changed key');
  t.equal(json.failures['127.50.1.2']?.code, 'HOSTKEY');
  t.equal(fs.readFileSync(fleet.knownHostsPath, 'utf8'), before, 'the changed key is not recorded');
  const said = 'StrictHostKeyChecking no is read as accept-new';
  t.equal(count(r.stderr, said), 1, 'the reading is said once on stderr, for two hosts');
  t.match(json.warnings, [new RegExp(`${sshConfig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${said}`)], 'and listed in the JSON');

  // UserKnownHostsFile /dev/null: trust on first use on every run, so every run says so.
  fs.writeFileSync(sshConfig, 'Host *\n  UserKnownHostsFile /dev/null\n');
  unsetIniKey(env.ini, 'known_hosts'); // a known_hosts set in the INI would win
  for (let i = 1; i <= 2; i++) {
    const dn = await jf(['run', '-c', 'scheduler.ini'], dir);
    t.equal(count(dn.stderr, 'UserKnownHostsFile is /dev/null'), 1, `run ${i}: warned once on stderr`);
    t.match(JSON.parse(dn.stdout).warnings, [/UserKnownHostsFile is \/dev\/null: no host key is ever remembered/], `run ${i}: warning in the JSON`);
  }

  // Only the INI turns checking off, and then every run's JSON says so too.
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { host_key_policy: 'off', ssh_config: 'none' } } });
  for (let i = 1; i <= 2; i++) {
    const off = JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout);
    t.equal(off.global_success_hosts, 2);
    t.match(off.warnings, [/host_key_policy = off: host keys are NOT verified/], `off: run ${i} lists the warning in the JSON`);
  }
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { ssh_config: 'none' } } });
  t.same(JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout).warnings, [], 'strict: no warnings, an empty list');
});

t.test('an unreadable known_hosts is a config error, never an empty file', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 1, base: '127.50.3.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const rows = ['127.50.3.1,web,ams,prod'];
  const folder = path.join(dir, 'kh.d');
  fs.mkdirSync(folder);
  const env = writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: folder, port: 2222, rows, ini: { paramiko: { host_key_policy: 'accept-new', ssh_config: 'none' } } });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 78, r.stdout + r.stderr);
  t.match(r.stderr, `${folder}: known_hosts is a directory`);
  t.equal(r.stdout, '', 'no run, no JSON');
  t.notOk(fs.existsSync(env.db), 'stopped before the database was opened');

  const sshConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(sshConfig, `Host 127.50.3.1\n  UserKnownHostsFile ${folder}\n`);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { host_key_policy: 'accept-new', ssh_config: sshConfig } } });
  unsetIniKey(env.ini, 'known_hosts');
  const viaConfig = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(viaConfig.code, 78, 'the same for a UserKnownHostsFile of the client config');
  t.match(viaConfig.stderr, `${folder}: known_hosts is a directory`);
});

t.test('a learned key is appended on a line of its own', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 1, base: '127.50.3.9', port: 2222, dir });
  t.teardown(() => fleet.close());
  const known = path.join(dir, 'known_hosts.edited');
  const other = 'other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
  fs.writeFileSync(known, other, { mode: 0o600 }); // no newline at the end, as an editor may leave it
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: known, port: 2222, rows: ['127.50.3.9,web,ams,prod'], ini: { paramiko: { host_key_policy: 'accept-new', ssh_config: 'none' } } });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(JSON.parse(r.stdout).global_success_hosts, 1, r.stderr);
  const fleetKey = fs.readFileSync(fleet.knownHostsPath, 'utf8').trim().split(' ').slice(1).join(' ');
  t.same(fs.readFileSync(known, 'utf8').split('\n'), [other, `[127.50.3.9]:2222 ${fleetKey}`, ''], 'the old last line is intact');
});

t.test('file modes, secrets, hostile values', async (t) => {
  const dir = t.testdir();
  const canary = `/tmp/jf-pwned-${process.pid}`;
  const fleet = await startFleet({
    count: 1, base: '127.36.7.1', port: 2222, dir,
    outputs: { rkernel: `'; DROP TABLE facts; --\n`, memory: `MemTotal $(touch ${canary})\nSwapTotal \`touch ${canary}\`\n` },
  });
  t.teardown(() => fleet.close());
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.36.7.1,web,ams,prod'],
    ini: { GLOBAL: { lockfile: 'state/jf.lock' }, storage: { database: 'state/db/jf.db' }, results: { output_json_file: 'true', result_json: 'state/out/result.json' } },
  });
  const r = await jf(['run', '-c', 'scheduler.ini', '-V'], dir);
  t.equal(r.code, 0, r.stderr);
  const mode = (p: string) => fs.statSync(path.join(dir, p)).mode & 0o777;
  t.equal(mode('state/db/jf.db'), 0o600, 'database 0600');
  t.equal(mode('state/db'), 0o700, 'database folder 0700');
  t.equal(mode('state/out/result.json'), 0o600, 'result JSON 0600');
  t.equal(mode('state/out'), 0o700, 'result folder 0700');
  t.equal(mode('state'), 0o700, 'lock folder 0700');
  for (const side of ['-wal', '-shm']) {
    if (fs.existsSync(path.join(dir, `state/db/jf.db${side}`))) t.equal(mode(`state/db/jf.db${side}`), 0o600, `jf.db${side} 0600`);
  }

  // No key material anywhere we write: stdout, stderr, JSON file, database.
  const keyText = fs.readFileSync(fleet.userKeyPath, 'utf8');
  const body = keyText.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const db = new Database(path.join(dir, 'state/db/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  const dump = JSON.stringify(db.prepare('SELECT * FROM facts').all()) + JSON.stringify(db.prepare('SELECT * FROM runs').all()) + JSON.stringify(db.prepare('SELECT * FROM attempts').all());
  for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['result.json', fs.readFileSync(path.join(dir, 'state/out/result.json'), 'utf8')], ['database', dump]] as const) {
    t.notOk(text.includes('PRIVATE KEY'), `${where}: no PEM header`);
    t.notOk(text.includes(body.slice(0, 40)), `${where}: no key body`);
  }

  const fact = (type: string, subtype: string) => (db.prepare("SELECT value FROM facts f JOIN hosts h ON h.id = f.host_id WHERE f.type = ? AND f.subtype = ? AND f.is_current = 1").get(type, subtype) as { value: string }).value;
  t.equal(fact('rkernel', 'default'), `'; DROP TABLE facts; --`, 'SQL syntax stored verbatim');
  t.equal(fact('memory', 'MemTotal'), `$(touch ${canary})`, 'shell syntax stored verbatim');
  t.equal(fact('memory', 'SwapTotal'), `\`touch ${canary}\``);
  t.notOk(fs.existsSync(canary), 'and never executed');
  const q = await jf(['query', '-c', 'scheduler.ini', '--type', 'rkernel', '--like', "'; DROP%"], dir);
  t.match(q.stdout, /DROP TABLE facts/, 'queried back through parameterised SQL');
  t.ok(db.prepare("SELECT name FROM sqlite_master WHERE name = 'facts'").get(), 'the facts table is still there');
});

t.test('global known_hosts, @cert-authority only, ssh_config keywords jellyfish does not implement', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 3, base: '127.60.1.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const rows = fleet.hosts.map((h) => `${h.address},web,ams,prod`);
  const lines = fs.readFileSync(fleet.knownHostsPath, 'utf8').trim().split('\n');
  const line = (n: number) => lines.find((l) => l.startsWith(`[127.60.1.${n}]:2222 `)) as string;
  const global = path.join(dir, 'ssh_known_hosts');
  fs.writeFileSync(global, `${line(1)}\n`);
  const user = path.join(dir, 'known_hosts');
  const userText = `@cert-authority ${line(2)}\n${line(3)}\n`;
  fs.writeFileSync(user, userText);
  const system = path.join(dir, 'system_ssh_config');
  fs.writeFileSync(system, 'Host *\n  KexAlgorithms curve25519-sha256\n  CertificateFile ~/.ssh/id_ed25519-cert.pub\n  SendEnv LANG\n');
  fs.writeFileSync(path.join(dir, 'ssh_config'), 'Match exec "true"\n  Port 2299\n');
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: user, port: 2222, rows,
    ini: { paramiko: { host_key_policy: 'accept-new', global_known_hosts: global, ssh_config: 'ssh_config', system_ssh_config: system } },
  });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  const json = JSON.parse(r.stdout);
  t.same(json.global_success_hosts_list, ['127.60.1.1', '127.60.1.3'], 'a key in the global file is trusted');
  t.equal(json.failures['127.60.1.2'].code, 'HOSTKEY');
  t.equal(json.failures['127.60.1.2'].outcome, 'hostkey_mismatch');
  t.match(json.failures['127.60.1.2'].message, /only through a @cert-authority line: host certificates are not supported/);
  t.equal(fs.readFileSync(user, 'utf8'), userText, 'nothing learned: not the CA-vouched host, not the host the global file knows');
  for (const [where, keyword] of [[`${system}:2`, 'KexAlgorithms'], [`${system}:3`, 'CertificateFile'], [`${path.join(dir, 'ssh_config')}:1`, 'Match exec']]) {
    const found = r.stderr.split('\n').filter((l) => l.includes(`${where}: ${keyword}`));
    t.equal(found.length, 1, `${keyword} warned once, at ${where}`);
  }
  t.notMatch(r.stderr, /SendEnv/, 'a keyword that does not change the connection is not reported');
});

t.test('result JSON and metrics never follow a planted link; a folder others can write warns once', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 1, base: '127.80.0.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const shared = path.join(dir, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o777);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.80.0.1,web,ams,prod'],
    ini: { GLOBAL: { lockfile: 'shared/jf.lock' }, storage: { database: 'shared/jf.db' }, results: { output_json_file: 'true', result_json: 'out/result.json', metrics_file: 'out/jf.prom' } },
  });
  const config = loadConfig({ file: env.ini });
  fs.mkdirSync(path.join(dir, 'out'), { mode: 0o700 });
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious\n');
  // The names the old code wrote through: `${file}.${pid}.tmp` of this very process.
  for (const f of ['out/result.json', 'out/jf.prom']) fs.symlinkSync(victim, path.join(dir, `${f}.${process.pid}.tmp`));
  const f = logStream();
  const run = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false, f.stream), lockFile: config.lockfile, threads: 4, limitMs: 30_000 });
  t.equal(run.exitCode, 0, f.text());
  t.equal(fs.readFileSync(victim, 'utf8'), 'precious\n', 'the link target is untouched');
  t.equal(JSON.parse(fs.readFileSync(path.join(dir, 'out/result.json'), 'utf8')).run_id, run.json.run_id, 'the result JSON is written');
  t.match(fs.readFileSync(path.join(dir, 'out/jf.prom'), 'utf8'), /jellyfish_/, 'the metrics file is written');
  t.equal(fs.statSync(path.join(dir, 'out/result.json')).mode & 0o777, 0o600);
  t.same(fs.readdirSync(path.join(dir, 'out')).filter((n) => n.endsWith('.tmp') && !n.includes(`.${process.pid}.`)), [], 'no temp file left');
  const warned = f.text().split('\n').filter((l) => l.includes('writable by other users'));
  t.equal(warned.length, 1, `one warning for the one folder: ${f.text()}`);
  t.match(warned[0], `${shared}: the folder of the database, the lock file is writable by other users without the sticky bit (mode 0777)`);
  t.same(trustWarnings(config), warned.map((l) => l.replace('jellyfish: warning: ', '')), 'the same lines, from one function');

  fs.chmodSync(shared, 0o1777);
  t.same(trustWarnings(config), [], 'the sticky bit (as on /tmp) makes it safe');
  fs.chmodSync(shared, 0o775);
  t.same(trustWarnings(config), [], 'not writable by others: no warning');
});
