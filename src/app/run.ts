// The collection run (SPEC §1, §4, §5), shared by `run` and `gap-fix`: everything here lives in
// the main thread — lock, inventory, freshness queries, order, deadline, the single database
// writer and the final JSON. Threads only do SSH and parsing.
import fs from 'node:fs';
import os from 'node:os';
import { loadCollections } from '../collections/load.js';
import type { CollectionDef } from '../collections/types.js';
import type { Config } from '../config/load.js';
import { readInventory } from '../inventory/csv.js';
import type { InventoryHost } from '../inventory/host.js';
import { orderHosts } from '../inventory/order.js';
import { coverageLabel, normalizeSite, type SiteCoverage } from '../inventory/sites.js';
import { acquirePgLock } from '../lock/pg-lock.js';
import type { HeldLock } from '../lock/run-lock.js';
import { acquireSiteLock } from '../lock/site-lock.js';
import { dispatch } from '../pool/dispatch.js';
import { HostPool, resolveWorkers } from '../pool/host-pool.js';
import type { HostResult, HostTask, SshSettings } from '../pool/messages.js';
import { renderMetrics } from '../report/metrics.js';
import { buildStatus, renderJson, SUCCESS_OUTCOMES, type HostSummary, type Interruption } from '../report/status-json.js';
import { isDatabaseFile } from '../store/database.js';
import { openAnyStore } from '../store/store.js';
import type { Awaitable, Store } from '../store/store.js';
import { releaseEarlySignals, signalExitCode } from './early-signals.js';
import { InventoryError, StorageError } from './errors.js';
import { clampThreads, openFileLimit } from './limits.js';
import type { Log } from './log.js';
import { HostSshResolver } from './host-ssh.js';
import { appendKnownHosts, buildSshSettings } from './ssh-settings.js';
import { FLUSH_EVERY_MS, ResultWriter } from './result-writer.js';
import { writeFileAtomically } from './safe-files.js';
import { selectTargets, targetsJson } from './targets.js';
import { trustWarnings } from './trust-warnings.js';
import { VERSION } from './version.js';
import { Warnings } from './warnings.js';

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

export interface RunOutcome {
  json: Record<string, unknown>;
  exitCode: number;
}

/** Rewrite the textfile-collector file, keeping the other mode's series. */
function writeMetrics(file: string, json: Record<string, unknown>, mode: string, log: Log): void {
  try {
    let previous = '';
    try { previous = fs.readFileSync(file, 'utf8'); } catch { /* first run */ }
    writeFileAtomically(file, renderMetrics({
      mode,
      outcomes: json.outcomes as Record<string, number>,
      notStarted: json.not_started_hosts as number,
      sapi: json.sapi_hosts as number,
      failedProd: json.global_fail_prod as number,
      invalidRows: (json.invalid_rows as unknown[]).length,
      durationSeconds: json.jobtime as number,
      deadlineHit: 'Timeout' in json,
      exitCode: json.exit_code as number,
      finishedAt: new Date(json.finished_at as string),
    }, previous), 0o644); // node_exporter reads it as another user; it holds no secret
  } catch (e) {
    log.error(`${file}: cannot write the metrics file: ${(e as Error).message}`);
  }
}

function hostLine(r: HostResult, done: number, total: number): string {
  const secs = ((r.finishedAt - r.startedAt) / 1000).toFixed(1);
  const detail = r.code ? ` ${r.code}${r.message ? `: ${r.message}` : ''}` : '';
  return `[${done}/${total}] ${r.label} ${r.outcome} ${secs}s${detail}`;
}

function processUsage(): { peakRssMb: number; cpuSeconds: number } {
  const u = process.resourceUsage();
  return { peakRssMb: Math.round(u.maxRSS / 1024), cpuSeconds: Math.round((u.userCPUTime + u.systemCPUTime) / 1e5) / 10 };
}

/** The site keys a PostgreSQL collector locks: the sites it was given, else every pop among its hosts. */
function siteKeys(covered: SiteCoverage, hosts: InventoryHost[]): string[] {
  if (covered.sites !== 'all') return covered.sites;
  return [...new Set(hosts.map((h) => normalizeSite(h.pop)))];
}

