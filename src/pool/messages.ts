// Everything that crosses the thread boundary, in one place. Only plain data travels: a custom
// Error class posted from a worker arrives as a plain Error, so results are objects, never throws.
import type { CollectionDef, FactValues } from '../collections/types.js';

export const OUTCOMES = ['ok', 'partial', 'unreachable', 'auth_failed', 'hostkey_mismatch', 'timeout', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Short, stable error codes (SPEC §4). */
export type ErrorCode =
  | 'ECONNREFUSED' | 'ETIMEDOUT' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'ENOTFOUND' | 'ECONNRESET'
  | 'AUTH' | 'HOSTKEY' | 'HOST_TIMEOUT' | 'DEADLINE' | 'DISCONNECTED' | 'OUTPUT_CAP' | 'FACT_CAP'
  | 'INTERRUPTED' | 'PROTOCOL' | 'CHANNEL' | 'COMMANDS_FAILED' | 'JUMP' | 'PROXY_COMMAND' | 'INTERNAL';

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

export interface HostTask {
  /** hostname as written in the inventory (without port) */
  name: string;
  /** inventory spelling, used in every output */
  label: string;
  host: string;
  port: number;
  collections: CollectionDef[];
  ssh: SshSettings;
  /** epoch ms: the run deadline; the thread aborts its own work at this instant */
  deadlineAt: number;
  /** OpenSSH HostKeyAlias: the name to look the host key up under */
  hostKeyAlias?: string;
  /** OpenSSH ProxyJump hops, first to last */
  jump?: JumpHop[];
  /** OpenSSH ProxyCommand, tokens expanded: its stdin/stdout carry the session */
  proxyCommand?: string;
}

export type CollectionStatus = 'ok' | 'failed' | 'timeout' | 'skipped';

export interface CollectionResult {
  type: string;
  status: CollectionStatus;
  /** remote exit code where known */
  exitCode?: number;
  message?: string;
  /** the stable code of a failure that has one (FACT_CAP) */
  code?: ErrorCode;
  /** parsed facts (only when status is ok) */
  values?: FactValues;
  durationMs: number;
}

/** A host key the thread accepted under `accept-new`; the main thread appends it to known_hosts. */
export interface LearnedHostKey {
  /** the known_hosts file it belongs in */
  file: string;
  hostPattern: string;
  keyType: string;
  keyBase64: string;
}

export interface HostResult {
  label: string;
  outcome: Outcome;
  code?: ErrorCode;
  message?: string;
  startedAt: number;
  finishedAt: number;
  collections: CollectionResult[];
  /** keys learned under accept-new (the target's, and a jump host's the first time it is met) */
  learnedHostKeys?: LearnedHostKey[];
  /** bytes of output received (all collections) */
  outputBytes: number;
}
