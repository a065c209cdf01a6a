// What a collection run leaves behind once its hosts are done: the status JSON (SPEC §6) with
// what this collector covered, its exit code (SPEC §7), the result file and the metrics textfile.
// The files are written after the JSON is final, and a file that cannot be written is logged,
// never fatal: the JSON on stdout is the answer monitoring reads.
import fs from 'node:fs';
import type { Config } from '../config/load.js';
import { renderMetrics } from '../report/metrics.js';
import { buildStatus, renderJson, type HostSummary, type Interruption } from '../report/status-json.js';
import type { Log } from './log.js';
import type { RunPlan, RunQueue } from './run-plan.js';
import { writeFileAtomically } from './safe-files.js';
import { targetsJson } from './targets.js';
import { VERSION } from './version.js';
import type { Warnings } from './warnings.js';

export interface RunOutcome {
  json: Record<string, unknown>;
  exitCode: number;
}

export interface RunStatusInput {
  mode: 'run' | 'gap-fix';
  runId: number;
  config: Config;
  startedAt: Date;
  finishedAt: Date;
  /** the pipelines asked for (the JSON's `threads`), not the clamped count */
  threads: number;
  limitMs: number;
  plan: RunPlan;
  queue: Pick<RunQueue, 'mine' | 'sapi'>;
  results: Map<string, HostSummary>;
  deadlineHit: boolean;
  interrupted: Interruption | undefined;
  warnings: Warnings;
}

/** What the run cost this process, all threads included. */
function processUsage(): { peakRssMb: number; cpuSeconds: number } {
  const u = process.resourceUsage();
  return { peakRssMb: Math.round(u.maxRSS / 1024), cpuSeconds: Math.round((u.userCPUTime + u.systemCPUTime) / 1e5) / 10 };
}

/** The status JSON of a finished run (its `exit_code` as the hosts left it). */
export function runStatus(i: RunStatusInput): Record<string, unknown> {
  const { inventory, targets } = i.plan;
  const json = buildStatus({
    mode: i.mode, runId: i.runId, version: VERSION, startedAt: i.startedAt, finishedAt: i.finishedAt, threads: i.threads, workers: i.plan.workers,
    hosts: i.queue.mine, results: i.results, sapi: i.queue.sapi, invalid: inventory.invalid.map((r) => ({ ...r, file: inventory.file })),
    // An interrupted run (signal, lost lock, failed database) reports that, not `Timeout`.
    deadlineHit: i.deadlineHit && !i.interrupted, ...(i.interrupted ? { interrupted: i.interrupted } : {}),
    maxFailPercent: i.config.results.maxFailPercent, limitMs: i.limitMs,
    usage: processUsage(), warnings: i.warnings.list(),
  });
  // What this collector covered: every output names its sites (and shard); the inventory's other
  // hosts are counted, not listed, as another collector's.
  Object.assign(json, targetsJson(targets, true));
  if (targets.scopedRun) json.other_site_hosts = inventory.hosts.length - targets.scoped.length;
  return json;
}

/** The run's answer: a database that failed makes it 74 whatever the hosts did, in the JSON too. */
export function runOutcome(json: Record<string, unknown>, storageFailed: boolean): RunOutcome {
  if (storageFailed && json.exit_code !== 74) json.exit_code = 74;
  return { json, exitCode: json.exit_code as number };
}

/** Rewrite the textfile-collector file, keeping the other mode's series. */
export function writeMetrics(file: string, json: Record<string, unknown>, mode: string, log: Log): void {
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

/** The result file ([results] output_json_file) and the metrics file ([results] metrics_file), as configured. */
export function writeRunFiles(config: Config, json: Record<string, unknown>, mode: string, limit: string[] | undefined, log: Log): void {
  if (config.results.outputJsonFile) {
    try {
      writeFileAtomically(config.results.resultJson, renderJson(json) + "\n");
    } catch (e) {
      log.error(`${config.results.resultJson}: cannot write the result JSON: ${(e as Error).message}`);
    }
  }
  // The metrics file has no word for a limited run: its counts of a few hosts would read as the
  // fleet's (an alert on "fewer than N hosts ok"). The JSON says `limit`; the metrics stay.
  if (config.results.metricsFile && !limit?.length) writeMetrics(config.results.metricsFile, json, mode, log);
}
