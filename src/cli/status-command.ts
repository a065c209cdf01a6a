// `jellyfish status`: is a run or gap-fix active (from the locks), and how did the last ones end
// (from the runs table). Exit 3 while one is active, so a script can wait for it to finish.
// Parses flags, calls app/status-view.ts, renders.
import type { Command } from 'commander';
import { printError } from '../app/log.js';
import { runGroups, statusView, type StatusView } from '../app/status-view.js';
import { renderOutput, type Printable } from '../report/output.js';
import { cell, formatDuration, relativeAge, shortTime } from '../report/table.js';
import { addConfigFlag, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';

/** Exit code while a run or gap-fix holds its lock. */
export const EXIT_ACTIVE = 3;

/** The ndjson and csv rows: one per run (the last finished one of each mode and scope, then the unfinished ones). */
const RUN_COLUMNS = ['mode', 'scope', 'run_id', 'state', 'started_at', 'finished_at', 'exit_code', 'duration_s',
  'success', 'failed', 'failed_prod', 'sapi', 'not_started', 'timeout', 'interrupted', 'limit', 'stored', 'rejected', 'pid', 'host'] as const;

function statusText(view: StatusView, now: number): string {
  const out: string[] = [];
  if (view.active.length === 0) out.push('idle: no run or gap-fix is active');
  for (const a of view.active) {
    const since = a.started_at ? `started ${shortTime(a.started_at)}` : 'start unknown';
    const running = a.elapsed_s !== undefined ? `, running for ${formatDuration(a.elapsed_s)}` : '';
    const what = a.sites ? ` (sites ${a.sites.map((s) => s || '(no pop)').join(',')})` : a.scope ? ` (${a.scope})` : '';
    out.push(`ACTIVE ${a.mode}${what}: pid ${a.pid ?? '?'} on ${a.host ?? '?'}, ${since}${running} (lock ${a.lockfile})`);
  }
  for (const s of view.stale_locks) {
    out.push(`stale ${s.mode} lock left by pid ${s.pid ?? '?'} on ${s.host ?? '?'} (${s.lockfile}): the next ${s.mode} takes it over`);
  }
  if (view.database_error) out.push(`database unreadable: ${view.database_error}`);
  const groups = runGroups(view);
  for (const g of groups) {
    const scope = g.scope ? ` (${g.scope})` : '';
    const e = g.finished;
    if (e) {
      const took = typeof e.duration_s === 'number' ? ` after ${formatDuration(e.duration_s)}` : '';
      let what = '';
      if (typeof e.success === 'number') {
        what = `: ${e.success} ok, ${e.failed} failed (${e.failed_prod} prod), ${e.sapi} sapi, ${e.not_started} not started`;
        if (e.timeout) what += '; deadline hit';
        if (typeof e.interrupted === 'string') what += `; interrupted (${e.interrupted})`;
        if (e.limit) what += `; --limit ${e.limit.join(',')}`;
      } else if (typeof e.stored === 'number') {
        what = `: ${e.stored} stored, ${e.rejected ?? 0} rejected`;
      }
      out.push(`last ${g.mode}${scope} #${e.run_id}: started ${shortTime(e.started_at)}, finished ${relativeAge(e.finished_at, now)}${took}, exit ${e.exit_code ?? '?'}${what}`);
    }
    for (const u of g.unfinished) {
      const word = u.state === 'running' ? 'is running' : u.state === 'interrupted' ? 'never finished (killed?)' : 'has not finished';
      out.push(`${g.mode}${scope} #${u.run_id} started ${shortTime(u.started_at)} (pid ${u.pid ?? '?'} on ${u.host ?? '?'}) ${word}`);
    }
  }
  if (groups.length === 0) out.push('no run recorded');
  return out.map(cell).join('\n') + '\n';
}

/** The answer in every format (`--format json` is what GET /api/v1/status sends too). */
export function statusPrintable(view: StatusView, now: number): Printable {
  return {
    json: () => view,
    columns: RUN_COLUMNS,
    records: () => [...view.last_runs.map((e) => ({ ...e, state: 'finished' })), ...view.unfinished_runs],
    table: () => statusText(view, now),
  };
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
    const now = Date.now();
    const view = await statusView(configFrom(flags), { now });
    if (view.database_error) printError(`jellyfish: warning: ${view.database_error}`);
    process.stdout.write(renderOutput(format, statusPrintable(view, now)));
    setExit(view.active.length ? EXIT_ACTIVE : 0);
  });
}
