// Integration with a real OpenSSH sshd on loopback: the shipped collections run for real on this
// machine through `jellyfish run`, facts land in SQLite, and an unchanged second run adds no rows.
import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { loadConfig, SHIPPED_COLLCONFIG } from '../src/config/load.js';
import { startSshd } from './helpers/sshd.js';
import { unsetIniKey, writeEnv } from './helpers/run-env.js';
import fs from 'node:fs';

t.test('jellyfish run against a real sshd', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir });
  if ('skip' in sshd) {
    t.skip(sshd.skip);
    return;
  }
  t.teardown(() => sshd.stop());
  const env = writeEnv({
    dir, keyPath: sshd.keyPath, knownHosts: sshd.knownHostsPath, port: sshd.port,
    rows: [`${sshd.address},web,ams,prod`, `${sshd.address}:1,web,ams,prod`],
    ini: { paramiko: { paramiko_user: sshd.user }, collector: { collconfig: SHIPPED_COLLCONFIG } },
    collectors: fs.readFileSync(SHIPPED_COLLCONFIG, 'utf8'),
  });
  const config = loadConfig({ file: env.ini });
  const runOnce = () => collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 120_000 });

  const first = await runOnce();
  t.same(first.json.global_success_hosts_list, [sshd.address], JSON.stringify(first.json.failures));
  t.equal((first.json.failures as Record<string, { code: string }>)[`${sshd.address}:1`]?.code, 'ECONNREFUSED');
  const db = new Database(env.db, { readonly: true });
  t.teardown(() => db.close());
  const fact = (type: string, subtype: string) =>
    (db.prepare('SELECT f.value FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name = ? AND f.type = ? AND f.subtype = ? AND f.is_current = 1').get(sshd.address, type, subtype) as { value: string } | undefined)?.value;
  t.equal(fact('release', 'ID'), 'debian');
  t.match(fact('packages', 'bash'), /^\d/);
  t.match(fact('users', sshd.user), /:\/bin\/sh$/);
  t.match(fact('memory', 'MemTotal'), /\d/);
  t.equal(fact('rkernel', 'default'), (await import('node:os')).release());
  const attempts = db.prepare('SELECT outcome FROM attempts').all() as { outcome: string }[];
  t.same(attempts.map((a) => a.outcome).sort(), ['ok', 'unreachable']);

  // `listening` legitimately changes while other tests' fixture servers come and go; everything else must not.
  const stable = () => (db.prepare("SELECT COUNT(*) AS n FROM facts WHERE type <> 'listening'").get() as { n: number }).n;
  const before = stable();
  const second = await runOnce();
  t.same(second.json.global_success_hosts_list, [sshd.address]);
  t.equal(stable(), before, 'an unchanged second run adds no fact rows');
  t.equal(path.basename(env.db), 'jf.db');
});

t.test('a real sshd whose key changed is refused though ssh_config says StrictHostKeyChecking no', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir, address: '127.50.5.1' });
  if ('skip' in sshd) {
    t.skip(sshd.skip);
    return;
  }
  t.teardown(() => sshd.stop());
  // known_hosts holds another ed25519 key for this address: the host key "changed".
  const other = fs.readFileSync(`${sshd.keyPath}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const known = path.join(dir, 'known_hosts.changed');
  fs.writeFileSync(known, `[${sshd.address}]:${sshd.port} ${other}\n`);
  const sshConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(sshConfig, `Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile ${known}\n  User ${sshd.user}\n`);
  const env = writeEnv({ dir, keyPath: sshd.keyPath, knownHosts: known, port: sshd.port, rows: [`${sshd.address},web,ams,prod`], ini: { paramiko: { ssh_config: sshConfig } } });
  for (const key of ['host_key_policy', 'known_hosts', 'paramiko_user']) unsetIniKey(env.ini, key);
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.resolve('bin/jellyfish'), 'run', '-c', env.ini], { cwd: dir, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const json = JSON.parse(r.stdout);
  t.equal(r.code, 1, r.stderr);
  t.same(json.failures[sshd.address], { outcome: 'hostkey_mismatch', code: 'HOSTKEY', message: json.failures[sshd.address]?.message });
  t.match(json.failures[sshd.address]?.message, /has CHANGED/);
  t.match(json.warnings, [/StrictHostKeyChecking no is read as accept-new/]);
  t.equal(fs.readFileSync(known, 'utf8'), `[${sshd.address}]:${sshd.port} ${other}\n`, 'known_hosts untouched');
  t.notMatch(sshd.log(), /Accepted publickey/, 'no session was opened on the host');
});
