// `jellyfish gap-fix`: collect prod hosts without a recent success; `--list` only names them.
import type { Command } from 'commander';
import { findGapHosts } from '../app/gap-fix.js';
import { Log } from '../app/log.js';
import { selectTargets, targetsJson } from '../app/targets.js';
import { readInventory } from '../inventory/csv.js';
import { gapfixLockFile } from '../lock/lock-files.js';
import { renderJson } from '../report/status-json.js';
import { openAnyStore } from '../store/store.js';
import { addConfigFlag, addInventoryFlag, addSiteFlags, collectList, configFrom, inventoryFrom, type CommonFlags } from './options.js';

export function registerGapFix(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('gap-fix')
    .description('collect the production hosts with no successful collection within [gapfix] max_age (or that only pushed, without an SSH attempt within [sapi] verify_every), with [gapfix] threads and threadtimeout; never takes the run lock (it has its own)')
    .option('--list', 'only print {"found_gap": N, "gap_hosts": [...]}; collect nothing')
    .option('-f', 'old spelling of --list')
    .option('-V, --verbose', 'one line per host event on stderr')
    .option('--compact', 'print the JSON on one line')
    .option('--limit <patterns>', 'only the gap hosts among those whose inventory name matches one of these shell globs (* ? [...]); repeatable, or comma-separated; a pattern matching no host is a usage error', collectList);
  addConfigFlag(cmd);
  addInventoryFlag(cmd);
  addSiteFlags(cmd);
  cmd.addHelpText('after', `
Examples:
  jellyfish gap-fix --list
  jellyfish gap-fix --limit 'web*.ams' --compact
  jellyfish gap-fix --list --limit 'db*'
--limit narrows the hosts gap-fix looks at (and --list names) to those matching a pattern; the
JSON's lists hold only them and "limit" names the patterns. To re-collect a host whatever its
last success, use \`jellyfish run --limit HOST\`.
Exit codes as for \`run\` (0, 1, 2, 64 usage, 65, 70 internal error, 74, 78, 130/143); 75 when another gap-fix holds the gap-fix lock.
It runs beside a full \`run\` on the same database (SQLite: both write through its busy timeout).
--site/--shard limit it (and --list) to part of the inventory, with a gap-fix lock per site.`);
  cmd.action(async (flags: CommonFlags & { list?: boolean; f?: boolean; limit?: string[] }) => {
    const limit = flags.limit?.length ? flags.limit : undefined;
    const config = configFrom(flags);
    const log = new Log(Boolean(flags.verbose));
    const inventoryFile = inventoryFrom(flags, config);

    if (flags.list || flags.f) {
      const inventory = readInventory(inventoryFile, { prodStatuses: config.collector.prodStatuses });
      for (const bad of inventory.invalid) log.warn(`${inventory.file}:${bad.line}: ${bad.reason} (row skipped)`);
      // The plain answer keeps its two keys; a site selection or --limit says which part of the inventory it is.
      const targets = selectTargets(inventory, config, limit);
      const store = await openAnyStore(config.storage.database);
      try {
        const gap = await findGapHosts(targets.hosts, store, config);
        process.stdout.write(renderJson({ found_gap: gap.length, gap_hosts: gap.map((h) => h.label), ...targetsJson(targets) }, Boolean(flags.compact)) + '\n');
      } finally {
        await store.close();
      }
      setExit(0);
      return;
    }
    const { collectRun } = await import('../app/run.js');
    const { json, exitCode } = await collectRun({
      mode: 'gap-fix', config, inventoryFile, log,
      select: (hosts, store) => findGapHosts(hosts, store, config),
      lockFile: gapfixLockFile(config), threads: config.gapfix.threads, limitMs: config.gapfix.threadtimeoutMs,
      ...(limit ? { limit } : {}),
    });
    process.stdout.write(renderJson(json, Boolean(flags.compact)) + '\n');
    setExit(exitCode);
  });
}
