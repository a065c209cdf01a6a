// `jellyfish analyze` (SPEC §10): every audit on every fresh host, in memory. Only what may have
// changed since the last analyze is evaluated again (hosts whose facts changed, audits whose
// definition changed); the other current results are kept and counted. The current facts of only
// the (type, subtype) pairs the audits read are read once; each distinct filter is evaluated once
// per host and shared by the audits that use it; only results that changed are written (a steady
// fleet writes one row per host and per audit), in one transaction with the collated counts of
// this run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { LockHeldError } from '../core/errors.js';
import type { Log } from '../app/log.js';
import { writeFileAtomically } from '../app/safe-files.js';
import { VERSION } from '../app/version.js';
import type { Config } from '../config/load.js';
import { analyzeLockFile, modeLockFiles } from '../lock/lock-files.js';
import { acquireLock, lockState, type HeldLock } from '../lock/run-lock.js';
import { renderAnalyzeMetrics } from '../report/metrics.js';
import type { AnalysisHost, AnalysisWrite, ResultCount } from '../store/audit-store.js';
import { isDatabaseFile } from '../store/database.js';
import { openAnyStore, runLockConnection, type Store } from '../store/store.js';
import { conditionKey } from './compile.js';
import { comparisonResult, factsNeeded, filterHolds, type CheckMemo } from './evaluate.js';
import { FleetFacts } from './fleet-facts.js';
import { loadAudits } from './load.js';
import type { Audit, AuditProblem, AuditResult, Condition } from './types.js';

export interface AnalyzeRequest {
  config: Config;
  /** -a folders; default [analyze] audits */
  auditDirs?: string[];
  log: Log;
  /** the clock (tests) */
  now?: () => number;
  /** evaluate every audit on every fresh host, not only what changed since the last analyze */
  full?: boolean;
}

export interface AnalyzeSummary {
  audits: number;
  audit_files: number;
  hosts_evaluated: number;
  /** fresh hosts every audit was evaluated on again (the others changed nothing the audits read) */
  hosts_reevaluated: number;
  /** audits evaluated again on every fresh host (new, edited, or not analyzed last time) */
  audits_reevaluated: number;
  pass: number;
  fail: number;
  exempt: number;
  stale: number;
  errors: AuditProblem[];
  warnings: AuditProblem[];
  jobtime: number;
  /** seconds spent reading audit files, reading the database, evaluating, writing */
  phases: { load: number; read: number; evaluate: number; write: number };
  run_id: number;
  started_at: string;
  finished_at: string;
  exit_code: number;
  version: string;
}

/** Why a run lock is held, or undefined: analyze never reads while a collection writes. */
async function runLockHolder(config: Config, store?: Store): Promise<Record<string, unknown> | undefined> {
  // A database server holds the run locks itself; a database file's are files beside it.
  const connection = store && runLockConnection(store);
  if (connection) {
    const { activePgHolders } = await import('../lock/pg-lock.js');
    const held = (await activePgHolders(connection)).find((h) => h.mode === 'run');
    return held ? { ...held, lockfile: store.path } : undefined;
  }
  for (const { file } of modeLockFiles(config.lockfile)) {
    const st = lockState(file);
    if (st.held && (st.holder?.mode ?? 'run') === 'run') return { ...(st.holder ?? {}), lockfile: file };
  }
  return undefined;
}

function refuse(holder: Record<string, unknown>): never {
  throw new LockHeldError(`${String(holder.lockfile)}: a run is collecting (pid ${String(holder.pid ?? '?')} on ${String(holder.hostname ?? '?')} since ${String(holder.started_at ?? '?')}); analyze waits for the next time`, holder);
}

