// The only place that opens SSH connections: resolve, connect (TCP_NODELAY), verify the host key
// against known_hosts, authenticate. Failures come back as values, never as throws.
import crypto, { type KeyObject } from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import ssh2, { Client, type ConnectConfig, type ParsedKey } from 'ssh2';
import type { ErrorCode, LearnedHostKey, Outcome } from '../core/results.js';
import type { SshSettings } from '../core/ssh-types.js';
import { blobKeyType, knownKeyTypes, loadKnownHosts, verifyHostKey } from './known-hosts.js';

export interface ConnectFailure {
  outcome: Outcome;
  code: ErrorCode;
  message: string;
  /** jump host keys learned on the way (accept-new): recorded even though the target failed */
  learnedHostKeys?: LearnedHostKey[];
}

export interface Connected {
  client: Client;
  learnedHostKeys?: LearnedHostKey[];
}

// ssh2's default host key preference; a host already in known_hosts is asked for its known type first.
const HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

function algosFor(knownTypes: string[]): string[] {
  if (knownTypes.length === 0) return HOST_KEY_ALGOS;
  const wanted = new Set(knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t])));
  return [...HOST_KEY_ALGOS.filter((a) => wanted.has(a)), ...HOST_KEY_ALGOS.filter((a) => !wanted.has(a))];
}

/**
 * Private keys parsed once per thread, by their text. Given as text, ssh2 parses the key again for
 * every connection; a parsed key object is used as it is. A text ssh2 cannot parse is passed on as
 * text, so ssh2 skips that key exactly as before.
 */
const parsedKeys = new Map<string, ParsedKey | string>();
function authKey(text: string): ParsedKey | string {
  let k = parsedKeys.get(text);
  if (k === undefined) {
    const parsed = ssh2.utils.parseKey(text);
    const one: ParsedKey | Error | undefined = Array.isArray(parsed) ? parsed[0] : parsed;
    k = one !== undefined && !(one instanceof Error) ? withKeyObject(one) : text;
    parsedKeys.set(text, k);
  }
  return k;
}

/**
 * ssh2 signs the user-auth request with the key's PEM text, which OpenSSL 3 decodes again on every
 * signature: ~430 µs of the SSH thread per connection for an ed25519 key, against ~35 µs with a
 * KeyObject made once. The key seen by ssh2 is the parsed key itself (its prototype) with only
 * `sign` overridden, and that only where the signature is the same call: ed25519 (no hash), or a
 * hash named by ssh2 (RSA's rsa-sha2-256/512); any other case goes to ssh2's own `sign`.
 */
function withKeyObject(key: ParsedKey): ParsedKey {
  if (key.type !== 'ssh-ed25519' && key.type !== 'ssh-rsa') return key;
  let priv: KeyObject;
  try {
    priv = crypto.createPrivateKey(key.getPrivatePEM());
  } catch {
    return key;
  }
  const fast = Object.create(key) as ParsedKey;
  fast.sign = (data: Buffer | string, algo?: string): Buffer => {
    if (!algo && key.type !== 'ssh-ed25519') return key.sign(data, algo);
    try {
      return crypto.sign(algo || null, typeof data === 'string' ? Buffer.from(data) : data, priv);
    } catch (e) {
      // ssh2's own sign returns its failure as a value (and reports it as an auth error).
      return e as Buffer;
    }
  };
  return fast;
}

const NET_CODES: Record<string, ErrorCode> = {
  ECONNREFUSED: 'ECONNREFUSED', ETIMEDOUT: 'ETIMEDOUT', EHOSTUNREACH: 'EHOSTUNREACH', ENETUNREACH: 'ENETUNREACH',
  ECONNRESET: 'ECONNRESET', EHOSTDOWN: 'EHOSTUNREACH', EADDRNOTAVAIL: 'EHOSTUNREACH', EPIPE: 'ECONNRESET',
};

function classify(err: Error & { code?: string; level?: string }, connectTimeoutMs: number): ConnectFailure {
  if (err.level === 'client-authentication') return { outcome: 'auth_failed', code: 'AUTH', message: 'authentication failed: the server accepted none of the keys offered' };
  if (err.level === 'client-timeout') return { outcome: 'unreachable', code: 'ETIMEDOUT', message: `no SSH handshake within ${connectTimeoutMs} ms` };
  const net = err.code ? NET_CODES[err.code] : undefined;
  if (net) return { outcome: 'unreachable', code: net, message: err.message };
  if (err.level === 'protocol' || err.level === 'handshake') return { outcome: 'error', code: 'PROTOCOL', message: `SSH protocol error: ${err.message}` };
  return { outcome: 'error', code: 'DISCONNECTED', message: err.message };
}