export async function collectRun(req: RunRequest): Promise<RunOutcome> {
  const { config, log } = req;
  const startedAt = new Date();
  const deadlineAt = startedAt.getTime() + req.limitMs;
  // Run-wide warnings: on stderr once each, and in the JSON's `warnings`.
  const warnings = new Warnings((m) => log.warn(m));
  for (const w of config.warnings) warnings.add(w);
  for (const w of trustWarnings(config, req.lockFile)) warnings.add(w);

  const collections: CollectionDef[] = loadCollections(config.collector.collconfig).filter((c) => c.enabled);
  const inventory = readInventory(req.inventoryFile, { prodStatuses: config.collector.prodStatuses });
  for (const bad of inventory.invalid) log.warn(`${inventory.file}:${bad.line}: ${bad.reason} (row skipped)`);
  // A site collector covers its sites (and shard) of the inventory; the rest is another collector's.
  // --limit narrows that to some hosts; a pattern that matches none is a typo, refused before any lock.
  const selection = selectTargets(inventory, config, req.limit);
  const { scoped, covered, scopedRun, hosts: targets } = selection;
  for (const s of covered.unknownSites) warnings.add(`${inventory.file}: site ${JSON.stringify(s)} matches no inventory row (pop column)`);
  if (scopedRun && scoped.length === 0) throw new InventoryError(`${inventory.file}: no valid row is in ${coverageLabel(covered)}`);
  // A limited run is a scope of its own in `status` (one entry, whatever the patterns: its JSON
  // names them), so it never stands for the last full run.
  const scope = [scopedRun ? coverageLabel(covered) : undefined, req.limit?.length ? 'limit' : undefined].filter(Boolean).join(', ') || undefined;
  const ssh: SshSettings = buildSshSettings(config, warnings.add);
  const resolver = new HostSshResolver(config, ssh, warnings.add);
  // Every host's SSH settings before the lock is taken: a config error (an unreadable known_hosts,
  // a bad ProxyJump) stops the run here with exit 78, not in the middle of it.
  const hostSsh = new Map(targets.map((h) => [h.label, resolver.resolve(h)]));

  const fdLimit = openFileLimit();
  const wantedWorkers = resolveWorkers(config.collector.workers);
  const threads = clampThreads(req.threads, fdLimit, wantedWorkers);
  if (threads < req.threads) warnings.add(`threads = ${req.threads} does not fit the open-file limit (ulimit -n ${fdLimit}): using ${threads}`);
  const workers = Math.min(wantedWorkers, threads);

  let interrupted: Interruption | undefined;
  let stopFeeding: (() => void) | undefined;
  const interrupt = (i: Interruption) => {
    if (interrupted) return;
    interrupted = i;
    stopFeeding?.();
  };

  const onLockLost = (where: string) => (err: Error) => {
    log.error(`${where}: the lock was lost mid-run (${err.message}); stopping`);
    interrupt({ reason: 'run lock lost', exitCode: 75 });
  };
  const database = config.storage.database;
  let store: Store | undefined;
  let lock: HeldLock;
  if (!isDatabaseFile(database)) {
    // The lock lives in the shared database: open it first (this also migrates it), then take
    // every covered site's advisory lock on a connection of its own.
    store = await openAnyStore(database);
    try {
      lock = await acquirePgLock({
        url: database, mode: req.mode, sites: siteKeys(covered, scoped), scope: scope ?? 'all sites',
        ...(covered.shard ? { shard: covered.shard } : {}), onLost: onLockLost(store.path),
      });
    } catch (e) {
      await store.close();
      throw e;
    }
  } else {
    lock = await acquireSiteLock(req.lockFile, req.mode, covered, onLockLost);
  }
  let pool: HostPool | undefined;
  const onSignal = (sig: NodeJS.Signals) => interrupt({ reason: sig, exitCode: signalExitCode(sig) });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A signal that came while the program loaded or the lock was taken: stop at once, with the JSON.
  const early = releaseEarlySignals();
  if (early) onSignal(early);
  try {
    store ??= await openAnyStore(database, { busyTimeoutMs: WRITER_BUSY_MS });
    const db: Store = store;
    const runId = await db.beginRun({ mode: req.mode, startedAt, pid: process.pid, hostname: os.hostname(), threads: req.threads, workers, ...(scope ? { scope } : {}) });
    await lock.setRunId?.(runId);
    await db.upsertHosts(scoped);
    const mine = req.select ? await req.select(targets, db) : targets;
    // sapicheck: one query for the whole run, before dispatch. A pusher without an SSH attempt
    // within [sapi] verify_every is collected all the same: no agent vouches for its host forever.
    const sapi = await db.sapiHostsSince(startedAt.getTime() - config.sapi.maxAgeMs, startedAt.getTime() - config.sapi.verifyEveryMs);
    const ordered = orderHosts(mine, config.collector.order, await db.lastSuccessByHost());
    const queue = ordered.filter((h) => !sapi.has(h.label));

    // Only the summary stays for the JSON: a host's facts (~50 KB) leave memory once written.
    const results = new Map<string, HostSummary>();
    let resumeFeeder = () => {};
    const writer = new ResultWriter({
      store: db, runId, log,
      onLearnedKeys: (keys) => appendKnownHosts(keys, warnings.add),
      onFailure: () => interrupt({ reason: 'storage error', exitCode: 74 }),
      onWritten: () => resumeFeeder(),
    });
    const flush = () => writer.flush();
    const flushTimer = setInterval(() => { void flush(); }, FLUSH_EVERY_MS);

    const hostTask = (h: InventoryHost): HostTask => {
      const r = hostSsh.get(h.label) ?? resolver.resolve(h);
      return {
        name: h.host, label: h.label, host: r.host, port: r.port, collections, ssh: r.ssh, deadlineAt,
        ...(r.hostKeyAlias ? { hostKeyAlias: r.hostKeyAlias } : {}),
        ...(r.jump ? { jump: r.jump } : {}),
        ...(r.proxyCommand ? { proxyCommand: r.proxyCommand } : {}),
      };
    };
    const progress = { done: 0, total: queue.length, ok: 0, failed: 0, inFlight: 0, startedAt: startedAt.getTime() };
    let inFlightCount = () => 0;
    const accept = (r: HostResult) => {
      results.set(r.label, { outcome: r.outcome, ...(r.code ? { code: r.code } : {}), ...(r.message ? { message: r.message } : {}) });
      progress.done += 1;
      if (SUCCESS_OUTCOMES.has(r.outcome)) progress.ok += 1; else progress.failed += 1;
      progress.inFlight = inFlightCount();
      log.verbose(hostLine(r, progress.done, progress.total));
      log.progress(progress);
      writer.add(r);
    };

    pool = new HostPool(workers, threads);
    const activePool = pool;
    log.startProgress();
    const feeder = dispatch<InventoryHost, HostResult>({
      items: queue,
      key: (h) => h.label,
      threads,
      deadlineAt,
      graceMs: DEADLINE_GRACE_MS,
      run: (h) => activePool.run(hostTask(h)),
      onResult: (r, h) => accept({ ...r, label: h.label }),
      writeOff: (h, reason) => {
        const now = Date.now();
        const message = reason === 'DEADLINE' ? 'stopped at the run deadline (threadtimeout)' : `run stopped: ${interrupted?.reason ?? 'interrupted'}`;
        return { label: h.label, outcome: 'timeout', code: reason, message, startedAt: now, finishedAt: now, collections: [], outputBytes: 0 };
      },
      hold: () => writer.unwrittenBytes > MAX_UNWRITTEN_BYTES,
      onDeadline: (notStarted, flying) => log.warn(`threadtimeout reached: ${notStarted} hosts not started, ${flying} in flight are being stopped`),
    });
    inFlightCount = feeder.inFlight;
    resumeFeeder = () => feeder.resume();
    stopFeeding = () => feeder.interrupt();
    if (interrupted) feeder.interrupt();
    const end = await feeder.done;
    // A host's own timer stops it at the deadline too, and may report before the feeder's timer
    // fires: a host stopped by the deadline means the deadline hit.
    const deadlineHit = end.deadlineHit || [...results.values()].some((r) => r.code === 'DEADLINE');
    if (deadlineHit && !end.deadlineHit) log.warn('threadtimeout reached: the last hosts in flight were stopped');
    log.stopProgress();
    clearInterval(flushTimer);
    const lockLost = interrupted?.reason === 'run lock lost';
    /** The final writes, bounded after a lost lock; on time out the database counts as failed. */
    const finalWrite = async (what: string, write: () => Promise<void>): Promise<void> => {
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
    };
    await finalWrite('the last results', flush);

    const finishedAt = new Date();
    const json = buildStatus({
      mode: req.mode, runId, version: VERSION, startedAt, finishedAt, threads: req.threads, workers,
      hosts: mine, results, sapi, invalid: inventory.invalid.map((r) => ({ ...r, file: inventory.file })),
      deadlineHit: deadlineHit && !interrupted, ...(interrupted ? { interrupted } : {}),
      maxFailPercent: config.results.maxFailPercent, limitMs: req.limitMs,
      usage: processUsage(), warnings: warnings.list(),
    });
    // What this collector covered: every output names its sites (and shard); the inventory's other
    // hosts are counted, not listed, as another collector's.
    Object.assign(json, targetsJson(selection, true));
    if (scopedRun) json.other_site_hosts = inventory.hosts.length - scoped.length;
    let exitCode = json.exit_code as number;
    try {
      if (!writer.failure) await finalWrite('the run summary', async () => { await db.finishRun(runId, finishedAt, exitCode, JSON.stringify(json)); });
    } catch (e) {
      log.error(`${config.storage.database}: cannot record the run summary: ${(e as Error).message}`);
      writer.failure = new StorageError((e as Error).message);
    }
    if (writer.failure && exitCode !== 74) { exitCode = 74; json.exit_code = 74; }
    if (config.results.outputJsonFile) {
      try {
        writeFileAtomically(config.results.resultJson, renderJson(json) + "\n");
      } catch (e) {
        log.error(`${config.results.resultJson}: cannot write the result JSON: ${(e as Error).message}`);
      }
    }
    // The metrics file has no word for a limited run: its counts of a few hosts would read as the
    // fleet's (an alert on "fewer than N hosts ok"). The JSON says `limit`; the metrics stay.
    if (config.results.metricsFile && !req.limit?.length) writeMetrics(config.results.metricsFile, json, req.mode, log);
    return { json, exitCode };
  } finally {
    log.stopProgress();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool?.destroy();
    try { await store?.close(); } catch { /* closing a broken database must not hide the real error */ }
    await lock.release();
  }
}
