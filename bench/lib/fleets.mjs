// The two fleets the contenders run against, both on loopback only.
// - fixture: fixtures/fleet in its own process (bench/fleet-server.mjs), 127.40.0.1 upwards,
//   port 2222, one listener per host, with an injected delay before every exec's answer;
// - openssh: real OpenSSH sshd processes, each on at most 16 addresses from 127.41.0.1 upwards
//   (one sshd listens on 16 at most), port 2222, user jftest with /bin/sh (as test/helpers/sshd.ts).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { cgroup } from './cgroup.mjs';
import { cpuMsOf } from './measure.mjs';
import { BENCH } from './paths.mjs';
import { stopServer } from './serve.mjs';

export const PORT = 2222;
export const FIXTURE_BASE = '127.40.0.1';
export const OPENSSH_BASE = '127.41.0.1';
export const USER = 'jftest';
const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
/** One sshd listens on 16 addresses at most (MAX_LISTEN_SOCKS). */
const ADDRESSES_PER_SSHD = 16;

/**
 * Spawn `cmd args` inside cgroup `cg` (when there is one): a /bin/sh puts itself in, then execs the
 * command, so the pid is the command's and nothing runs outside the cgroup, not even for a moment.
 */
export function spawnIn(cg, cmd, args, opts) {
  if (!cg) return spawn(cmd, args, opts);
  return spawn('/bin/sh', ['-c', 'echo $$ > "$0"; exec "$@"', cg.procsFile, cmd, ...args], opts);
}

/** The fleet's CPU so far: its cgroup, else its processes' own and reaped children's counters. */
function serverCpu(cg, pids) {
  return () => (cg ? cg.cpuMs() : cpuMsOf(pids()));
}

/** `count` addresses from `base` upwards, skipping .0 and .255; never outside 127.40-127.49. */
export function addresses(base, count) {
  const [a, b, c, d] = base.split('.').map(Number);
  let n = ((b * 256) + c) * 256 + d;
  const out = [];
  while (out.length < count) {
    const last = n & 255;
    if (last !== 0 && last !== 255) out.push(`${a}.${n >>> 16}.${(n >>> 8) & 255}.${last}`);
    n += 1;
  }
  if (a !== 127 || !out.every((x) => { const s = Number(x.split('.')[1]); return s >= 40 && s <= 49; })) {
    throw new Error(`bench: ${count} addresses from ${base} leave 127.40.0.0-127.49.255.255`);
  }
  return out;
}

function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }));
  });
}

/** The ed25519 user key every contender authenticates with (OpenSSH format, mode 0600). */
export async function userKey(dir) {
  const file = path.join(dir, 'id_ed25519');
  if (!fs.existsSync(file)) {
    const r = await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'jellyfish-bench', '-f', file]);
    if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.trim()}`);
  }
  fs.chmodSync(file, 0o600);
  return file;
}

export async function startFixtureFleet({ dir, count, delayMs, keyPath, outputs, name = `fixture-fleet-${delayMs}` }) {
  fs.mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'fleet.json');
  fs.writeFileSync(cfg, JSON.stringify({ count, base: FIXTURE_BASE, port: PORT, dir, delayMs, userKey: keyPath, ...(outputs ? { outputs } : {}) }));
  const cg = cgroup(name);
  const child = spawnIn(cg, process.execPath, [path.join(BENCH, 'fleet-server.mjs'), '--config', cfg], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).once('line', (l) => { try { resolve(JSON.parse(l)); } catch { resolve(undefined); } });
    child.once('exit', () => resolve(undefined));
  });
  if (!ready?.ready) throw new Error('the fixture fleet did not start');
  return {
    kind: 'fixture',
    hosts: addresses(FIXTURE_BASE, count),
    delayMs,
    pids: () => [child.pid],
    serverCpuMs: serverCpu(cg, () => [child.pid]),
    cpuMethod: cg ? 'cgroup' : 'cutime',
    stop: () => stopServer(child, cg),
  };
}

/** Why the OpenSSH fleet cannot run here, or undefined. */
export function opensshUnavailable() {
  if (!fs.existsSync(SSHD)) return `${SSHD} is missing (apt-get install openssh-server failed or was not possible)`;
  if (!fs.existsSync(SSH_KEYGEN)) return `${SSH_KEYGEN} is missing`;
  if (process.getuid?.() !== 0) return 'not root: cannot create the test user or run sshd as it';
  return undefined;
}

/** The test user, as test/helpers/sshd.ts makes it: /bin/sh, not locked (UsePAM no refuses a locked one). */
async function ensureUser() {
  if ((await run('id', ['-u', USER])).code !== 0) {
    const r = await run('/usr/sbin/useradd', ['-m', '-s', '/bin/sh', USER]);
    if (r.code !== 0 && r.code !== 9) throw new Error(`useradd ${USER} failed: ${r.stderr.trim()}`);
  }
  const hash = (await run('getent', ['shadow', USER])).stdout.split(':')[1] ?? '';
  if (hash.startsWith('!')) await run('/usr/sbin/usermod', ['-p', '*', USER]);
}

function sshdConfig({ listen, dir, hostKey, authorizedKeys, index }) {
  return [
    `Port ${PORT}`,
    ...listen.map((a) => `ListenAddress ${a}`),
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, `sshd-${index}.pid`)}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    `AllowUsers ${USER}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // PAM would add its own session work per login; the old fleet's hosts are measured without it.
    'UsePAM no',
    'StrictModes no',
    // The default 10:30:100 drops connections beyond 10 pending handshakes; contenders open 256 at once.
    'MaxStartups 2000:30:2000',
    'PermitRootLogin no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

