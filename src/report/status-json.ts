// The final status JSON (SPEC §6) and the exit code (SPEC §7), from what a run saw. Pure.
import type { InvalidRow, InventoryHost } from '../inventory/host.js';
import { OUTCOMES, type HostResult, type Outcome } from '../core/results.js';

/** The part of a host's result the status JSON reports. */
export type HostSummary = Pick<HostResult, 'outcome' | 'code' | 'message'>;

export interface Interruption {
  /** `SIGINT`, `SIGTERM`, or `run lock lost` */
  reason: string;
  exitCode: number;
}

export interface StatusInput {
  mode: 'run' | 'gap-fix';
  runId: number;
  version: string;
  startedAt: Date;
  finishedAt: Date;
  threads: number;
  workers: number;
  /** valid inventory hosts this run was responsible for, in inventory order (the lists keep it) */
  hosts: InventoryHost[];
  /** what the JSON needs of each finished host (not its facts: those are stored and dropped) */
  results: Map<string, HostSummary>;
  sapi: Set<string>;
  invalid: (InvalidRow & { file?: string })[];
  deadlineHit: boolean;
  interrupted?: Interruption;
  maxFailPercent: number;
  /** the wall-clock limit, for the Timeout text */
  limitMs: number;
  /** what the run cost this process, all threads included: capacity planning from the JSON alone */
  usage?: { peakRssMb: number; cpuSeconds: number };
  /** run-wide warnings (weakened host-key checking, ...), each once */
  warnings?: readonly string[];
}

export const SUCCESS_OUTCOMES: ReadonlySet<Outcome> = new Set<Outcome>(['ok', 'partial']);

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

export function exitCodeFor(input: { deadlineHit: boolean; interrupted?: Interruption; failed: number; succeeded: number; maxFailPercent: number }): number {
  if (input.interrupted) return input.interrupted.exitCode;
  if (input.deadlineHit) return 2;
  const attempted = input.failed + input.succeeded;
  if (attempted === 0) return 0;
  // Total failure is never a green run, whatever max_fail_percent says (the old scheduler's exit 0).
  if (input.succeeded === 0) return 1;
  return (input.failed / attempted) * 100 > input.maxFailPercent ? 1 : 0;
}

export function buildStatus(input: StatusInput): Record<string, unknown> {
  const success: string[] = [];
  const fail: string[] = [];
  const failProd: string[] = [];
  const sapi: string[] = [];
  const notStarted: string[] = [];
  // Null prototype: an inventory host named `__proto__` is a key like any other, not the prototype.
  const failures: Record<string, { outcome: Outcome; code: string; message: string }> = Object.create(null);
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const h of input.hosts) {
    if (input.sapi.has(h.label)) { sapi.push(h.label); continue; }
    const r = input.results.get(h.label);
    if (!r) { notStarted.push(h.label); continue; }
    outcomes[r.outcome] += 1;
    if (SUCCESS_OUTCOMES.has(r.outcome)) { success.push(h.label); continue; }
    fail.push(h.label);
    if (h.isProd) failProd.push(h.label);
    failures[h.label] = { outcome: r.outcome, code: r.code ?? 'ERROR', message: r.message ?? r.outcome };
  }
  const jobMs = input.finishedAt.getTime() - input.startedAt.getTime();
  const exitCode = exitCodeFor({ deadlineHit: input.deadlineHit, ...(input.interrupted ? { interrupted: input.interrupted } : {}), failed: fail.length, succeeded: success.length, maxFailPercent: input.maxFailPercent });
  const json: Record<string, unknown> = {
    global_fail_hosts: fail.length,
    global_fail_hosts_list: fail,
    global_fail_prod: failProd.length,
    global_fail_prod_list: failProd,
    global_success_hosts: success.length,
    global_success_hosts_list: success,
    sapi_hosts: sapi.length,
    sapi_hosts_list: sapi,
    not_started_hosts: notStarted.length,
    not_started_hosts_list: notStarted,
    failures,
    outcomes,
    invalid_rows: input.invalid,
    jobtime: seconds(jobMs),
    threads: input.threads,
    workers: input.workers,
    mode: input.mode,
    run_id: input.runId,
    started_at: input.startedAt.toISOString(),
    finished_at: input.finishedAt.toISOString(),
    exit_code: exitCode,
    version: input.version,
    warnings: [...(input.warnings ?? [])],
    ...(input.usage ? { peak_rss_mb: input.usage.peakRssMb, cpu_seconds: input.usage.cpuSeconds } : {}),
  };
  if (input.deadlineHit) {
    json.Timeout = `Timeout reached at ${(input.limitMs / 1000).toFixed(1)} seconds with ${notStarted.length} items left on the queue.`;
  }
  if (input.interrupted) json.Interrupted = `${input.interrupted.reason} at ${seconds(jobMs).toFixed(1)} seconds`;
  return json;
}

