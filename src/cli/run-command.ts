// `jellyfish run`: the full collection run, the cron job. Takes the run lock.
import type { Command } from 'commander';
import { Log } from '../app/log.js';
import { renderJson } from '../report/status-json.js';
import { addConfigFlag, addInventoryFlag, addOverrideFlags, collectList, configFrom, inventoryFrom, type CommonFlags } from './options.js';

export function registerRun(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('run')
    .description('collect every inventory host (production first) into the database and print the status JSON; takes the run lock')
    .option('-V, --verbose', 'one line per host event on stderr')
    .option('--compact', 'print the status JSON on one line')
    .option('--limit <patterns>', 'only the inventory hosts whose name (as written there) matches one of these shell globs (* ? [...]); repeatable, or comma-separated; a pattern matching no host is a usage error', collectList);
  addConfigFlag(cmd);
  addInventoryFlag(cmd);
  addOverrideFlags(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish run
  jellyfish run --limit web7.ams --compact
  jellyfish run --limit 'db*.fra,web[12].ams' -V
--limit re-collects some hosts now: the JSON's lists hold only the selected hosts and "limit"
names the patterns (quote them from the shell); it takes the run lock like a full run, and
writes no metrics file ([results] metrics_file counts the whole fleet). Matching is
case-sensitive, as in a shell.
Site collectors: --site ams (or [collector] sites) collects only the inventory rows whose pop is
ams; --shard K/N splits them by a stable hash of the hostname. The JSON then names "sites" (and
"shard") and counts "other_site_hosts"; a collector whose hosts overlap a running one exits 75.
With [storage] database = postgresql://user@host:port/db (password from PGPASSWORD or ~/.pgpass)
collectors on many machines share one database, each site locked by a PostgreSQL advisory lock.
See docs/scale-out.md.
Exit codes: 0 done (failures within max_fail_percent), 1 too many hosts failed, 2 deadline hit,
64 usage (a --limit pattern matching no host), 65 inventory unusable, 70 internal error, 74 storage error, 75 another run holds the lock (of an overlapping site),
78 config error, 130/143 stopped by SIGINT/SIGTERM (after the JSON was printed).
stdout carries only the status JSON; logs go to stderr.`);
  cmd.action(async (flags: CommonFlags & { limit?: string[] }) => {
    const config = configFrom(flags);
    const log = new Log(Boolean(flags.verbose));
    // Loaded when a run starts: the pool, SSH and the lock stay out of every other command's start-up.
    const { collectRun } = await import('../app/run.js');
    const { json, exitCode } = await collectRun({
      mode: 'run', config, inventoryFile: inventoryFrom(flags, config), log,
      lockFile: config.lockfile, threads: config.collector.threads, limitMs: config.collector.threadtimeoutMs,
      ...(flags.limit?.length ? { limit: flags.limit } : {}),
    });
    process.stdout.write(renderJson(json, Boolean(flags.compact)) + '\n');
    setExit(exitCode);
  });
}
