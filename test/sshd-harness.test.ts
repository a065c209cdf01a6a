// The real-sshd harness (test/helpers/sshd.ts) works: OpenSSH's own client and ssh2 both log in
// with the generated user key and a strict known_hosts check. Address: 127.0.0.1, random port.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'ssh2';
import t from 'tap';
import { startSshd } from './helpers/sshd.js';

function ssh(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function sshArgs(knownHosts: string, key: string, port: number, target: string, command: string): string[] {
  return [
    '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10',
    '-i', key, '-p', String(port), target, command,
  ];
}

const dir = t.testdir();
const started = Date.now();
const sshd = await startSshd({ dir });
const skip = 'skip' in sshd ? sshd.skip : fs.existsSync('/usr/bin/ssh') ? false : 'the OpenSSH client is not installed';
if (!('skip' in sshd)) {
  t.teardown(() => sshd.stop());
  t.comment(`sshd on ${sshd.address}:${sshd.port} ready in ${Date.now() - started} ms`);
}

t.test('OpenSSH ssh logs in with the key and a strict known_hosts', { skip }, async (t) => {
  if ('skip' in sshd) return;
  const r = await ssh(sshArgs(sshd.knownHostsPath, sshd.keyPath, sshd.port, `${sshd.user}@${sshd.address}`, 'uname -s; id -un; echo "$0"'));
  t.equal(r.code, 0, 'ssh exits 0');
  if (r.code !== 0) t.comment(`ssh: ${r.stderr}\nsshd: ${sshd.log()}`);
  t.equal(r.stdout, `Linux\n${sshd.user}\nsh\n`, 'Linux, as the test user, through /bin/sh');
  t.equal(fs.statSync(sshd.keyPath).mode & 0o777, 0o600, 'the user key is private');
  t.match(fs.readFileSync(sshd.knownHostsPath, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 \\S+\\n$`));
});

t.test('an unknown host key is refused under StrictHostKeyChecking=yes', { skip }, async (t) => {
  if ('skip' in sshd) return;
  const empty = path.join(t.testdir(), 'known_hosts');
  fs.writeFileSync(empty, '');
  const r = await ssh(sshArgs(empty, sshd.keyPath, sshd.port, `${sshd.user}@${sshd.address}`, 'true'));
  t.equal(r.code, 255);
  t.match(r.stderr, /Host key verification failed/);
});

t.test('ssh2 connects with a host key check and runs a command', { skip }, async (t) => {
  if ('skip' in sshd) return;
  const known = fs.readFileSync(sshd.knownHostsPath, 'utf8').trim().split(' ')[2];
  const out = await new Promise<string>((resolve, reject) => {
    const c = new Client();
    c.on('error', reject);
    c.on('ready', () => c.exec('uname -s', (err, ch) => {
      if (err) return reject(err);
      let text = '';
      ch.on('data', (d: Buffer) => { text += d.toString(); });
      ch.stderr.resume();
      ch.on('close', () => { c.end(); resolve(text); });
    }));
    c.connect({
      host: sshd.address, port: sshd.port, username: sshd.user, privateKey: fs.readFileSync(sshd.keyPath), readyTimeout: 10_000,
      hostVerifier: (k: Buffer) => k.toString('base64') === known,
    } as Parameters<Client['connect']>[0]);
  });
  t.equal(out, 'Linux\n');
});

t.test('root may not log in, and stop() frees the port', { skip }, async (t) => {
  if ('skip' in sshd) return;
  const root = await ssh(sshArgs(sshd.knownHostsPath, sshd.keyPath, sshd.port, `root@${sshd.address}`, 'true'));
  t.equal(root.code, 255, 'root is refused');
  await sshd.stop();
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect({ host: sshd.address, port: sshd.port });
    s.on('connect', () => { s.destroy(); resolve('connected'); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  t.equal(refused, 'ECONNREFUSED');
});
