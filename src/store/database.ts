// What `[storage] database` names, asked without naming the engine behind it: a database file on
// this machine (created by the first run, locked by lock files beside it) or a database server
// named by a URL (shared by several collectors, holding their run locks itself). Part of the
// store's public face with store.ts; it loads no engine, so settings, warnings and commands that
// never open the database ask it freely.
import fs from 'node:fs';
import { displayUrl, isPostgresUrl, MIGRATE_BATCH, pgTlsWarning, urlSecretParams } from './database-url.js';

export { displayUrl, MIGRATE_BATCH };

/** Whether the database is a file on this machine, not a server named by a URL. */
export function isDatabaseFile(database: string): boolean {
  return !isPostgresUrl(database);
}

/** A database file that does not exist yet (a server never is: opening it says what is wrong). */
export function databaseFileMissing(database: string): boolean {
  return isDatabaseFile(database) && !fs.existsSync(database);
}

/** The database as messages name it: `SQLite file PATH` or `PostgreSQL database URL` (secrets masked). */
export function describeDatabase(database: string): string {
  return isDatabaseFile(database) ? `SQLite file ${database}` : `PostgreSQL database ${displayUrl(database)}`;
}

/** A warning about the way to the database (a server reached without a verified certificate), or undefined. */
export function databaseTrustWarning(database: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return isDatabaseFile(database) ? undefined : pgTlsWarning(database, env);
}

/**
 * What is wrong with a database URL as a setting, or undefined when nothing is: `malformed` when
 * it names no server, `refused` (with the reason) when it carries a secret, which would be printed
 * with every message naming the database.
 */
export function databaseUrlProblem(text: string): { malformed: true } | { refused: string } | undefined {
  let url: URL;
  try { url = new URL(text); } catch { return { malformed: true }; }
  // A password in scheduler.ini would sit in clear in a file many can read, and in every log line naming the database.
  if (url.password) return { refused: 'the URL carries a password; give it in PGPASSWORD or ~/.pgpass instead (the URL is printed in messages)' };
  const secrets = urlSecretParams(url);
  if (secrets.length) {
    return {
      refused: `the URL carries a secret in ${secrets.map((k) => `'${k}='`).join(' and ')}; `
        + 'give the password in PGPASSWORD or ~/.pgpass, and a client key without a passphrase (mode 0600), never in the URL (it is printed in messages)',
    };
  }
  if (!url.hostname && !url.searchParams.get('host')) return { malformed: true };
  return undefined;
}

/**
 * Whether a failed write met another writer (a SQLite file busy or locked; on a server a deadlock
 * victim, a serialization failure or a lock not available): the same write may succeed later.
 */
export function isBusyError(e: unknown): boolean {
  return /SQLITE_BUSY|SQLITE_LOCKED|database is locked|40P01|40001|55P03/.test((e as Error)?.message ?? '');
}