export async function analyze(req: AnalyzeRequest): Promise<AnalyzeSummary> {
  const { config, log } = req;
  const clock = req.now ?? Date.now;
  const started = clock();
  const database = config.storage.database;
  // SQLite: the run lock is a file; refuse before opening anything.
  if (isDatabaseFile(database)) {
    const h = await runLockHolder(config);
    if (h) refuse(h);
  }
  const loaded = loadAudits(req.auditDirs?.length ? req.auditDirs : config.analyze.audits, started);
  const loadS = secondsSince(started, clock);
  for (const e of loaded.errors) log.error(`${e.file}${e.line ? `:${e.line}` : ''}: ${e.audit ? `audit ${e.audit}: ` : ''}${e.message} (skipped)`);
  for (const w of loaded.warnings) log.warn(`${w.file}:${w.line}: audit ${w.audit}: ${w.message}`);

  let lost: Error | undefined;
  // A lost lock (deleted, taken over) is reported in the summary; the writes are one transaction anyway.
  const lock: HeldLock = await acquireLock(analyzeLockFile(config), 'analyze', (err) => { lost = err; });
  let store: Store | undefined;
  try {
    store = await openAnyStore(database);
    // Checked again under our lock (and first, for PostgreSQL, whose run locks live in the database).
    const h = await runLockHolder(config, store);
    if (h) refuse(h);
    const runId = await store.beginAnalysis(new Date(started), process.pid, os.hostname());
    const at = new Date(started).toISOString();
    let summary: Analysis;
    try {
      summary = await analyzeWith(store, runId, at, started, config.analyze.maxAgeMs, loaded.audits, log, { full: req.full });
    } catch (e) {
      try {
        await store.finishAnalysis(runId, new Date(clock()).toISOString(), (e as { exitCode?: number }).exitCode ?? 70, JSON.stringify({ error: (e as Error).message }));
      } catch { /* the first error is the one to report */ }
      throw e;
    }
    const errors = [...loaded.errors, ...summary.errors];
    if (lost) errors.push({ file: analyzeLockFile(config), line: 0, message: `the analyze lock was lost: ${lost.message}` });
    const finished = clock();
    const out: AnalyzeSummary = {
      audits: loaded.audits.length,
      audit_files: loaded.files,
      hosts_evaluated: summary.hostsEvaluated,
      hosts_reevaluated: summary.hostsReevaluated,
      audits_reevaluated: summary.auditsReevaluated,
      pass: summary.counts.pass, fail: summary.counts.fail, exempt: summary.counts.exempt,
      stale: summary.stale,
      errors, warnings: loaded.warnings,
      jobtime: Math.round((finished - started) / 100) / 10,
      phases: { load: loadS, read: summary.readS, evaluate: summary.evaluateS, write: 0 },
      run_id: runId, started_at: at, finished_at: new Date(finished).toISOString(),
      exit_code: errors.length ? 1 : 0, version: VERSION,
    };
    const writeStart = clock();
    await summary.commit(out);
    // The printed and stored summary count the write too (one more statement on the run row).
    const done = clock();
    out.phases.write = secondsSince(writeStart, () => done);
    out.jobtime = secondsSince(started, () => done);
    out.finished_at = new Date(done).toISOString();
    await store.finishAnalysis(runId, out.finished_at, out.exit_code, JSON.stringify(out));
    log.verbose(`analyze: ${out.audits} audits on ${out.hosts_evaluated} hosts (every audit again on ${out.hosts_reevaluated}, ${out.audits_reevaluated} audits again on all); load ${loadS} s, read ${out.phases.read} s, evaluate ${out.phases.evaluate} s, write ${out.phases.write} s`);
    if (config.results.metricsFile) {
      const file = config.results.metricsFile;
      let previous = '';
      try { previous = fs.readFileSync(file, 'utf8'); } catch { /* first write */ }
      try {
        writeFileAtomically(file, renderAnalyzeMetrics({ failuresByPriority: summary.failuresByPriority, summary: out, finishedAt: new Date(finished) }, previous));
      } catch (e) {
        log.warn(`${file}: cannot write the metrics file: ${(e as Error).message}`);
      }
    }
    return out;
  } finally {
    await store?.close();
    await lock.release();
  }
}

export interface PriorityFailures { priority: number; audits: number; results: number; prodHosts: number }

const secondsSince = (t: number, clock: () => number) => Math.round((clock() - t) / 100) / 10;