export async function resolve(host: string, family: 0 | 4 | 6): Promise<string | ConnectFailure> {
  const literal = net.isIP(host);
  if (literal) {
    if (family !== 0 && literal !== family) return { outcome: 'unreachable', code: 'ENOTFOUND', message: `${host} is not an IPv${family} address (ipv${family} only is set)` };
    return host;
  }
  try {
    const r = await dns.lookup(host, { family });
    return r.address;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { outcome: 'unreachable', code: 'ENOTFOUND', message: `cannot resolve ${host}${family ? ` (IPv${family})` : ''}: ${err.code ?? err.message}` };
  }
}

export interface ClientTarget {
  /** address to connect to (ignored when `sock` is given) */
  address: string;
  port: number;
  user: string;
  /** the name host keys are looked up under (`host` or `[host]:port`) */
  knownName: string;
  /** an already-open stream to the server (a ProxyJump channel) */
  sock?: NodeJS.ReadWriteStream;
}

export function openClient(target: ClientTarget, ssh: SshSettings, limitMs: number, onClient: (c: Client) => void): Promise<Connected | ConnectFailure> {
  const name = target.knownName;
  const entries = ssh.hostKeyPolicy === 'off' ? [] : [ssh.knownHostsPath, ...ssh.globalKnownHostsPaths].flatMap((f) => loadKnownHosts(f).relevantTo(name));

  return new Promise((done) => {
    const client = new Client();
    onClient(client);
    let keyProblem: ConnectFailure | undefined;
    let learned: LearnedHostKey | undefined;
    let settled = false;
    const finish = (r: Connected | ConnectFailure) => {
      if (settled) return;
      settled = true;
      done(r);
    };
    client.on('ready', () => finish({ client, ...(learned ? { learnedHostKeys: [learned] } : {}) }));
    client.on('error', (err: Error & { code?: string; level?: string }) => {
      finish(keyProblem ?? classify(err, limitMs));
      client.end();
    });
    client.on('close', () => finish(keyProblem ?? { outcome: 'unreachable', code: 'ECONNRESET', message: 'connection closed before the SSH session was ready' }));

    const auth = [
      ...ssh.privateKeys.map((k) => ({ type: 'publickey' as const, username: target.user, key: authKey(k.text) })),
      ...(ssh.agent ? [{ type: 'agent' as const, username: target.user, agent: ssh.agent }] : []),
    ];
    const cfg: ConnectConfig = {
      ...(target.sock ? { sock: target.sock as unknown as ConnectConfig['sock'] } : { host: target.address, port: target.port }),
      username: target.user,
      readyTimeout: Math.max(1, limitMs),
      // Keepalives catch a peer that vanishes mid-run without a FIN (it would otherwise hang until host_timeout).
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
      authHandler: auth as unknown as ConnectConfig['authHandler'],
      algorithms: { serverHostKey: algosFor(knownKeyTypes(entries, name)) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (key: Buffer) => {
        if (ssh.hostKeyPolicy === 'off') return true;
        const verdict = verifyHostKey(entries, name, key);
        if (verdict.kind === 'ok') return true;
        if (verdict.kind === 'unknown') {
          if (ssh.hostKeyPolicy === 'accept-new') {
            learned = { file: ssh.knownHostsPath, hostPattern: name, keyType: blobKeyType(key), keyBase64: key.toString('base64') };
            return true;
          }
          keyProblem = { outcome: 'hostkey_mismatch', code: 'HOSTKEY', message: `${name} is not in ${ssh.knownHostsPath} (host_key_policy = strict)` };
          return false;
        }
        keyProblem = { outcome: 'hostkey_mismatch', code: 'HOSTKEY', message: verdict.message };
        return false;
      },
    };
    try {
      client.connect(cfg);
      // Nagle on an SSH session costs ~100 ms per exchange on loopback (measured): turn it off.
      (client as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
    } catch (e) {
      finish({ outcome: 'error', code: 'INTERNAL', message: (e as Error).message });
    }
  });
}
