// The fixture fleet (fixtures/fleet/fleet.mjs), driven with ssh2's own Client and the real
// OpenSSH client, so the faults the collector is tested against are known to be real.
// Addresses: 127.20.0.0/16 (see the range table at the top of fleet.mjs).
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, type ClientChannel } from 'ssh2';
import t from 'tap';
import { fleetAddresses, generateKeyPair, startFleet, type Fleet, type FaultSpec } from '../fixtures/fleet/fleet.mjs';

const FLEET_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/fleet/fleet.mjs');
const PORT = 2222;

type ConnError = Error & { code?: string; level?: string };
interface Conn {
  client?: Client;
  error?: ConnError;
  hostKey?: Buffer;
  ms: number;
}

const openClients = new Set<Client>();
t.teardown(() => {
  for (const c of openClients) c.destroy();
});

function connect(address: string, key: Buffer, o: { readyTimeout?: number; verify?: (k: Buffer) => boolean } = {}): Promise<Conn> {
  return new Promise((resolve) => {
    const started = Date.now();
    const c = new Client();
    openClients.add(c);
    let hostKey: Buffer | undefined;
    let done = false;
    const finish = (r: Omit<Conn, 'ms' | 'hostKey'>) => {
      if (done) return;
      done = true;
      resolve({ ...r, ...(hostKey ? { hostKey } : {}), ms: Date.now() - started });
    };
    c.on('ready', () => finish({ client: c }));
    c.on('error', (e: ConnError) => {
      finish({ error: e });
      c.end();
    });
    c.on('close', () => {
      openClients.delete(c);
      finish({ error: new Error('closed before ready') });
    });
    c.connect({
      host: address,
      port: PORT,
      username: 'tester',
      privateKey: key,
      readyTimeout: o.readyTimeout ?? 10_000,
      hostVerifier: (k: Buffer) => {
        hostKey = Buffer.from(k);
        return o.verify ? o.verify(k) : true;
      },
    } as Parameters<Client['connect']>[0]);
    (c as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
  });
}

interface ExecResult {
  out: Buffer;
  /** Bytes received, also those beyond `keep`. */
  bytes: number;
  code?: number | null;
  signal?: string;
  closed: boolean;
  channel?: ClientChannel;
  error?: Error;
}

/** Run one exec; resolves when the channel closes, or after waitMs with closed: false. Keeps the first `keep` bytes. */
function exec(client: Client, command: string, waitMs = 15_000, keep = Infinity): Promise<ExecResult> {
  return new Promise((resolve) => {
    client.exec(command, (err, ch) => {
      if (err) {
        resolve({ out: Buffer.alloc(0), bytes: 0, closed: true, error: err });
        return;
      }
      const chunks: Buffer[] = [];
      const r: ExecResult = { out: Buffer.alloc(0), bytes: 0, closed: false, channel: ch };
      let kept = 0;
      ch.on('data', (d: Buffer) => {
        r.bytes += d.length;
        if (kept < keep) chunks.push(d.subarray(0, keep - kept));
        kept += d.length;
      });
      ch.stderr.resume();
      ch.on('exit', (code: number | null, signal?: string) => {
        r.code = code;
        if (signal) r.signal = signal;
      });
      const timer = setTimeout(() => {
        r.out = Buffer.concat(chunks);
        resolve({ ...r });
      }, waitMs);
      ch.on('close', () => {
        clearTimeout(timer);
        r.out = Buffer.concat(chunks);
        r.closed = true;
        resolve(r);
      });
    });
  });
}

function script(nonce: string, types: string[]): string {
  return [`# jellyfish-collect v1 ${nonce}`, ...types.map((ty, i) => `# step ${i} ${ty} 30`), 'echo the body is for a real shell', ''].join('\n');
}

/** Decode the frames (same format as src/collections/frames.ts) by hand. */
function frames(nonce: string, out: Buffer): { index: number; out: Buffer; code?: number }[] {
  const begin = Buffer.from(`@@${nonce} B `);
  const end = Buffer.from(`\n@@${nonce} E `);
  const res: { index: number; out: Buffer; code?: number }[] = [];
  let pos = 0;
  for (;;) {
    const b = out.indexOf(begin, pos);
    if (b < 0) return res;
    const nl = out.indexOf(0x0a, b);
    const index = Number(out.subarray(b + begin.length, nl).toString());
    const e = out.indexOf(end, nl + 1);
    if (e < 0) {
      res.push({ index, out: out.subarray(nl + 1) });
      return res;
    }
    const nl2 = out.indexOf(0x0a, e + end.length);
    const [, code] = out.subarray(e + end.length, nl2).toString().split(' ');
    res.push({ index, out: out.subarray(nl + 1, e), code: Number(code) });
    pos = nl2 + 1;
  }
}

const nonce = () => crypto.randomBytes(8).toString('hex');

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function sshArgs(knownHosts: string, key: string, address: string, command: string): string[] {
  return [
    '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR', '-i', key, '-p', String(PORT), `x@${address}`, command,
  ];
}

const hasOpenSsh = fs.existsSync('/usr/bin/ssh') && fs.existsSync('/usr/bin/ssh-keygen');

// One fleet for the per-host faults: 127.20.0.1 .. 127.20.0.24.
const A = fleetAddresses('127.20.0.1', 24);
const addr = (n: number) => A[n - 1] as string;
const faults: Record<string, FaultSpec> = {
  [addr(2)]: { kind: 'refuse' },
  [addr(3)]: { kind: 'hang' },
  [addr(4)]: { kind: 'banner-hang' },
  [addr(5)]: { kind: 'auth-reject' },
  [addr(6)]: { kind: 'wrong-hostkey' },
  [addr(7)]: { kind: 'cmd-hang', type: 'b' },
  [addr(8)]: { kind: 'huge-output', bytes: 5_000_017 },
  [addr(9)]: { kind: 'disconnect' },
  [addr(10)]: { kind: 'channel-refuse' },
  [addr(11)]: { kind: 'step-fail', type: 'b', code: 3, output: 'boom\n' },
  [addr(12)]: { kind: 'invalid-utf8', type: 'b' },
  [addr(13)]: { kind: 'endless-output' },
  [addr(14)]: { kind: 'slow-output', intervalMs: 50 },
  [addr(15)]: { kind: 'delay', ms: 400 },
};
const dir = t.testdir({
  outputs: { 'kernel.txt': '6.1.0-28-amd64\n', 'bad.txt': 'partial\n', 'bad.exit': '2\n' },
});
const fleet: Fleet = await startFleet({
  count: A.length, base: addr(1), port: PORT, dir, faults,
  outputsDir: path.join(dir, 'outputs'),
  commands: { 'echo hi': 'hi\n' },
});
t.teardown(() => fleet.close());
const key = fs.readFileSync(fleet.userKeyPath);
fleet.setOutputs('*', { a: 'alpha\n', b: 'bravo\n', c: 'charlie\n' });

t.test('addresses skip .0 and .255 and stay in 127/8', async (t) => {
  t.same(fleetAddresses('127.20.0.253', 4), ['127.20.0.253', '127.20.0.254', '127.20.1.1', '127.20.1.2']);
  t.equal(fleetAddresses('127.1.0.1', 5000).at(-1), '127.1.19.174');
  t.throws(() => fleetAddresses('10.0.0.1', 1), /outside 127/);
  t.throws(() => fleetAddresses('127.255.255.254', 2), /past/);
  t.same(fleet.hosts[0], { address: '127.20.0.1', port: PORT, label: '127.20.0.1:2222' });
  const st = fs.statSync(fleet.userKeyPath);
  t.equal(st.mode & 0o777, 0o600, 'the generated user key is private');
  t.ok(fs.existsSync(`${fleet.userKeyPath}.pub`));
});

t.test('a normal host answers a collection script with correct frames', async (t) => {
  const c = await connect(addr(1), key);
  t.notOk(c.error, 'connects');
  fleet.setOutputs(addr(1), { b: { output: 'host-specific\n', exitCode: 4 } });
  t.teardown(() => fleet.setOutputs(addr(1), undefined));
  const n = nonce();
  const r = await exec(c.client!, script(n, ['a', 'b', 'kernel', 'bad', 'no-such-type', '../etc']));
  t.equal(r.code, 0, 'exit status 0');
  t.equal(r.out.toString(), [
    `@@${n} B 0\nalpha\n\n@@${n} E 0 0\n`,
    `@@${n} B 1\nhost-specific\n\n@@${n} E 1 4\n`,
    `@@${n} B 2\n6.1.0-28-amd64\n\n@@${n} E 2 0\n`,
    `@@${n} B 3\npartial\n\n@@${n} E 3 2\n`,
    `@@${n} B 4\n\n@@${n} E 4 127\n`,
    `@@${n} B 5\n\n@@${n} E 5 127\n`,
  ].join(''), 'override, per-host override, profile file, .exit file, missing type, unsafe type');
  const other = await exec(c.client!, 'echo hi');
  t.equal(other.out.toString(), 'hi\n', 'a configured plain command');
  const unknown = await exec(c.client!, 'uptime');
  t.same([unknown.out.length, unknown.code], [0, 0], 'any other command: empty, exit 0');
  c.client!.end();
});

t.test('known_hosts lists the key the host presents', async (t) => {
  const lines = fs.readFileSync(fleet.knownHostsPath, 'utf8').trim().split('\n');
  t.equal(lines.length, A.length);
  const line = lines.find((l) => l.startsWith(`[${addr(1)}]:${PORT} `));
  t.ok(line, 'an OpenSSH [addr]:port entry');
  const [, type, b64] = line!.split(' ');
  t.equal(type, 'ssh-ed25519');
  const c = await connect(addr(1), key, { verify: (k) => k.toString('base64') === b64 });
  t.notOk(c.error, 'a strict verifier accepts the presented key');
  t.equal(c.hostKey?.toString('base64'), b64);
  c.client?.end();
});

t.test('refuse: connection refused', async (t) => {
  const c = await connect(addr(2), key);
  t.equal(c.error?.code, 'ECONNREFUSED');
});

t.test('hang: TCP accepts, SSH never starts', async (t) => {
  const c = await connect(addr(3), key, { readyTimeout: 1000 });
  t.equal(c.error?.level, 'client-timeout', String(c.error?.message));
  t.ok(c.ms >= 900, `gave up after ${c.ms} ms`);
});

t.test('banner-hang: banner, then silence', async (t) => {
  const banner = await new Promise<string>((resolve) => {
    const s = net.connect(PORT, addr(4));
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => resolve(got));
    setTimeout(() => { s.destroy(); resolve(got); }, 500);
  });
  t.equal(banner, 'SSH-2.0-OpenSSH_9.2\r\n', 'only the banner within 500 ms');
  const c = await connect(addr(4), key, { readyTimeout: 1000 });
  t.equal(c.error?.level, 'client-timeout', String(c.error?.message));
});

