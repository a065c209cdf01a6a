// The collection run (SPEC §1, §4, §5), shared by `run` and `gap-fix`: everything here lives in
// the main thread — lock, inventory, freshness queries, order, deadline, the single database
// writer and the final JSON. Threads only do SSH and parsing. This file is the order of things;
// the plan (run-plan.ts), the writer (result-writer.ts) and the outputs (run-outputs.ts) are
// their own modules.
import os from 'node:os';
import type { Config } from '../config/load.js';
import type { InventoryHost } from '../inventory/host.js';
import type { HeldLock } from '../lock/run-lock.js';
import { acquireSiteLock } from '../lock/site-lock.js';
import { dispatch, type Dispatch } from '../pool/dispatch.js';
import { HostPool } from '../pool/host-pool.js';
import { DEADLINE_MESSAGE, type HostResult } from '../core/results.js';
import { SUCCESS_OUTCOMES, type HostSummary, type Interruption } from '../report/status-json.js';
import { isDatabaseFile } from '../store/database.js';
import { openAnyStore } from '../store/store.js';
import type { Awaitable, Store } from '../store/store.js';
import { releaseEarlySignals, signalExitCode } from './early-signals.js';
import { StorageError } from '../core/errors.js';
import type { Log } from './log.js';
import { appendKnownHosts } from './ssh-settings.js';
import { FLUSH_EVERY_MS, ResultWriter } from './result-writer.js';
import { runOutcome, runStatus, writeRunFiles, type RunOutcome } from './run-outputs.js';
import { hostTask, planRun, queueHosts, siteKeys, type RunPlan } from './run-plan.js';
import { trustWarnings } from './trust-warnings.js';
import { Warnings } from './warnings.js';

export type { RunOutcome } from './run-outputs.js';

/** After the deadline, threads abort their own hosts at once; this is how long we wait for their reports. */
const DEADLINE_GRACE_MS = 2_000;
/**
 * Results waiting for the writer beyond this many bytes (resultBytes) stop new hosts from
 * starting until it catches up: a writer slower than the collectors (PostgreSQL on a first run)
 * would otherwise keep every finished host's facts in memory (~50 KB a host, up to max_facts
 * facts a collection from a host that answers that many).
 */
const MAX_UNWRITTEN_BYTES = 64 * 1024 * 1024;
/**
 * The writer waits this long for another writer per attempt. Short, because the wait blocks the
 * main thread (deadline timer, lock refresh); the other writer's batches are short too.
 */
const WRITER_BUSY_MS = 1_000;
/**
 * After the lock was lost (a PostgreSQL lock connection that stopped answering is the usual
 * cause, and the store's connection to that server is then as silent), the last batch and the run
 * summary get this long in all: the run ends with its JSON instead of waiting out one statement
 * timeout after another. A database that still answers (a lock file someone deleted) writes
 * within it.
 */
const LOST_LOCK_WRITE_BUDGET_MS = 10_000;

export interface RunRequest {
  mode: 'run' | 'gap-fix';
  config: Config;
  inventoryFile: string;
  log: Log;
  /** gap-fix: which of the inventory's hosts to collect (given the store); run: all */
  select?: (hosts: InventoryHost[], store: Store) => Awaitable<InventoryHost[]>;
  /** `--limit`: shell globs on the inventory's hostnames; only the hosts matching one are collected */
  limit?: string[];
  /** the lock file to take (the run lock, or gap-fix's own); a site collector on SQLite takes one per scope beside it */
  lockFile: string;
  threads: number;
  limitMs: number;
}

function hostLine(r: HostResult, done: number, total: number): string {
  const secs = ((r.finishedAt - r.startedAt) / 1000).toFixed(1);
  const detail = r.code ? ` ${r.code}${r.message ? `: ${r.message}` : ''}` : '';
  return `[${done}/${total}] ${r.label} ${r.outcome} ${secs}s${detail}`;
}

/**
 * What stops the feeder early (a signal, the lock lost, the database failed; the first reason is
 * the one reported) and what resumes it after the writer's back-pressure. Both exist before the
 * feeder does: a signal may come while the lock is taken.
 */
class FeedControl {
  interrupted: Interruption | undefined;
  private feeder: Dispatch | undefined;

  readonly interrupt = (i: Interruption): void => {
    if (this.interrupted) return;
    this.interrupted = i;
    this.feeder?.interrupt();
  };

  readonly resume = (): void => { this.feeder?.resume(); };