interface Analysis {
  readS: number;
  evaluateS: number;
  hostsEvaluated: number;
  hostsReevaluated: number;
  auditsReevaluated: number;
  stale: number;
  counts: Record<AuditResult, number>;
  errors: AuditProblem[];
  failuresByPriority: PriorityFailures[];
  /** write everything, with the summary of the run */
  commit(summary: AnalyzeSummary): Promise<void>;
}

/** The definition an audit's results depend on (its buckets), and the version that evaluates it. */
export function auditDigest(a: Audit): string {
  const h = crypto.createHash('sha1');
  h.update(JSON.stringify([VERSION, a.buckets.map((b) => [b.name, b.filterKey, conditionKey(b.comparison)])]));
  return h.digest('base64');
}

/**
 * Past this share of hosts or audits to evaluate again, everything is read and evaluated as on a
 * first analyze: reading the facts of a host at a time, and the open results of a host or an audit
 * at a time, costs more then than reading them whole.
 */
const REEVALUATE_ALL_ABOVE = 0.25;

export interface AnalyzeOptions {
  /** evaluate every audit on every fresh host, whatever changed */
  full?: boolean;
}

/**
 * The work between the locks: read, evaluate, diff; `commit` writes. Exported for the benchmark.
 *
 * Only what may have changed since the last analyze is evaluated again: every audit on the hosts
 * with a fact of the types the audits read opened or closed since (or not evaluated then: new,
 * back from stale), and every fresh host on the audits whose definition changed (or that were
 * not analyzed then). Any other current result is what evaluating it again would give (the same
 * facts, the same definition): it is kept, and counted from the database.
 */
