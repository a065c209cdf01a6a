// A real OpenSSH sshd on loopback for integration tests: its own config, host key, user key and
// known_hosts in a test folder, a dedicated unprivileged test user, a random port.
// Needs root (to create the user and let sshd switch to it) and /usr/sbin/sshd; otherwise the
// caller gets { skip: reason } and skips. CI installs openssh-server (.ci/run).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
export const TEST_USER = 'jftest';

export interface SshdOptions {
  dir: string;
  /** Default: a free random port in 20000-40000. */
  port?: number;
  /** Default 127.0.0.1; must be in 127.0.0.0/8. */
  address?: string;
  /** Allow local forwarding (`ssh -W`, ProxyJump through this sshd). Default: no. */
  forwarding?: boolean;
}

export interface Sshd {
  address: string;
  port: number;
  user: string;
  /** The user's private key (ed25519, mode 0600). */
  keyPath: string;
  /** One line: [address]:port (or address for port 22) and the host key. */
  knownHostsPath: string;
  hostKeyPath: string;
  configPath: string;
  /** What sshd wrote to stderr so far (LogLevel VERBOSE). */
  log(): string;
  stop(): Promise<void>;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Create the test user if missing, with /bin/sh as shell (a heavy login shell costs ~100 forks a
 * command) and an unlocked account: with UsePAM no, sshd refuses a locked one ('!' in shadow).
 * Test files may run in parallel: "already exists" is fine, a busy /etc/passwd lock is retried.
 */
async function ensureUser(): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    if ((await run('id', ['-u', TEST_USER])).code === 0) break;
    const r = await run('/usr/sbin/useradd', ['-m', '-s', '/bin/sh', TEST_USER]);
    if (r.code === 0 || r.code === 9 /* already exists */) break;
    if (attempt >= 30) throw new Error(`useradd ${TEST_USER} failed (${r.code}): ${r.stderr.trim()}`);
    await sleep(100);
  }
  for (let attempt = 0; ; attempt += 1) {
    const shadow = await run('getent', ['shadow', TEST_USER]);
    const hash = shadow.stdout.split(':')[1] ?? '';
    if (shadow.code === 0 && !hash.startsWith('!')) return;
    // '*': no password can match, but the account is not locked.
    const r = await run('/usr/sbin/usermod', ['-p', '*', TEST_USER]);
    if (r.code === 0) return;
    if (attempt >= 30) throw new Error(`usermod -p '*' ${TEST_USER} failed (${r.code}): ${r.stderr.trim()}`);
    await sleep(100);
  }
}

async function keygen(file: string, comment: string): Promise<void> {
  if (fs.existsSync(file) && fs.existsSync(`${file}.pub`)) return;
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  const r = await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  if (r.code !== 0) throw new Error(`ssh-keygen -f ${file} failed: ${r.stderr.trim()}`);
  fs.chmodSync(file, 0o600);
}