  attach(feeder: Dispatch): void {
    this.feeder = feeder;
    if (this.interrupted) feeder.interrupt();
  }
}

/**
 * The run lock, taken after the plan and before any store work. On a database server the lock
 * lives in the shared database: it is opened first (this also migrates it), then every covered
 * site's advisory lock is taken on a connection of its own, and the open store is handed on.
 * Beside a database file: the lock file of this collector's scope.
 */
async function takeRunLock(req: RunRequest, plan: RunPlan, onLost: (where: string) => (err: Error) => void): Promise<{ lock: HeldLock; store?: Store }> {
  const database = req.config.storage.database;
  const { covered } = plan.targets;
  if (isDatabaseFile(database)) return { lock: await acquireSiteLock(req.lockFile, req.mode, covered, onLost) };
  const store = await openAnyStore(database);
  try {
    // pg (~100 ms of CPU to load) only for a database server.
    const { acquirePgLock } = await import('../lock/pg-lock.js');
    const lock = await acquirePgLock({
      url: database, mode: req.mode, sites: siteKeys(plan.targets), scope: plan.scope ?? 'all sites',
      ...(covered.shard ? { shard: covered.shard } : {}), onLost: onLost(store.path),
    });
    return { lock, store };
  } catch (e) {
    await store.close();
    throw e;
  }
}

interface Collecting {
  plan: RunPlan;
  queue: InventoryHost[];
  startedAt: number;
  deadlineAt: number;
  pool: HostPool;
  writer: ResultWriter;
  control: FeedControl;
  log: Log;
}

/** Feed the queue to the pool until it is done, the deadline or an interruption; every host ends with one summary. */
async function collectQueue(c: Collecting): Promise<{ results: Map<string, HostSummary>; deadlineHit: boolean }> {
  const { plan, log, control } = c;
  // Only the summary stays for the JSON: a host's facts (~50 KB) leave memory once written.
  const results = new Map<string, HostSummary>();
  const progress = { done: 0, total: c.queue.length, ok: 0, failed: 0, inFlight: 0, startedAt: c.startedAt };
  let inFlightCount = () => 0;
  const accept = (r: HostResult) => {
    results.set(r.label, { outcome: r.outcome, ...(r.code ? { code: r.code } : {}), ...(r.message ? { message: r.message } : {}) });
    progress.done += 1;
    if (SUCCESS_OUTCOMES.has(r.outcome)) progress.ok += 1; else progress.failed += 1;
    progress.inFlight = inFlightCount();
    log.verbose(hostLine(r, progress.done, progress.total));
    log.progress(progress);
    c.writer.add(r);
  };

  log.startProgress();
  const feeder = dispatch<InventoryHost, HostResult>({
    items: c.queue,
    key: (h) => h.label,
    threads: plan.threads,
    deadlineAt: c.deadlineAt,
    graceMs: DEADLINE_GRACE_MS,
    run: (h) => c.pool.run(hostTask(plan, h, c.deadlineAt)),
    onResult: (r, h) => accept({ ...r, label: h.label }),
    writeOff: (h, reason) => {
      const now = Date.now();
      const message = reason === 'DEADLINE' ? DEADLINE_MESSAGE : `run stopped: ${control.interrupted?.reason ?? 'interrupted'}`;
      return { label: h.label, outcome: 'timeout', code: reason, message, startedAt: now, finishedAt: now, collections: [], outputBytes: 0 };
    },
    hold: () => c.writer.unwrittenBytes > MAX_UNWRITTEN_BYTES,
    onDeadline: (notStarted, flying) => log.warn(`threadtimeout reached: ${notStarted} hosts not started, ${flying} in flight are being stopped`),
  });
  inFlightCount = feeder.inFlight;
  control.attach(feeder);
  const end = await feeder.done;
  // A host's own timer stops it at the deadline too, and may report before the feeder's timer
  // fires: a host stopped by the deadline means the deadline hit.
  const deadlineHit = end.deadlineHit || [...results.values()].some((r) => r.code === 'DEADLINE');
  if (deadlineHit && !end.deadlineHit) log.warn('threadtimeout reached: the last hosts in flight were stopped');
  log.stopProgress();
  return { results, deadlineHit };
}

/**
 * The final writes (the last batch, the run summary). After a lost lock each is bounded, and on
 * time out the database counts as failed; otherwise the write simply runs.
 */
