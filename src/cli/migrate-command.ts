// `jellyfish migrate --to postgresql://...`: copy the SQLite history into a PostgreSQL store.
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError, UsageError } from '../core/errors.js';
import { printError } from '../app/log.js';
import { convertSetting } from '../config/load.js';
import { SETTINGS } from '../config/settings.js';
import { parseInteger } from '../config/values.js';
import { renderOutput } from '../report/output.js';
import { renderTable } from '../report/table.js';
import { databaseTrustWarning, displayUrl, isDatabaseFile, MIGRATE_BATCH } from '../store/database.js';
import { addConfigFlag, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';

interface MigrateFlags extends CommonFlags, OutputFlags { to: string; from?: string; batch?: string }

const MAX_BATCH = 100_000;

/** The target URL, checked as `[storage] database` is: PostgreSQL, and no password in it. */
function targetUrl(text: string): string {
  if (isDatabaseFile(text)) throw new UsageError(`--to ${JSON.stringify(displayUrl(text))}: expected a postgresql://user@host:port/dbname URL`);
  const def = SETTINGS.find((s) => s.section === 'storage' && s.key === 'database')!;
  try {
    return convertSetting(def, text, '--to', process.cwd()) as string;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

export function registerMigrate(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('migrate')
    .description('copy the SQLite fact history into a PostgreSQL database (resumable, verified), before pointing the collectors at it')
    .requiredOption('--to <url>', 'the PostgreSQL database: postgresql://user@host:port/dbname (password from PGPASSWORD or ~/.pgpass, never in the URL)')
    .option('--from <file>', 'the SQLite file (default: [storage] database of the INI)')
    .option('--batch <n>', `rows per transaction (default ${MIGRATE_BATCH.toLocaleString('en')})`)
  addOutputFlags(cmd, ['table', 'json']);
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Copies hosts, runs, attempts with their collections, facts (every interval, current and
closed), fact_types and facts_archive, ids as they are; the empty PostgreSQL database gets the
schema first. The lock-holder table is not copied (it is live state), nor is anything written to
the SQLite file, which is read in one read transaction: a collection writing to it meanwhile is
not blocked, and what is copied is the database as it was when migrate started. Stop the cron
jobs first all the same: what they write afterwards is not copied.

Resumable: each batch is one transaction on the target that also records how far the copy got
(table migrate_progress, keyed by the SQLite file's real path and inode). A migrate stopped at
any point (Ctrl-C, kill -9, a lost connection) continues where it stopped when run again, and
never copies a row twice; run again after it finished, it copies nothing and verifies again.
Refused: a target that already holds jellyfish data from elsewhere (another file, a collector),
and resuming when the SQLite file was written since the copy began (start over in an empty
database). Two migrates into one database cannot run at once (an advisory lock).

Verification: per table, the row count in SQLite equals the count in PostgreSQL (and for facts
also the count of current ones). Progress goes to stderr (one line per table, and every 10 s).
Then set [storage] database = <the URL> in scheduler.ini; the SQLite file is left as it was.

Exit codes: 0 copied and verified, 64 bad flags (a URL with a password, a SQLite --to, an INI
that already names PostgreSQL and no --from, a target holding other data), 74 storage error or
counts that differ, 75 another migrate is copying into that database, 78 config error.`);
  cmd.action(async (flags: MigrateFlags) => {
    const out = outputFormat(flags);
    const to = targetUrl(flags.to);
    const tls = databaseTrustWarning(to);
    if (tls) printError(`jellyfish: warning: --to: ${tls}`);
    let batch = MIGRATE_BATCH;
    if (flags.batch !== undefined) {
      const b = parseInteger(flags.batch);
      if (b === undefined || b < 1 || b > MAX_BATCH) throw new UsageError(`--batch ${JSON.stringify(flags.batch)}: expected a number of rows from 1 to ${MAX_BATCH.toLocaleString('en')}`);
      batch = b;
    }
    let from: string;
    if (flags.from !== undefined) {
      if (!isDatabaseFile(flags.from)) throw new UsageError('--from: expected the SQLite file to copy, not a PostgreSQL URL');
      from = path.resolve(flags.from);
    } else {
      const config = configFrom(flags);
      for (const w of config.warnings) printError(`jellyfish: warning: ${w}`);
      if (!isDatabaseFile(config.storage.database)) {
        throw new UsageError(`[storage] database already names a PostgreSQL database (${displayUrl(config.storage.database)}): give the SQLite file to copy with --from`);
      }
      from = config.storage.database;
    }
    const { migrateToPostgres } = await import('../app/migrate.js');
    const summary = await migrateToPostgres({ from, to, batch, onProgress: (line) => printError(`jellyfish: migrate: ${line}`) });
    const next = `set [storage] database = ${summary.to} in ${flags.config ?? 'scheduler.ini'} (the password stays in PGPASSWORD or ~/.pgpass)`;
    process.stdout.write(renderOutput(out, {
      json: () => ({ ...summary, next }),
      table: () => {
        const rows = Object.entries(summary.tables).map(([t, c]) => [t, c.source.toLocaleString('en'), c.target.toLocaleString('en'), c.source === c.target ? 'ok' : 'DIFFERS']);
        return renderTable(['TABLE', 'SQLITE', 'POSTGRESQL', 'CHECK'], rows)
          + `${summary.verified ? 'verified' : 'NOT verified'}: ${summary.from} -> ${summary.to}, ${summary.copied.toLocaleString('en')} rows copied in ${summary.elapsed_s} s\n`
          + (summary.verified ? `next: ${next}\n` : '');
      },
    }));
    if (summary.verified) {
      setExit(0);
      return;
    }
    const off = Object.entries(summary.tables).filter(([, c]) => c.source !== c.target).map(([t, c]) => `${t} ${c.source} in SQLite, ${c.target} in PostgreSQL`);
    printError(`jellyfish: error: the copy does not match: ${off.join('; ')} (was the PostgreSQL database written since the copy?)`);
    setExit(74);
  });
}