export async function analyzeWith(store: Store, runId: number, at: string, nowMs: number, maxAgeMs: number, audits: Audit[], log: Log, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const readStart = Date.now();
  const ids = await store.upsertAudits(audits.map((a) => ({
    name: a.name, vulnName: a.vulnName, file: a.file, line: a.line, priority: a.priority, shortDescription: a.shortDescription,
    longDescription: a.longDescription, primaryLink: a.primaryLink, links: a.links,
  })), at);
  const stored = new Map((await store.storedAudits()).map((a) => [a.id, a]));
  const allHosts = await store.analysisHosts();
  const freshSince = nowMs - maxAgeMs;
  const hosts: AnalysisHost[] = allHosts.filter((h) => h.lastSuccessAt !== null && Date.parse(h.lastSuccessAt) >= freshSince);
  const index = new Map(hosts.map((h, i) => [h.id, i]));
  const want = factsNeeded(audits);
  const digests = new Map(audits.map((a) => [a.name, auditDigest(a)]));

  // How far the facts go, read before them: whatever is written later is past this mark.
  const mark = await store.analysisMark();
  const base = opts.full ? null : await store.analysisBaseline();
  // Per fresh host: 1 when every audit is evaluated on it; per audit id: every fresh host evaluated.
  const dirtyHost = new Uint8Array(hosts.length);
  const dirtyAudits = new Set<number>();
  let everything = base === null || mark.facts < base.mark.facts || mark.changes < base.mark.changes;
  if (!everything) {
    const changed = new Set(await store.changedHostsSince(base!.mark, [...want.pairs.keys(), ...want.wholeTypes]));
    let n = 0;
    hosts.forEach((h, i) => { if (h.auditedAt !== base!.at || changed.has(h.id)) { dirtyHost[i] = 1; n++; } });
    for (const a of audits) {
      const id = ids.get(a.name);
      const s = id === undefined ? undefined : stored.get(id);
      if (id !== undefined && (s?.lastAnalyzed !== base!.at || s?.digest !== digests.get(a.name))) dirtyAudits.add(id);
    }
    everything = n > hosts.length * REEVALUATE_ALL_ABOVE || dirtyAudits.size > audits.length * REEVALUATE_ALL_ABOVE;
  }
  if (everything) {
    dirtyHost.fill(1);
    for (const a of audits) { const id = ids.get(a.name); if (id !== undefined) dirtyAudits.add(id); }
  }
  const dirtyIdx: number[] = [];
  const cleanIds: number[] = [];
  hosts.forEach((h, i) => { if (dirtyHost[i]) dirtyIdx.push(i); else cleanIds.push(h.id); });
  const dirtyIds = dirtyIdx.map((i) => hosts[i]!.id);

  const facts = new FleetFacts(hosts.length, want.wholeTypes);
  const sink = (hostId: number, type: string, subtype: string, value: string) => {
    const i = index.get(hostId);
    if (i !== undefined) facts.set(i, type, subtype, value);
  };
  if (everything) await store.scanFacts(want, sink);
  else {
    if (dirtyAudits.size) await store.scanFacts(factsNeeded(audits.filter((a) => dirtyAudits.has(ids.get(a.name)!))), sink);
    if (dirtyIds.length) await store.scanFacts(want, sink, dirtyIds);
  }

  // Open intervals by audit: per fresh host, 1 + its position in `open` (0: none). Rows of hosts
  // not evaluated now are left alone, so they need no place here.
  const open = everything ? await store.openAuditResults()
    : dirtyIds.length || dirtyAudits.size ? await store.openAuditResults({ hosts: dirtyIds, audits: [...dirtyAudits] })
      : { ids: [], audits: [], hosts: [], results: [] };
  const openByAudit = new Map<number, Int32Array>();
  for (let i = 0; i < open.ids.length; i++) {
    const h = index.get(open.hosts[i]!);
    if (h === undefined) continue;
    let m = openByAudit.get(open.audits[i]!);
    if (!m) { m = new Int32Array(hosts.length); openByAudit.set(open.audits[i]!, m); }
    m[h] = i + 1;
  }
  const none = new Int32Array(hosts.length);
  // The kept results (audits not evaluated again, on hosts not evaluated again), counted.
  const keptAudits = [...ids.values()].filter((id) => !dirtyAudits.has(id));
  const kept = new Map<number, ResultCount[]>();
  if (keptAudits.length && cleanIds.length) {
    for (const c of await store.currentResultCounts(keptAudits, cleanIds)) {
      const l = kept.get(c.auditId);
      if (l) l.push(c); else kept.set(c.auditId, [c]);
    }
  }

  const readS = secondsSince(readStart, Date.now);
  const evalStart = Date.now();
  const w: AnalysisWrite = {
    runId, at, close: { ids: [], lastSeen: [] }, open: { audits: [], hosts: [], results: [], buckets: [] },
    evaluatedHosts: hosts.map((h) => h.id), analyzedAudits: [], analyzedDigests: [], mark,
    collate: { audits: [], pops: [], srvtypes: [], results: [], hosts: [] }, finishedAt: at, exitCode: 0, summary: '',
  };
  const counts: Record<AuditResult, number> = { pass: 0, fail: 0, exempt: 0 };
  const errors: AuditProblem[] = [];
  const byPriority = new Map<number, PriorityFailures>();
  const memo: CheckMemo = new WeakMap();
  // One evaluation per distinct filter and host: generated audits share a handful of filters.
  const filterCache = new Map<string, Uint8Array>();
  const filterFor = (key: string, cond: Condition, i: number): boolean => {
    let c = filterCache.get(key);
    if (!c) { c = new Uint8Array(hosts.length); filterCache.set(key, c); }
    if (c[i] === 0) { facts.host = i; c[i] = filterHolds(cond, facts, memo) ? 1 : 2; }
    return c[i] === 1;
  };
  /** A closing interval was last seen at the earlier of its host's and its audit's last evaluation. */
  const lastSeenOf = (hostIdx: number, auditId: number): string => {
    const h = hosts[hostIdx]!.auditedAt;
    const a = stored.get(auditId)?.lastAnalyzed ?? null;
    const cands = [h, a].filter((x): x is string => x !== null);
    return cands.length ? cands.reduce((x, y) => (x < y ? x : y)) : at;
  };
  const allIdx = hosts.map((_, i) => i);

  for (const audit of audits) {
    const auditId = ids.get(audit.name);
    if (auditId === undefined) continue;
    const mine = openByAudit.get(auditId) ?? none;
    // Staged per audit: an evaluation that throws leaves this audit's stored results as they were.
    const closeIds: number[] = [];
    const closeSeen: string[] = [];
    const opens: [number, AuditResult, string][] = [];
    const tally: Record<AuditResult, number> = { pass: 0, fail: 0, exempt: 0 };
    const collate = new Map<string, number>();
    let prodFailing = 0;
    const count = (pop: string | null, srvtype: string | null, prod: boolean, verdict: AuditResult, n: number) => {
      tally[verdict] += n;
      const key = `${pop ?? ''}\0${srvtype ?? ''}\0${verdict}`;
      collate.set(key, (collate.get(key) ?? 0) + n);
      if (verdict === 'fail' && prod) prodFailing += n;
    };
    try {
      for (const i of dirtyAudits.has(auditId) ? allIdx : dirtyIdx) {
        const h = hosts[i]!;
        let verdict: AuditResult | 'none' = 'none';
        let bucket: string | undefined;
        for (const b of audit.buckets) {
          if (filterFor(b.filterKey, b.filter, i)) { facts.host = i; verdict = comparisonResult(b.comparison, facts, memo); bucket = b.name; break; }
        }
        const slot = mine[i]!;
        const pos = slot === 0 ? undefined : slot - 1;
        const current = pos === undefined ? undefined : open.results[pos];
        if (verdict !== 'none') count(h.pop, h.srvtype, h.isProd, verdict, 1);
        if (current === verdict) continue;
        if (pos !== undefined) { closeIds.push(open.ids[pos]!); closeSeen.push(lastSeenOf(i, auditId)); }
        if (verdict !== 'none') opens.push([h.id, verdict, bucket!]);
      }
    } catch (e) {
      errors.push({ file: audit.file, line: audit.line, audit: audit.name, message: `evaluation failed, its results were left as they were: ${(e as Error).message}` });
      log.error(`${audit.file}:${audit.line}: audit ${audit.name}: evaluation failed: ${(e as Error).message}`);
      continue;
    }
    for (const c of kept.get(auditId) ?? []) count(c.pop, c.srvtype, c.prod, c.result as AuditResult, c.hosts);
    w.close.ids.push(...closeIds); w.close.lastSeen.push(...closeSeen);
    for (const [hostId, r, b] of opens) { w.open.audits.push(auditId); w.open.hosts.push(hostId); w.open.results.push(r); w.open.buckets.push(b); }
    w.analyzedAudits.push(auditId);
    w.analyzedDigests.push(digests.get(audit.name)!);
    for (const r of ['pass', 'fail', 'exempt'] as const) counts[r] += tally[r];
    for (const [key, n] of collate) {
      const [pop, srvtype, result] = key.split('\0') as [string, string, string];
      w.collate.audits.push(auditId); w.collate.pops.push(pop); w.collate.srvtypes.push(srvtype); w.collate.results.push(result); w.collate.hosts.push(n);
    }
    if (tally.fail > 0) {
      const p = byPriority.get(audit.priority) ?? { priority: audit.priority, audits: 0, results: 0, prodHosts: 0 };
      p.audits++; p.results += tally.fail; p.prodHosts += prodFailing;
      byPriority.set(audit.priority, p);
    }
  }
  return {
    readS, evaluateS: secondsSince(evalStart, Date.now),
    hostsEvaluated: hosts.length,
    hostsReevaluated: dirtyIdx.length,
    auditsReevaluated: dirtyAudits.size,
    stale: allHosts.length - hosts.length,
    counts, errors,
    failuresByPriority: [...byPriority.values()].sort((a, b) => b.priority - a.priority),
    async commit(summary) {
      w.finishedAt = summary.finished_at;
      w.exitCode = summary.exit_code;
      w.summary = JSON.stringify(summary);
      await store.writeAnalysis(w);
    },
  };
}