t.test('auth-reject: every method is rejected', async (t) => {
  const before = fleet.stats().authFailed;
  const c = await connect(addr(5), key);
  t.equal(c.error?.level, 'client-authentication', String(c.error?.message));
  t.ok(fleet.stats().authFailed > before);
});

t.test('a key other than the user key is rejected on a normal host', async (t) => {
  const stranger = generateKeyPair().private;
  const c = await connect(addr(1), Buffer.from(stranger));
  t.equal(c.error?.level, 'client-authentication');
});

t.test('wrong-hostkey: another key than known_hosts lists', async (t) => {
  const known = fs.readFileSync(fleet.knownHostsPath, 'utf8').split('\n').find((l) => l.startsWith(`[${addr(6)}]:`))!.split(' ')[2];
  const c = await connect(addr(6), key, { verify: (k) => k.toString('base64') === known });
  t.ok(c.error, 'a strict verifier refuses it');
  t.ok(c.hostKey, 'a key was presented');
  t.not(c.hostKey?.toString('base64'), known);
  t.equal(c.hostKey?.subarray(4, 15).toString(), 'ssh-ed25519', 'same type, different key');
});

t.test('cmd-hang: steps before the hung one, then nothing and no close', async (t) => {
  const c = await connect(addr(7), key);
  const n = nonce();
  const r = await exec(c.client!, script(n, ['a', 'b', 'c']), 1500);
  t.equal(r.closed, false, 'still open after 1.5 s');
  const f = frames(n, r.out);
  t.same(f.map((x) => [x.index, x.out.toString(), x.code]), [[0, 'alpha\n', 0], [1, '', undefined]], 'step 0 complete, step 1 begun');
  r.channel?.signal('KILL');
  await new Promise((res) => setTimeout(res, 200));
  t.equal(fleet.stats().activeExecs > 0, true, 'a hung command ignores signals');
  c.client!.end();
  t.ok(await waitFor(() => fleet.stats().activeExecs === 0, 3000), 'the fleet drops the hung exec when the client leaves');
});

