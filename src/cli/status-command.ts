// `jellyfish status`: is a run or gap-fix active (from the locks), and how did the last ones end
// (from the runs table). Exit 3 while one is active, so a script can wait for it to finish.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { StorageError } from '../app/errors.js';
import { printError } from '../app/log.js';
import type { Config } from '../config/load.js';
import { gapfixLockFile, modeLockFiles } from '../lock/lock-files.js';
import { lockState, readHolder } from '../lock/run-lock.js';
import { renderOutput } from '../report/output.js';
import { cell, formatDuration, relativeAge, shortTime } from '../report/table.js';
import { displayUrl } from '../store/database-url.js';
import type { PgStore } from '../store/pg-store.js';
import type { ModeRuns, RunRecord } from '../store/queries.js';
import { isPostgresUrl } from '../store/store.js';
import { addConfigFlag, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';
import { openForReading } from './read-store.js';

/** Exit code while a run or gap-fix holds its lock. */
export const EXIT_ACTIVE = 3;

interface Active {
  mode: string; lockfile: string; pid?: number; host?: string; started_at?: string; elapsed_s?: number;
  /** a site collector's part of the inventory (`sites ams`), absent for the whole inventory */
  scope?: string;
  /** with PostgreSQL: the sites whose advisory locks it holds */
  sites?: string[];
  run_id?: number;
}
interface StaleLock { mode: string; lockfile: string; pid?: number; host?: string; started_at?: string }


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLocks(config: Config, now: number): { active: Active[]; stale: StaleLock[] } {
  const active: Active[] = [];
  const stale: StaleLock[] = [];
  for (const [mode, modeFile] of [['run', config.lockfile], ['gap-fix', gapfixLockFile(config)]] as const) for (const { file: lockfile, scope } of modeLockFiles(modeFile)) {
    const st = lockState(lockfile);
    if (st.held) {
      const h = st.holder;
      const started = h?.started_at ? Date.parse(h.started_at) : NaN;
      active.push({
        mode, lockfile,
        ...(h ? { pid: h.pid, host: h.hostname, started_at: h.started_at } : {}),
        ...(Number.isFinite(started) ? { elapsed_s: Math.max(0, Math.round((now - started) / 1000)) } : {}),
        ...(scope ? { scope } : {}),
      });
    } else if (fs.existsSync(`${lockfile}.lock`)) {
      // The lock directory of a killed holder: harmless (the next run of that mode takes it over), but worth a word.
      const h = readHolder(lockfile);
      stale.push({ mode, lockfile, ...(h ? { pid: h.pid, host: h.hostname, started_at: h.started_at } : {}) });
    }
  }
  return { active, stale };
}

/** Live collectors of a PostgreSQL store: one entry per process, with the sites it holds. */
async function pgActive(store: PgStore, now: number): Promise<Active[]> {
  const { activePgHolders } = await import('../lock/pg-lock.js');
  const byHolder = new Map<string, Active>();
  for (const h of await activePgHolders(store.connection)) {
    if (h.lock_key.includes(':shard:')) continue; // its site key names the site already
    const key = `${h.mode} ${h.hostname} ${h.pid} ${h.started_at}`;
    let a = byHolder.get(key);
    if (!a) {
      const started = Date.parse(h.started_at);
      a = {
        mode: h.mode, lockfile: store.path, pid: h.pid, host: h.hostname, started_at: h.started_at, sites: [],
        ...(Number.isFinite(started) ? { elapsed_s: Math.max(0, Math.round((now - started) / 1000)) } : {}),
        ...(h.scope ? { scope: h.scope } : {}), ...(h.run_id !== null ? { run_id: h.run_id } : {}),
      };
      byHolder.set(key, a);
    }
    a.sites!.push(h.site);
  }
  return [...byHolder.values()];
}

/** Counts from the stored final JSON: a run's four host lists, or an ingest's documents. */
function counts(summary: Record<string, unknown> | null): Record<string, unknown> {
  if (!summary) return {};
  const num = (k: string) => (typeof summary[k] === 'number' ? summary[k] : undefined);
  if ('stored' in summary) {
    return { stored: num('stored'), rejected: Array.isArray(summary.rejected) ? summary.rejected.length : undefined };
  }
  return {
    success: num('global_success_hosts'), failed: num('global_fail_hosts'), failed_prod: num('global_fail_prod'),
    sapi: num('sapi_hosts'), not_started: num('not_started_hosts'), timeout: 'Timeout' in summary,
    ...(typeof summary.Interrupted === 'string' ? { interrupted: summary.Interrupted } : {}),
  };
}

function finishedEntry(r: RunRecord): Record<string, unknown> {
  const took = r.finishedAt ? (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 : NaN;
  return {
    mode: r.mode, run_id: r.id, started_at: r.startedAt, finished_at: r.finishedAt, exit_code: r.exitCode,
    ...(r.scope ? { scope: r.scope } : {}),
    ...(Number.isFinite(took) ? { duration_s: Math.round(took * 10) / 10 } : {}),
    ...counts(r.summary),
  };
}

/** An unfinished runs row is running when its mode's lock holder or its live pid here says so; else it was killed. */
function unfinishedEntry(r: RunRecord, active: Active[]): Record<string, unknown> {
  const here = r.hostname === os.hostname();
  const lockHolder = active.some((a) => a.mode === r.mode && ((a.pid === r.pid && a.host === r.hostname) || a.run_id === r.id));
  const state = lockHolder || (here && r.pid !== null && alive(r.pid)) ? 'running' : here || r.mode !== 'ingest' ? 'interrupted' : 'unknown';
  return { mode: r.mode, run_id: r.id, started_at: r.startedAt, pid: r.pid, host: r.hostname, state, ...(r.scope ? { scope: r.scope } : {}) };
}

/** The ndjson and csv rows: one per run (the last finished one of each mode and scope, then the unfinished ones). */
const RUN_COLUMNS = ['mode', 'scope', 'run_id', 'state', 'started_at', 'finished_at', 'exit_code', 'duration_s',
  'success', 'failed', 'failed_prod', 'sapi', 'not_started', 'timeout', 'interrupted', 'stored', 'rejected', 'pid', 'host'] as const;

function statusText(active: Active[], stale: StaleLock[], runs: ModeRuns[], dbError: string | undefined, now: number): string {
  const out: string[] = [];
  if (active.length === 0) out.push('idle: no run or gap-fix is active');
  for (const a of active) {
    const since = a.started_at ? `started ${shortTime(a.started_at)}` : 'start unknown';
    const elapsed = a.elapsed_s !== undefined ? `, running for ${formatDuration(a.elapsed_s)}` : '';
    const what = a.sites ? ` (sites ${a.sites.map((s) => s || '(no pop)').join(',')})` : a.scope ? ` (${a.scope})` : '';
    out.push(`ACTIVE ${a.mode}${what}: pid ${a.pid ?? '?'} on ${a.host ?? '?'}, ${since}${elapsed} (lock ${a.lockfile})`);
  }
  for (const s of stale) {
    out.push(`stale ${s.mode} lock left by pid ${s.pid ?? '?'} on ${s.host ?? '?'} (${s.lockfile}): the next ${s.mode} takes it over`);
  }
  if (dbError) out.push(`database unreadable: ${dbError}`);
  let any = false;
  for (const m of runs) {
    const r = m.lastFinished;
    if (r) {
      any = true;
      const e = finishedEntry(r);
      const took = typeof e.duration_s === 'number' ? ` after ${formatDuration(e.duration_s)}` : '';
      let what = '';
      if (typeof e.success === 'number') {
        what = `: ${e.success} ok, ${e.failed} failed (${e.failed_prod} prod), ${e.sapi} sapi, ${e.not_started} not started`;
        if (e.timeout) what += '; deadline hit';
        if (typeof e.interrupted === 'string') what += `; interrupted (${e.interrupted})`;
      } else if (typeof e.stored === 'number') {
        what = `: ${e.stored} stored, ${e.rejected ?? 0} rejected`;
      }
      out.push(`last ${m.mode}${m.scope ? ` (${m.scope})` : ''} #${r.id}: started ${shortTime(r.startedAt)}, finished ${relativeAge(r.finishedAt, now)}${took}, exit ${r.exitCode ?? '?'}${what}`);
    }
    for (const u of m.unfinished) {
      any = true;
      const e = unfinishedEntry(u, active);
      const word = e.state === 'running' ? 'is running' : e.state === 'interrupted' ? 'never finished (killed?)' : 'has not finished';
      out.push(`${m.mode}${m.scope ? ` (${m.scope})` : ''} #${u.id} started ${shortTime(u.startedAt)} (pid ${u.pid ?? '?'} on ${u.hostname ?? '?'}) ${word}`);
    }
  }
  if (!any) out.push('no run recorded');
  return out.map(cell).join('\n') + '\n';
}

export function registerStatus(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('status')
    .description('is a run or gap-fix active (lock holder pid, host, start, elapsed), and how the last run, gap-fix and ingest ended (exit code, host counts); reads only, never waits for a lock');
  addOutputFlags(cmd);
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish status
  jellyfish status --json | jq '.last_runs[] | select(.mode == "run") | .failed'
  jellyfish status --format csv
--format table (the default) prints the status as lines of text; ndjson and csv give one row per
run: the last finished one of each mode (and site scope), then the unfinished ones (state
running, interrupted or unknown).
Without a database yet it still reports the locks, and "no run recorded".
Exit codes: 0 nothing is running, ${EXIT_ACTIVE} a run or gap-fix is active (a script can wait:
  while jellyfish status >/dev/null; [ $? -eq ${EXIT_ACTIVE} ]; do sleep 60; done),
64 usage, 74 database unreadable (while idle), 78 config error.`);
  cmd.action(async (flags: CommonFlags & OutputFlags) => {
    const format = outputFormat(flags);
    const config = configFrom(flags);
    const now = Date.now();
    const shared = isPostgresUrl(config.storage.database);
    // With PostgreSQL the locks live in the database (advisory locks per site), not in files.
    let { active, stale } = shared ? { active: [] as Active[], stale: [] as StaleLock[] } : readLocks(config, now);
    let runs: ModeRuns[] = [];
    let dbError: string | undefined;
    if (shared || fs.existsSync(config.storage.database)) {
      try {
        const store = await openForReading(config);
        try {
          runs = await store.lastRuns();
          if (store.dialect === 'postgresql') active = await pgActive(store as PgStore, now);
        } finally { await store.close(); }
      } catch (e) {
        // While a run is active its exit 3 matters more (a script waits on it; a first run may be
        // creating the schema right now): say what failed and keep the answer. Idle: exit 74.
        // An empty PostgreSQL database is what a missing SQLite file is: nothing ran yet.
        const neverRan = shared && e instanceof StorageError && /no schema_migrations table/.test(e.message);
        if (!neverRan) {
          if (!(e instanceof StorageError) || active.length === 0) throw e;
          dbError = e.message;
          printError(`jellyfish: warning: ${e.message}`);
        }
      }
    }
    const finished = () => runs.flatMap((m) => (m.lastFinished ? [finishedEntry(m.lastFinished)] : []));
    const unfinished = () => runs.flatMap((m) => m.unfinished.map((u) => unfinishedEntry(u, active)));
    process.stdout.write(renderOutput(format, {
      json: () => ({
        active,
        stale_locks: stale,
        database: displayUrl(config.storage.database),
        ...(dbError ? { database_error: dbError } : {}),
        last_runs: finished(),
        unfinished_runs: unfinished(),
      }),
      columns: RUN_COLUMNS,
      records: () => [...finished().map((e) => ({ ...e, state: 'finished' })), ...unfinished()],
      table: () => statusText(active, stale, runs, dbError, now),
    }));
    setExit(active.length ? EXIT_ACTIVE : 0);
  });
}
