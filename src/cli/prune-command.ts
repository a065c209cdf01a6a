// `jellyfish prune --older-than AGE`: move (or delete) closed fact history in small batches.
import type { Command } from 'commander';
import { UsageError } from '../app/errors.js';
import { parseDuration } from '../config/values.js';
import { renderJson } from '../report/status-json.js';
import { openStore } from '../store/store.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';

/** Rows per transaction: small enough that a run's writer waits milliseconds, not seconds. */
const PRUNE_BATCH = 5_000;

export function registerPrune(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('prune')
    .description('move closed fact intervals last seen before now - AGE to facts_archive (or delete them); current facts are never touched')
    .requiredOption('--older-than <age>', 'e.g. 90d, 180d')
    .option('--delete', 'delete instead of archiving')
    .option('--compact', 'print the JSON on one line');
  addConfigFlag(cmd);
  cmd.addHelpText('after', '\nPrints {"archived": N} or {"deleted": N}. Exit codes: 0, 64 bad AGE, 74 storage error, 78 config error.');
  cmd.action(async (flags: CommonFlags & { olderThan: string; delete?: boolean; compact?: boolean }) => {
    const age = parseDuration(flags.olderThan);
    if (age === undefined) throw new UsageError(`--older-than ${flags.olderThan}: expected a duration such as 90d`);
    const config = configFrom(flags);
    const before = new Date(Date.now() - age).toISOString();
    const store = openStore(config.storage.database);
    let total = 0;
    try {
      for (;;) {
        const n = store.pruneBatch(before, flags.delete ? 'delete' : 'archive', PRUNE_BATCH);
        total += n;
        if (n < PRUNE_BATCH) break;
        // The write lock is free between batches: a waiting writer (a run) gets in here.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      store.close();
    }
    process.stdout.write(renderJson(flags.delete ? { deleted: total } : { archived: total }, Boolean(flags.compact)) + '\n');
    setExit(0);
  });
}