t.test('huge-output: the exact byte count, with backpressure', async (t) => {
  const c = await connect(addr(8), key);
  const n = nonce();
  const r = await exec(c.client!, script(n, ['a', 'b']), 30_000);
  t.ok(r.closed);
  const f = frames(n, r.out);
  t.equal(f[0]?.out.length, 5_000_017);
  t.equal(f[0]?.code, 0);
  t.same([f[1]?.out.toString(), f[1]?.code], ['bravo\n', 0]);
  t.equal(f[0]?.out.includes('@@'), false, 'no marker inside the filler');
  c.client!.end();
});

t.test('disconnect: partial output, then the connection drops', async (t) => {
  const c = await connect(addr(9), key);
  const closed = new Promise<void>((res) => c.client!.on('close', () => res()));
  const n = nonce();
  const r = await exec(c.client!, script(n, ['a', 'b']), 5000);
  await closed;
  t.ok(r.closed, 'channel gone');
  t.equal(r.code, undefined, 'no exit status');
  const f = frames(n, r.out);
  t.equal(f.length, 1);
  t.equal(f[0]?.code, undefined, 'step 0 never ended');
  t.equal(f[0]?.out.toString(), 'alp', 'half of the first output');
});

t.test('channel-refuse: session channels are refused', async (t) => {
  const c = await connect(addr(10), key);
  t.notOk(c.error, 'auth works');
  const r = await exec(c.client!, script(nonce(), ['a']));
  t.ok(r.error, String(r.error?.message));
  c.client!.end();
});