/** sshd reads AuthorizedKeysFile as the user: every folder above it must let others pass. */
function traversableByOthers(file: string): boolean {
  for (let d = path.dirname(file); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

function portIsFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

async function pickPort(address: string): Promise<number> {
  for (let i = 0; i < 50; i += 1) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (await portIsFree(address, port)) return port;
  }
  throw new Error(`no free port in 20000-40000 on ${address}`);
}

/** Resolves once the port answers with an SSH banner; rejects if the child exits first or time runs out. */
async function waitForBanner(child: ChildProcess, address: string, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before listening`);
    const banner = await new Promise<string>((resolve) => {
      const s = net.connect({ host: address, port });
      let got = '';
      const done = () => { s.destroy(); resolve(got); };
      s.setTimeout(1000, done);
      s.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\n')) done(); });
      s.on('error', done);
      s.on('close', done);
    });
    if (banner.startsWith('SSH-')) return;
    await sleep(50);
  }
  throw new Error(`sshd on ${address}:${port} sent no banner within ${timeoutMs} ms`);
}

function config(o: { address: string; port: number; dir: string; hostKey: string; authorizedKeys: string; viaCommand: boolean; forwarding: boolean }): string {
  return [
    `ListenAddress ${o.address}`,
    `Port ${o.port}`,
    `HostKey ${o.hostKey}`,
    `PidFile ${path.join(o.dir, 'sshd.pid')}`,
    ...(o.viaCommand
      ? ['AuthorizedKeysFile none', `AuthorizedKeysCommand /bin/cat ${o.authorizedKeys}`, 'AuthorizedKeysCommandUser root']
      : [`AuthorizedKeysFile ${o.authorizedKeys}`]),
    `AllowUsers ${TEST_USER}`,
    'PubkeyAuthentication yes',
    'UsePAM no',
    'StrictModes no',
    // The default 10:30:100 drops connections beyond 10 pending handshakes; tests open many at once.
    'MaxStartups 1000:30:1000',
    'MaxSessions 50',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    `AllowTcpForwarding ${o.forwarding ? 'local' : 'no'}`,
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

export async function startSshd(opts: SshdOptions): Promise<Sshd | { skip: string }> {
  if (!fs.existsSync(SSHD)) return { skip: `${SSHD} is not installed (apt-get install openssh-server)` };
  if (!fs.existsSync(SSH_KEYGEN)) return { skip: `${SSH_KEYGEN} is not installed (apt-get install openssh-client)` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { skip: 'not root: cannot create the test user or run sshd' };
  const address = opts.address ?? '127.0.0.1';
  if (net.isIPv4(address) !== true || !address.startsWith('127.')) throw new Error(`startSshd: ${address} is not a 127.0.0.0/8 address`);

  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  // sshd's privilege separation folder; Debian creates it at boot, a container may not have it.
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  await ensureUser();

  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const keyPath = path.join(dir, 'id_ed25519');
  await keygen(hostKey, 'jellyfish-test-host');
  await keygen(keyPath, `${TEST_USER}@jellyfish-test`);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorizedKeys, fs.readFileSync(`${keyPath}.pub`), { mode: 0o644 });
  fs.chmodSync(authorizedKeys, 0o644);
  // Fallback when the test folder sits under a folder the user cannot enter: sshd then asks
  // /bin/cat, run as root, for the keys instead of opening the file as the user.
  const viaCommand = !traversableByOthers(authorizedKeys);

  const configPath = path.join(dir, 'sshd_config');
  const logPath = path.join(dir, 'sshd.log');
  let lastError: Error | undefined;
  // A random port can be taken between the probe and sshd's bind: try a few.
  for (let attempt = 0; attempt < (opts.port ? 1 : 5); attempt += 1) {
    const port = opts.port ?? (await pickPort(address));
    fs.writeFileSync(configPath, config({ address, port, dir, hostKey, authorizedKeys, viaCommand, forwarding: opts.forwarding === true }), { mode: 0o644 });
    const check = await run(SSHD, ['-t', '-f', configPath]);
    if (check.code !== 0) throw new Error(`sshd -t rejected ${configPath}: ${check.stderr.trim()}`);

    let log = '';
    const child = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    const logFile = fs.createWriteStream(logPath, { flags: 'a' });
    child.stderr!.on('data', (d: Buffer) => {
      logFile.write(d);
      log = (log + d.toString()).slice(-65_536);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => { logFile.end(); resolve(); }));
    child.on('error', () => { /* reported through the exit and the banner wait */ });
    // A test process that dies without stop() must not leave an sshd behind.
    const killOnExit = () => { try { child.kill('SIGKILL'); } catch { /* gone */ } };
    process.once('exit', killOnExit);

    try {
      await waitForBanner(child, address, port, 10_000);
    } catch (e) {
      killOnExit();
      await exited;
      process.removeListener('exit', killOnExit);
      lastError = new Error(`${(e as Error).message}\n${log.trim()}`);
      if (/Address already in use/i.test(log)) continue;
      throw lastError;
    }

    const knownHostsPath = path.join(dir, 'known_hosts');
    const [type, b64] = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
    const name = port === 22 ? address : `[${address}]:${port}`;
    fs.writeFileSync(knownHostsPath, `${name} ${type} ${b64}\n`, { mode: 0o644 });

    let stopping: Promise<void> | undefined;
    return {
      address,
      port,
      user: TEST_USER,
      keyPath,
      knownHostsPath,
      hostKeyPath: hostKey,
      configPath,
      log: () => log,
      stop() {
        stopping ??= (async () => {
          process.removeListener('exit', killOnExit);
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        })();
        return stopping;
      },
    };
  }
  throw lastError ?? new Error('sshd did not start');
}