function banner(address) {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port: PORT });
    let got = '';
    const done = () => { s.destroy(); resolve(got.startsWith('SSH-')); };
    s.setTimeout(1000, done);
    s.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\n')) done(); });
    s.on('error', done);
  });
}

export async function startOpensshFleet({ dir, count, keyPath }) {
  fs.mkdirSync(dir, { recursive: true });
  // sshd reads AuthorizedKeysFile as the user: every folder above it must let others pass.
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) fs.chmodSync(d, fs.statSync(d).mode | 0o005);
  }
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  await ensureUser();
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  if (!fs.existsSync(hostKey)) {
    const r = await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'jellyfish-bench-host', '-f', hostKey]);
    if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.trim()}`);
  }
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorizedKeys, fs.readFileSync(`${keyPath}.pub`), { mode: 0o644 });
  const hosts = addresses(OPENSSH_BASE, count);
  const children = [];
  // Every sshd, and every session process it starts (which sshd hands over to init), in one cgroup.
  const cg = cgroup('openssh-fleet');
  const stop = async () => {
    await Promise.all(children.map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    })));
    cg?.remove();
  };
  process.once('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });
  try {
    for (let i = 0; i * ADDRESSES_PER_SSHD < hosts.length; i++) {
      const listen = hosts.slice(i * ADDRESSES_PER_SSHD, (i + 1) * ADDRESSES_PER_SSHD);
      const cfg = path.join(dir, `sshd-${i}.conf`);
      fs.writeFileSync(cfg, sshdConfig({ listen, dir, hostKey, authorizedKeys, index: i }), { mode: 0o644 });
      const check = await run(SSHD, ['-t', '-f', cfg]);
      if (check.code !== 0) throw new Error(`sshd -t rejected ${cfg}: ${check.stderr.trim()}`);
      children.push(spawnIn(cg, SSHD, ['-D', '-f', cfg, '-E', path.join(dir, `sshd-${i}.log`)], { stdio: 'ignore' }));
    }
    const until = Date.now() + 15_000;
    for (const a of hosts) {
      while (!(await banner(a))) {
        if (Date.now() > until) throw new Error(`sshd on ${a}:${PORT} sent no banner within 15 s (see ${dir}/sshd-*.log)`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const pids = () => children.map((c) => c.pid);
  return { kind: 'openssh', hosts, delayMs: 0, sshds: children.length, pids, serverCpuMs: serverCpu(cg, pids), cpuMethod: cg ? 'cgroup' : 'cutime', stop };
}