t.test('step-fail and invalid-utf8 hit only their step', async (t) => {
  const c = await connect(addr(11), key);
  let n = nonce();
  let f = frames(n, (await exec(c.client!, script(n, ['a', 'b', 'c']))).out);
  t.same(f.map((x) => [x.out.toString(), x.code]), [['alpha\n', 0], ['boom\n', 3], ['charlie\n', 0]]);
  c.client!.end();
  const d = await connect(addr(12), key);
  n = nonce();
  f = frames(n, (await exec(d.client!, script(n, ['a', 'b']))).out);
  t.equal(f[0]?.out.toString(), 'alpha\n');
  const bad = f[1]?.out ?? Buffer.alloc(0);
  t.ok(bad.includes(Buffer.from([0xff, 0xfe])) && bad.includes(0x00), 'bytes 0xff 0xfe and NUL');
  t.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(bad), 'not valid UTF-8');
  d.client!.end();
});

t.test('endless-output and slow-output stop when the client goes', async (t) => {
  const c = await connect(addr(13), key);
  const r = await exec(c.client!, script(nonce(), ['a']), 800, 4096);
  t.equal(r.closed, false);
  t.ok(r.bytes > 1_000_000, `${r.bytes} bytes in 0.8 s and still going`);
  c.client!.destroy(); // abrupt: no channel close, no SSH disconnect
  const s = await connect(addr(14), key);
  const n = nonce();
  const r2 = await exec(s.client!, script(n, ['a']), 600);
  const dots = frames(n, r2.out)[0]?.out.toString() ?? '';
  t.match(dots, /^\.{3,}$/, `one byte per interval (${dots.length} in 0.6 s)`);
  r2.channel!.close();
  t.ok(await waitFor(() => fleet.stats().activeExecs === 0, 3000), 'no producer left running');
  s.client!.end();
});

t.test('a signal ends a running command with an exit signal', async (t) => {
  const c = await connect(addr(14), key);
  const ch = await new Promise<ClientChannel>((res, rej) => c.client!.exec(script(nonce(), ['a']), (e, x) => (e ? rej(e) : res(x))));
  const exit = new Promise<unknown[]>((res) => ch.on('exit', (...a: unknown[]) => res(a)));
  const closed = new Promise<void>((res) => ch.on('close', () => res()));
  ch.resume();
  await new Promise((res) => setTimeout(res, 200));
  ch.signal('TERM');
  t.equal((await exit)[1], 'SIGTERM', 'exit-signal TERM (ssh2 names it SIGTERM)');
  await closed;
  c.client!.end();
});

