// `jellyfish status`: is a run or gap-fix active, and how did the last ones end.
import fs from 'node:fs';
import type { Command } from 'commander';
import { gapfixLockFile } from '../lock/lock-files.js';
import { lockState } from '../lock/run-lock.js';
import { renderJson } from '../report/status-json.js';
import { relativeAge } from '../report/table.js';
import { lastRuns } from '../store/queries.js';
import { openStore } from '../store/store.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';

export function registerStatus(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('status')
    .description('is a run or gap-fix active (lock holder pid, host, start), and the summary of the last run of each mode')
    .option('--json', 'print JSON');
  addConfigFlag(cmd);
  cmd.addHelpText('after', '\nExit codes: 0 nothing running, 3 a run or gap-fix is active (scripts can wait on it), 74 database unreadable, 78 config error.');
  cmd.action((flags: CommonFlags & { json?: boolean }) => {
    const config = configFrom(flags);
    const now = Date.now();
    const active = [
      { mode: 'run', ...lockState(config.lockfile) },
      { mode: 'gap-fix', ...lockState(gapfixLockFile(config)) },
    ].filter((l) => l.held).map((l) => ({
      mode: l.mode, pid: l.holder?.pid, host: l.holder?.hostname, started_at: l.holder?.started_at,
      elapsed_s: l.holder?.started_at ? Math.round((now - Date.parse(l.holder.started_at)) / 1000) : undefined,
    }));
    let runs: ReturnType<typeof lastRuns> = [];
    if (fs.existsSync(config.storage.database)) {
      const store = openStore(config.storage.database, { readonly: true });
      try { runs = lastRuns(store.database); } finally { store.close(); }
    }
    const last = runs.map((r) => ({
      mode: r.mode, run_id: r.id, started_at: r.startedAt, finished_at: r.finishedAt, exit_code: r.exitCode,
      success: r.summary?.global_success_hosts, failed: r.summary?.global_fail_hosts, failed_prod: r.summary?.global_fail_prod,
      sapi: r.summary?.sapi_hosts, not_started: r.summary?.not_started_hosts, timeout: r.summary ? 'Timeout' in r.summary : undefined,
    }));
    if (flags.json) {
      process.stdout.write(renderJson({ active, last_runs: last }) + '\n');
    } else {
      if (active.length === 0) process.stdout.write('idle: no run or gap-fix is active\n');
      for (const a of active) process.stdout.write(`ACTIVE ${a.mode}: pid ${a.pid ?? '?'} on ${a.host ?? '?'}, started ${a.started_at ?? '?'} (${a.elapsed_s ?? '?'} s ago)\n`);
      if (last.length === 0) process.stdout.write('no run recorded\n');
      for (const l of last) {
        const state = l.finished_at ? `finished ${relativeAge(l.finished_at, now)}, exit ${l.exit_code}` : 'never finished (killed?)';
        const counts = l.success === undefined ? '' : `: ${l.success} ok, ${l.failed} failed (${l.failed_prod} prod), ${l.sapi} sapi, ${l.not_started} not started${l.timeout ? ', deadline hit' : ''}`;
        process.stdout.write(`last ${l.mode} #${l.run_id} started ${l.started_at}, ${state}${counts}\n`);
      }
    }
    setExit(active.length ? 3 : 0);
  });
}
