// `jellyfish prune --older-than AGE`: move (or delete) closed fact history in small batches.
import type { Command } from 'commander';
import { StorageError, UsageError } from '../core/errors.js';
import { PRUNE_BATCH, pruneFacts } from '../app/prune.js';
import { parseDuration } from '../config/values.js';
import { renderJson } from '../report/status-json.js';
import { databaseFileMissing } from '../store/database.js';
import { openAnyStore } from '../store/store.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';

export function registerPrune(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('prune')
    .usage('--older-than <age> [options]')
    .description('move fact history (closed intervals) last seen more than AGE ago to facts_archive, or delete it; current facts are never touched')
    .requiredOption('--older-than <age>', '(required) AGE: 90d, 12h, 30m, 45s (a bare number is seconds)')
    .option('--delete', 'delete the rows instead of archiving them (the change feed of that time goes with them)')
    .option('--dry-run', 'only count what would go')
    .option('--compact', 'print the JSON on one line');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
A closed interval is a value a host no longer has (an old kernel, a removed package): its
last_seen is the last time it was observed. Rows go in batches of ${PRUNE_BATCH.toLocaleString('en')} per transaction
with a pause between them, so it is safe beside a running collection.
Prints {"archived": N}, {"deleted": N}, or with --dry-run {"dry_run": true, "would_archive": N}
(or "would_delete").
Exit codes: 0 done, 64 bad AGE or flags, 74 storage error (or no database yet), 78 config error.`);
  cmd.action(async (flags: CommonFlags & { olderThan: string; delete?: boolean; dryRun?: boolean; compact?: boolean }) => {
    const age = parseDuration(flags.olderThan);
    if (age === undefined) throw new UsageError(`--older-than ${JSON.stringify(flags.olderThan)}: expected an age such as 90d, 12h, 30m or 45s`);
    const config = configFrom(flags);
    const mode = flags.delete ? 'delete' : 'archive';
    const db = config.storage.database;
    // Never create a database just to find it empty: a wrong -c should not look like success.
    if (databaseFileMissing(db)) throw new StorageError(`no database yet at ${db}: nothing to prune`);
    const store = await openAnyStore(db, { readonly: Boolean(flags.dryRun) });
    let n: number;
    try {
      n = await pruneFacts(store, { beforeMs: Date.now() - age, mode, dryRun: Boolean(flags.dryRun) });
    } finally {
      await store.close();
    }
    const json = flags.dryRun ? { dry_run: true, [`would_${mode}`]: n } : { [mode === 'delete' ? 'deleted' : 'archived']: n };
    process.stdout.write(renderJson(json, Boolean(flags.compact)) + '\n');
    setExit(0);
  });
}