t.test('delay: answers late', async (t) => {
  const c = await connect(addr(15), key);
  const started = Date.now();
  const r = await exec(c.client!, script(nonce(), ['a']));
  t.ok(Date.now() - started >= 380, `took ${Date.now() - started} ms`);
  t.equal(r.code, 0);
  c.client!.end();
});

t.test('setFault changes a host at run time', async (t) => {
  const h = addr(16);
  t.notOk((await connect(h, key)).error, 'normal at first');
  await fleet.setFault(h, { kind: 'refuse' });
  t.equal((await connect(h, key)).error?.code, 'ECONNREFUSED', 'refuse closes the listener');
  await fleet.setFault(h, { kind: 'auth-reject' });
  t.equal((await connect(h, key)).error?.level, 'client-authentication', 'reopened, now rejecting auth');
  await fleet.setFault(h, { kind: 'step-fail', code: 9 });
  const c = await connect(h, key);
  const n = nonce();
  t.same(frames(n, (await exec(c.client!, script(n, ['a']))).out)[0]?.code, 9);
  c.client!.end();
  await fleet.setFault(h, undefined);
  const d = await connect(h, key);
  t.notOk(d.error, 'normal again');
  d.client?.end();
  await t.rejects(fleet.setFault(h, { kind: 'no-such' } as unknown as FaultSpec), /bad fault/);
});

t.test('clients dropping at any moment never hurt the fleet', async (t) => {
  const targets = [1, 7, 8, 9, 11, 13, 14].map(addr);
  await Promise.all(Array.from({ length: 120 }, async (_, i) => {
    const h = targets[i % targets.length]!;
    if (i % 4 === 0) {
      // Raw TCP: garbage or nothing, then a reset.
      const s = net.connect(PORT, h);
      s.on('error', () => {});
      if (i % 8 === 0) s.write('SSH-2.0-x\r\n\x00\x01garbage\xff\r\n');
      await new Promise((r) => setTimeout(r, i % 13));
      s.resetAndDestroy();
      return;
    }
    const c = new Client();
    openClients.add(c);
    c.on('error', () => {});
    c.on('ready', () => c.exec(script(nonce(), ['a', 'b']), (err, ch) => { if (!err) ch.resume(); }));
    c.connect({ host: h, port: PORT, username: 'u', privateKey: key, readyTimeout: 5000 });
    await new Promise((r) => setTimeout(r, (i * 7) % 60));
    c.destroy();
    openClients.delete(c);
  }));
  t.ok(await waitFor(() => fleet.stats().activeExecs === 0, 5000), 'every producer stopped');
  const c = await connect(addr(1), key);
  const n = nonce();
  const r = await exec(c.client!, script(n, ['a']));
  t.equal(r.out.toString(), `@@${n} B 0\nalpha\n\n@@${n} E 0 0\n`, 'still serving');
  c.client!.end();
});

t.test('500 hosts start and each answers', async (t) => {
  const big = await startFleet({ count: 500, base: '127.20.10.1', port: PORT, dir: t.testdir(), outputs: { uname: 'Linux\n' } });
  t.teardown(() => big.close());
  const bigKey = fs.readFileSync(big.userKeyPath);
  const slow: string[] = [];
  const bad: string[] = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < big.hosts.length) {
      const h = big.hosts[next++]!;
      const t0 = Date.now();
      const c = await connect(h.address, bigKey, { readyTimeout: 20_000 });
      if (!c.client) { bad.push(`${h.label}: ${c.error?.message}`); continue; }
      const n = nonce();
      const r = await exec(c.client, script(n, ['uname']), 20_000);
      c.client.end();
      if (r.out.toString() !== `@@${n} B 0\nLinux\n\n@@${n} E 0 0\n` || r.code !== 0) bad.push(`${h.label}: ${JSON.stringify(r.out.toString())}`);
      if (Date.now() - t0 > 15_000) slow.push(h.label);
    }
  }));
  t.same(bad, [], 'every host answered correctly');
  t.same(slow, [], 'none took over 15 s');
  t.equal(big.stats().execsDone, 500);
  t.comment(`500 sessions in ${Date.now() - started} ms`);
});