async function finalWrite(lockLost: boolean, writer: ResultWriter, db: Store, log: Log, what: string, write: () => Promise<void>): Promise<void> {
  if (!lockLost) return write();
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), LOST_LOCK_WRITE_BUDGET_MS); });
  const done = write().then(() => 'done' as const);
  const end = await Promise.race([done, gaveUp]).finally(() => clearTimeout(timer));
  if (end === 'late') {
    done.catch(() => { /* the store is closed below; its late error is the one already reported */ });
    writer.failure ??= new StorageError(`${db.path}: no answer within ${LOST_LOCK_WRITE_BUDGET_MS / 1000} s after the lock was lost (${what})`);
    log.error(writer.failure.message);
  }
}

export async function collectRun(req: RunRequest): Promise<RunOutcome> {
  const { config, log } = req;
  const startedAt = new Date();
  const deadlineAt = startedAt.getTime() + req.limitMs;
  // Run-wide warnings: on stderr once each, and in the JSON's `warnings`.
  const warnings = new Warnings((m) => log.warn(m));
  for (const w of config.warnings) warnings.add(w);
  for (const w of trustWarnings(config, req.lockFile)) warnings.add(w);
  const plan = planRun({ config, inventoryFile: req.inventoryFile, threads: req.threads, log, ...(req.limit ? { limit: req.limit } : {}) }, warnings);

  const control = new FeedControl();
  const onLockLost = (where: string) => (err: Error) => {
    log.error(`${where}: the lock was lost mid-run (${err.message}); stopping`);
    control.interrupt({ reason: 'run lock lost', exitCode: 75 });
  };
  const held = await takeRunLock(req, plan, onLockLost);
  const { lock } = held;
  let store = held.store;
  let pool: HostPool | undefined;
  /** the periodic flush: cleared in `finally` too, so a pool or dispatch that throws leaves no timer keeping the process alive */
  let flushTimer: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals) => control.interrupt({ reason: sig, exitCode: signalExitCode(sig) });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A signal that came while the program loaded or the lock was taken: stop at once, with the JSON.
  const early = releaseEarlySignals();
  if (early) onSignal(early);
  try {
    // The worker threads boot (their own V8, piscina, ssh2) while this thread opens the store.
    pool = new HostPool(plan.workers, plan.threads);
    store ??= await openAnyStore(config.storage.database, { busyTimeoutMs: WRITER_BUSY_MS });
    const db: Store = store;
    const runId = await db.beginRun({ mode: req.mode, startedAt, pid: process.pid, hostname: os.hostname(), threads: req.threads, workers: plan.workers, ...(plan.scope ? { scope: plan.scope } : {}) });
    await lock.setRunId?.(runId);
    await db.upsertHosts(plan.targets.scoped);
    const queue = await queueHosts(plan, db, { config, now: startedAt.getTime(), ...(req.select ? { select: req.select } : {}) });

    const writer = new ResultWriter({
      store: db, runId, log,
      onLearnedKeys: (keys) => appendKnownHosts(keys, warnings.add),
      onFailure: () => control.interrupt({ reason: 'storage error', exitCode: 74 }),
      onWritten: control.resume,
    });
    flushTimer = setInterval(() => { void writer.flush(); }, FLUSH_EVERY_MS);
    const { results, deadlineHit } = await collectQueue({ plan, queue: queue.queue, startedAt: startedAt.getTime(), deadlineAt, pool, writer, control, log });
    clearInterval(flushTimer);
    // Whether the lock was lost by the end of the feed: it bounds both final writes below.
    const lockLost = control.interrupted?.reason === 'run lock lost';
    await finalWrite(lockLost, writer, db, log, 'the last results', () => writer.flush());

    const finishedAt = new Date();
    const json = runStatus({
      mode: req.mode, runId, config, startedAt, finishedAt, threads: req.threads, limitMs: req.limitMs,
      plan, queue, results, deadlineHit, interrupted: control.interrupted, warnings,
    });
    try {
      if (!writer.failure) await finalWrite(lockLost, writer, db, log, 'the run summary', async () => { await db.finishRun(runId, finishedAt, json.exit_code as number, JSON.stringify(json)); });
    } catch (e) {
      log.error(`${config.storage.database}: cannot record the run summary: ${(e as Error).message}`);
      writer.failure = new StorageError((e as Error).message);
    }
    const outcome = runOutcome(json, writer.failure !== undefined);
    writeRunFiles(config, json, req.mode, req.limit, log);
    return outcome;
  } finally {
    clearInterval(flushTimer);
    log.stopProgress();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool?.destroy();
    try { await store?.close(); } catch { /* closing a broken database must not hide the real error */ }
    await lock.release();
  }
}
