// The store interface every backend implements (SQLite now; PostgreSQL is planned), and the
// opener. Only the main thread holds a store; it is the single writer.
import type { InventoryHost } from '../inventory/host.js';
import type { HostResult } from '../pool/messages.js';
import { SqliteStore } from './sqlite-store.js';

export { SqliteStore };

export interface RunInfo {
  mode: 'run' | 'gap-fix' | 'ingest';
  startedAt: Date;
  pid: number;
  hostname: string;
  threads: number;
  workers: number;
}

/** A collection document pushed by a host agent, validated (see app/ingest.ts). */
export interface PushDocument {
  host: string;
  timestamp: number;
  ok: boolean;
  statusText: string;
  data: Record<string, Record<string, string>>;
  srvtype?: string;
  pop?: string;
  status?: string;
  /** `status` read against [collector] prod_statuses, when a status was given */
  isProd?: boolean;
}

/** What became of one pushed document. */
export interface PushOutcome {
  /** the host name it was stored under (an existing host matched without regard to case) */
  host: string;
  /** types stored through the fact-interval logic */
  storedTypes: string[];
  /** types skipped because the stored facts of that type are newer than the document */
  skippedTypes: string[];
}

export type PruneMode = 'archive' | 'delete';

export interface HostState {
  name: string;
  isProd: boolean;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastOutcome: string | null;
  lastCode: string | null;
  lastMessage: string | null;
}

export interface FactRow {
  type: string;
  subtype: string;
  value: string;
  firstSeen: string;
  lastSeen: string;
}

export interface RunRow {
  id: number;
  mode: string;
  startedAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  summary: string | null;
}

export interface Store {
  readonly path: string;
  beginRun(info: RunInfo): number;
  /** one transaction: new hosts inserted, known ones get the inventory's srvtype/pop/status */
  upsertHosts(hosts: InventoryHost[]): void;
  /** label -> epoch ms of the last successful collection (one query) */
  lastSuccessByHost(): Map<string, number>;
  /** labels whose agent pushed at or after `sinceMs` (one query) */
  sapiHostsSince(sinceMs: number): Set<string>;
  /** one transaction per batch: attempts, their collections, fact intervals, hosts.last_* */
  recordResults(runId: number, results: HostResult[]): void;
  finishRun(runId: number, finishedAt: Date, exitCode: number, summaryJson: string): void;
  /** one document pushed by a host agent, in its own transaction (see app/ingest.ts) */
  recordPush(runId: number, doc: PushDocument): PushOutcome;
  /** closed fact intervals last seen before `before` (ISO), archived or deleted; one transaction of at most `batch` rows */
  pruneBatch(before: string, mode: PruneMode, batch: number): number;
  /** how many closed fact intervals were last seen before `before` (what prune would move) */
  countPrunable(before: string): number;
  hostStates(): HostState[];
  currentFacts(host: string, type?: string): FactRow[];
  lastRun(): RunRow | undefined;
  factRowCount(): number;
  integrityCheck(): string;
  close(): void;
}

export function openStore(path: string, opts: { readonly?: boolean } = {}): SqliteStore {
  return SqliteStore.open(path, opts);
}
