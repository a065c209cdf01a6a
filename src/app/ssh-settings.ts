// Main-thread preparation of what every host task needs for SSH: the private keys (checked
// once, like OpenSSH checks them), the agent socket, the known_hosts file. Threads get plain data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/load.js';
import type { LearnedHostKey } from '../core/results.js';
import type { HostKeyPolicy, SshSettings } from '../core/ssh-types.js';
import { privateKeyProblem } from '../ssh/private-key.js';
import { ConfigError } from '../core/errors.js';

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** Read a private key the way OpenSSH would accept it: a private file, parseable, not encrypted. */
export function readPrivateKey(file: string): { path: string; text: string } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new ConfigError(`${file}: cannot read the SSH key: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isFile()) throw new ConfigError(`${file}: the SSH key is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(`${file}: the SSH key is accessible by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 on it, as OpenSSH requires`);
  }
  const text = fs.readFileSync(file, 'utf8');
  const problem = privateKeyProblem(text);
  if (problem?.kind === 'encrypted') throw new ConfigError(`${file}: the SSH key is passphrase-protected; load it into ssh-agent and leave paramiko_key unset`);
  if (problem?.kind === 'unparseable') throw new ConfigError(`${file}: not a usable private key (${problem.message})`);
  if (problem?.kind === 'not-private') throw new ConfigError(`${file}: holds no private key`);
  return { path: file, text };
}

export function buildSshSettings(config: Config, warn: (m: string) => void): SshSettings {
  const privateKeys: { path: string; text: string }[] = [];
  const agent = config.ssh.key ? undefined : process.env.SSH_AUTH_SOCK || undefined;
  if (config.ssh.key) {
    privateKeys.push(readPrivateKey(config.ssh.key));
  } else {
    for (const name of DEFAULT_KEYS) {
      const file = path.join(os.homedir(), '.ssh', name);
      if (!fs.existsSync(file)) continue;
      try {
        privateKeys.push(readPrivateKey(file));
      } catch (e) {
        warn(`skipping default key: ${(e as Error).message}`);
      }
    }
  }
  if (privateKeys.length === 0 && !agent) {
    throw new ConfigError(`${config.file ?? 'config'}: no SSH credentials: set [paramiko] paramiko_key, or start an ssh-agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519`);
  }
  if (config.ssh.hostKeyPolicy === 'strict' && !fs.existsSync(config.ssh.knownHosts)) {
    warn(`${config.ssh.knownHosts} does not exist: with host_key_policy = strict every host will fail its host key check`);
  }
  return {
    user: config.ssh.user,
    privateKeys,
    ...(agent ? { agent } : {}),
    family: config.ssh.family,
    connectTimeoutMs: config.ssh.connectTimeoutMs,
    hostTimeoutMs: config.collector.hostTimeoutMs,
    hostKeyPolicy: config.ssh.hostKeyPolicy,
    knownHostsPath: config.ssh.knownHosts,
    globalKnownHostsPaths: config.ssh.globalKnownHosts,
    maxOutputBytes: config.storage.maxOutputBytes,
    maxFacts: config.collector.maxFacts,
  };
}

/**
 * A known_hosts that exists but cannot be read (a folder, no read permission) would pass for an
 * empty one, and accept-new would then trust any key: a config error instead. A missing file is
 * fine (accept-new creates it). Checked in the main thread, once per file, before any connection.
 */
export function checkKnownHostsReadable(file: string, policy: HostKeyPolicy): void {
  if (policy === 'off') return;
  try {
    if (fs.statSync(file).isDirectory()) throw new ConfigError(`${file}: known_hosts is a directory, not a file: host keys cannot be checked`);
    fs.closeSync(fs.openSync(file, 'r'));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new ConfigError(`${file}: cannot read known_hosts (${code ?? (e as Error).message}): host keys cannot be checked`);
  }
}

/** known_hosts /dev/null under accept-new remembers nothing: every run trusts whatever key a host presents. */
export function warnWeakHostKeys(policy: HostKeyPolicy, file: string, setting: string, warn: (m: string) => void): void {
  if (policy === 'accept-new' && path.resolve(file) === '/dev/null') {
    warn(`${setting} is /dev/null: no host key is ever remembered, so every run trusts whatever key each host presents (trust on first use, every run)`);
  }
}

/** The file ends without a newline (an edited file often does): a line appended must not join its last line. */
function endsWithoutNewline(file: string): boolean {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return false; }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

/** accept-new: append what threads learned, one line each, in the main thread only (no races). */
export function appendKnownHosts(keys: LearnedHostKey[], warn: (m: string) => void): void {
  const byFile = new Map<string, LearnedHostKey[]>();
  for (const k of keys) byFile.set(k.file, [...(byFile.get(k.file) ?? []), k]);
  for (const [file, list] of byFile) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const lines = list.map((k) => `${k.hostPattern} ${k.keyType} ${k.keyBase64}\n`).join('');
      fs.appendFileSync(file, (endsWithoutNewline(file) ? '\n' : '') + lines, { mode: 0o600 });
    } catch (e) {
      warn(`${file}: cannot record ${list.length} new host key(s): ${(e as Error).message}`);
    }
  }
}