t.test('the real OpenSSH client works against the fleet', { skip: hasOpenSsh ? false : 'ssh/ssh-keygen not installed' }, async (t) => {
  const ok = await run('ssh', sshArgs(fleet.knownHostsPath, fleet.userKeyPath, addr(17), 'echo hi'));
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout, 'hi\n');
  const wrong = await run('ssh', sshArgs(fleet.knownHostsPath, fleet.userKeyPath, addr(6), 'echo hi'));
  t.equal(wrong.code, 255, 'ssh refuses the wrong host key');
  t.match(wrong.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);

  const plain = await run('ssh-keygen', ['-F', `[${addr(17)}]:${PORT}`, '-f', fleet.knownHostsPath]);
  t.equal(plain.code, 0, 'ssh-keygen -F finds a plain entry');
  t.match(plain.stdout, `# Host [${addr(17)}]:${PORT} found`);

  const hdir = t.testdir();
  const hashed = await startFleet({ count: 2, base: '127.20.20.1', port: PORT, dir: hdir, hashKnownHosts: true, commands: { 'echo hi': 'hi\n' } });
  t.teardown(() => hashed.close());
  const text = fs.readFileSync(hashed.knownHostsPath, 'utf8');
  t.match(text, /^\|1\|[A-Za-z0-9+/=]{28}\|[A-Za-z0-9+/=]{28} ssh-ed25519 /);
  t.notMatch(text, /127\.20/, 'no address in clear');
  const found = await run('ssh-keygen', ['-F', `[127.20.20.2]:${PORT}`, '-f', hashed.knownHostsPath]);
  t.equal(found.code, 0, 'ssh-keygen -F finds a hashed entry');
  t.match(found.stdout, /found: line 2/);
  const missing = await run('ssh-keygen', ['-F', `[127.20.20.9]:${PORT}`, '-f', hashed.knownHostsPath]);
  t.equal(missing.code, 1);
  const viaHashed = await run('ssh', sshArgs(hashed.knownHostsPath, hashed.userKeyPath, '127.20.20.1', 'echo hi'));
  t.equal(viaHashed.code, 0, viaHashed.stderr);
  t.equal(viaHashed.stdout, 'hi\n');
});

t.test('an existing user key is reused', async (t) => {
  const d = t.testdir();
  const first = await startFleet({ count: 1, base: '127.20.21.1', port: PORT, dir: d });
  const keyText = fs.readFileSync(first.userKeyPath, 'utf8');
  await first.close();
  const second = await startFleet({ count: 1, base: '127.20.21.1', port: PORT, dir: d });
  t.teardown(() => second.close());
  t.equal(fs.readFileSync(second.userKeyPath, 'utf8'), keyText);
  const c = await connect('127.20.21.1', Buffer.from(keyText));
  t.notOk(c.error, 'the reopened address serves again');
  c.client?.end();
});

t.test('CLI mode: ready line, serves, exits 0 when stdin closes', async (t) => {
  const d = t.testdir({ 'faults.json': JSON.stringify({ '127.20.30.2': { kind: 'refuse' } }) });
  const child = spawn(process.execPath, [FLEET_JS, '--count', '3', '--base', '127.20.30.1', '--port', String(PORT), '--dir', d, '--faults', path.join(d, 'faults.json')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (x) => { stderr += x; });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const line = await new Promise<string>((res) => readline.createInterface({ input: child.stdout }).once('line', res));
  const ready = JSON.parse(line);
  t.same(ready, { ready: true, hosts: 3, knownHosts: path.join(d, 'known_hosts'), userKey: path.join(d, 'id_ed25519') });
  const k = fs.readFileSync(ready.userKey);
  const c = await connect('127.20.30.1', k);
  t.notOk(c.error, 'serves');
  c.client?.end();
  t.equal((await connect('127.20.30.2', k)).error?.code, 'ECONNREFUSED', 'faults file applied');
  child.stdin.end();
  t.equal(await exited, 0, stderr);

  const usage = await run(process.execPath, [FLEET_JS, '--count', '1', '--bogus']);
  t.equal(usage.code, 64, 'usage error');
});