const sortKeys = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    // A flat object already in key order (a change-feed row, of which there can be millions) is
    // printed as it is, without a sorted copy.
    const keys = Object.keys(v);
    let ordered = true;
    for (let i = 0; ordered && i < keys.length; i++) {
      const x = (v as Record<string, unknown>)[keys[i]!];
      ordered = (i === 0 || keys[i - 1]! < keys[i]!) && (x === null || typeof x !== 'object');
    }
    if (ordered) return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
};

/** Sorted keys at every level (lists keep their order), pretty or on one line. */
export function renderJson(value: unknown, compact = false): string {
  return JSON.stringify(sortKeys(value), null, compact ? undefined : 2);
}

/**
 * renderJson's very text of `{[key]: [rows...], ...rest}`, with the rows coming in batches as they
 * are read (a month of the change feed is never held) and `rest` asked for after the last one (a
 * count known only then). `key` must sort before every key of `rest`, as renderJson orders them.
 * `flat`: every row is flat with its keys in sorted order (JSON.stringify's text is renderJson's).
 */
export async function* renderJsonStreamed(key: string, batches: AsyncIterable<readonly unknown[]>, rest: () => Record<string, unknown>, compact = false, flat = false): AsyncGenerator<string> {
  const one = flat ? (r: unknown, c: boolean) => JSON.stringify(r, null, c ? undefined : 2) : renderJson;
  yield compact ? `{${JSON.stringify(key)}:[` : `{\n  ${JSON.stringify(key)}: [`;
  let n = 0;
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    const parts: string[] = [];
    for (const r of batch) parts.push(compact ? one(r, true) : `\n    ${one(r, false).replace(/\n/g, '\n    ')}`);
    yield (n ? ',' : '') + parts.join(',');
    n += batch.length;
  }
  const tail = renderJson(rest(), compact);
  if (compact) yield `]${tail === '{}' ? '}' : `,${tail.slice(1)}`}`;
  else yield `${n ? '\n  ' : ''}]${tail === '{}' ? '\n}' : `,\n${tail.slice(2)}`}`;
}

/** Lists longer than this are written element by element by renderJsonChunks. */
const STREAMED_LIST = 256;

/**
 * renderJson's very text, in pieces: a list of millions of rows (a month of the change feed) is
 * never one string (V8 caps a string at 512 MB) and can be written as it is made.
 */
export function* renderJsonChunks(value: unknown, compact = false, indent = ''): Generator<string> {
  const inner = compact ? '' : `${indent}  `;
  const nl = compact ? '' : '\n';
  if (Array.isArray(value) && value.length > STREAMED_LIST) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      yield `${nl}${inner}`;
      yield* renderJsonChunks(value[i] ?? null, compact, inner);
      if (i < value.length - 1) yield ',';
    }
    yield `${nl}${indent}]`;
  } else if (value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).some((v) => Array.isArray(v) && v.length > STREAMED_LIST)) {
    const keys = Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    yield '{';
    for (const [i, k] of keys.entries()) {
      yield `${nl}${inner}${JSON.stringify(k)}:${compact ? '' : ' '}`;
      yield* renderJsonChunks((value as Record<string, unknown>)[k], compact, inner);
      if (i < keys.length - 1) yield ',';
    }
    yield `${nl}${indent}}`;
  } else {
    const text = renderJson(value, compact);
    yield compact || indent === '' ? text : text.replace(/\n/g, `\n${indent}`);
  }
}
