// ProxyJump through ssh2's forwardOut. One connection per jump host (per thread), shared by every
// target behind it, with a bound on the channels open through it at once; a broken jump
// connection is dropped from the cache so the next target opens a fresh one. Each hop's host key
// is checked with that hop's own settings (policy, known_hosts, HostKeyAlias).
import type { Client, ClientChannel } from 'ssh2';
import type { LearnedHostKey } from '../core/results.js';
import type { JumpHop, SshSettings } from '../core/ssh-types.js';
import type { ConnectFailure } from './connect.js';
import { knownHostsName } from './known-hosts.js';

/**
 * Channels open at once through one jump connection. OpenSSH's sshd has no hard cap on
 * direct-tcpip channels, but hundreds on one TCP connection share one window and one CPU there.
 */
export const MAX_CHANNELS_PER_JUMP = 64;

interface JumpConn {
  client: Client;
  active: number;
  waiting: (() => void)[];
}

const jumps = new Map<string, Promise<JumpConn | ConnectFailure>>();
/**
 * accept-new: hop keys learned once the hop authenticated, handed to the next result that comes
 * through a jump (whatever becomes of its target), so the main thread records them at once.
 */
const unreported: LearnedHostKey[] = [];

function jumpFailure(hop: JumpHop, why: string): ConnectFailure {
  return { outcome: 'unreachable', code: 'JUMP', message: `jump host ${hop.user}@${hop.host}:${hop.port}: ${why}` };
}

async function acquire(j: JumpConn): Promise<void> {
  if (j.active < MAX_CHANNELS_PER_JUMP) { j.active++; return; }
  await new Promise<void>((r) => j.waiting.push(r));
  j.active++;
}

function release(j: JumpConn): void {
  j.active--;
  j.waiting.shift()?.();
}

function forward(j: JumpConn, host: string, port: number): Promise<ClientChannel | Error> {
  return new Promise((done) => {
    try {
      j.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => done(err ?? stream));
    } catch (e) {
      done(e as Error);
    }
  });
}

/** The connection to hops[0..n], opened (and cached) hop by hop. */
function jumpConnection(hops: JumpHop[], ssh: SshSettings, limitMs: number): Promise<JumpConn | ConnectFailure> {
  const key = JSON.stringify([hops, ssh.user, ssh.privateKeys.map((k) => k.path)]);
  const cached = jumps.get(key);
  if (cached) return cached;
  const opening = (async (): Promise<JumpConn | ConnectFailure> => {
    const hop = hops[hops.length - 1] as JumpHop;
    const knownName = hop.hostKeyAlias ? knownHostsName(hop.hostKeyAlias, 22) : knownHostsName(hop.host, hop.port);
    let sock: NodeJS.ReadWriteStream | undefined;
    let before: JumpConn | undefined;
    if (hops.length > 1) {
      const prev = await jumpConnection(hops.slice(0, -1), ssh, limitMs);
      if ('outcome' in prev) return prev;
      before = prev;
      await acquire(prev);
      const ch = await forward(prev, hop.host, hop.port);
      if (ch instanceof Error) { release(prev); return jumpFailure(hop, `cannot be reached through the previous hop: ${ch.message}`); }
      ch.on('close', () => release(prev));
      sock = ch;
    }
    // connect.ts (and ssh2 with it) loads with the first jump: the pool imports this file for
    // closeJumps in a main thread that, with worker threads, never opens a connection.
    const { openClient, resolve } = await import('./connect.js');
    let address = hop.host;
    if (!sock) {
      const r = await resolve(hop.host, ssh.family);
      if (typeof r !== 'string') return jumpFailure(hop, r.message);
      address = r;
    }
    const hopSsh: SshSettings = { ...ssh, hostKeyPolicy: hop.hostKeyPolicy, knownHostsPath: hop.knownHostsPath };
    const c = await openClient({ address, port: hop.port, user: hop.user, knownName, ...(sock ? { sock } : {}) }, hopSsh, limitMs, () => {});
    if ('outcome' in c) return jumpFailure(hop, `${c.code}: ${c.message}`);
    unreported.push(...(c.learnedHostKeys ?? []));
    const conn: JumpConn = { client: c.client, active: 0, waiting: [] };
    c.client.on('close', () => { jumps.delete(key); void before; });
    c.client.on('error', () => { jumps.delete(key); });
    return conn;
  })();
  jumps.set(key, opening);
  opening.then((r) => { if ('outcome' in r) jumps.delete(key); });
  return opening;
}

/**
 * A stream to `host:port` through the hops, or a JUMP failure naming the hop that failed; either
 * way with the hop keys learned so far (accept-new) for the main thread to record.
 */
export async function openThroughJumps(hops: JumpHop[], host: string, port: number, ssh: SshSettings, limitMs: number): Promise<{ stream: ClientChannel; learned: LearnedHostKey[] } | ConnectFailure> {
  const j = await jumpConnection(hops, ssh, limitMs);
  const learned = unreported.splice(0);
  const failed = (f: ConnectFailure): ConnectFailure => (learned.length ? { ...f, learnedHostKeys: learned } : f);
  if ('outcome' in j) return failed(j);
  await acquire(j);
  const ch = await forward(j, host, port);
  if (ch instanceof Error) {
    release(j);
    return failed({ outcome: 'unreachable', code: 'ECONNREFUSED', message: `${host}:${port} cannot be reached from jump host: ${ch.message}` });
  }
  ch.on('close', () => release(j));
  return { stream: ch, learned };
}

/** Close every cached jump connection (the in-process pool calls this when a run ends). */
export function closeJumps(): void {
  for (const p of jumps.values()) void p.then((j) => { if (!('outcome' in j)) j.client.end(); });
  jumps.clear();
}
