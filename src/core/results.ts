// What collecting one host produced: the domain model the run, the store and the reports share.
// Plain data only (it crosses the thread boundary inside pool/messages.ts, and a custom Error class
// posted from a worker would arrive as a plain Error). A leaf module: every layer may import it.

/** A collection's facts: subtype -> value. */
export type FactValues = Record<string, string>;

export const OUTCOMES = ['ok', 'partial', 'unreachable', 'auth_failed', 'hostkey_mismatch', 'timeout', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The message of a host stopped by the run deadline, whoever stopped it (its own timer, or the feeder writing it off). */
export const DEADLINE_MESSAGE = 'stopped at the run deadline (threadtimeout)';

/** Short, stable error codes (SPEC §4). */
export type ErrorCode =
  | 'ECONNREFUSED' | 'ETIMEDOUT' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'ENOTFOUND' | 'ECONNRESET'
  | 'AUTH' | 'HOSTKEY' | 'HOST_TIMEOUT' | 'DEADLINE' | 'DISCONNECTED' | 'OUTPUT_CAP' | 'FACT_CAP'
  | 'INTERRUPTED' | 'PROTOCOL' | 'CHANNEL' | 'COMMANDS_FAILED' | 'JUMP' | 'PROXY_COMMAND' | 'INTERNAL';

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
