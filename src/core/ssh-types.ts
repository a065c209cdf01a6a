// The SSH settings a host task carries: how to authenticate, which host keys to trust, the limits.
// Resolved once on the main thread (app/ssh-settings.ts, app/host-ssh.ts) and used by src/ssh/ in
// the worker threads. A leaf module: every layer may import it.

export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

/** One known_hosts line, already split; hosts may be patterns or a hashed `|1|salt|hash`. */
export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  hosts: string;
  keyType: string;
  keyBase64: string;
}

/** Settings every host task shares; sent once per task (small) so threads stay stateless. */
export interface SshSettings {
  user: string;
  /** private keys in OpenSSH/PEM text, tried in order; empty = agent only */
  privateKeys: { path: string; text: string }[];
  /** SSH_AUTH_SOCK, when an agent is to be tried */
  agent?: string;
  family: 0 | 4 | 6;
  connectTimeoutMs: number;
  hostTimeoutMs: number;
  hostKeyPolicy: HostKeyPolicy;
  knownHostsPath: string;
  /** read-only known_hosts files consulted after knownHostsPath (OpenSSH's GlobalKnownHostsFile) */
  globalKnownHostsPaths: string[];
  maxOutputBytes: number;
  /** facts one collection may yield; more fails it with FACT_CAP */
  maxFacts: number;
}

/** One hop of an OpenSSH ProxyJump chain, already resolved through the client config for that hop. */
export interface JumpHop {
  host: string;
  port: number;
  user: string;
  /** the hop's own host-key checking (its StrictHostKeyChecking, UserKnownHostsFile) */
  hostKeyPolicy: HostKeyPolicy;
  knownHostsPath: string;
  /** the hop's HostKeyAlias: the name its host key is looked up under */
  hostKeyAlias?: string;
}

