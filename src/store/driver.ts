// What an engine brings to the store logic written once in sql-store.ts: how to run one statement
// and the few words of SQL that differ. SQL is written with `?` placeholders; the PostgreSQL driver
// numbers them. A driver knows nothing of facts, hosts or runs: those rules live above it.
import { StorageError } from '../core/errors.js';

export type Dialect = 'sqlite' | 'postgresql';

/** A value now (SQLite) or later (PostgreSQL). */
export type Awaitable<T> = T | Promise<T>;

/** The SQL that is spelled differently per engine, as fragments the shared statements are built from. */
export interface SqlWords {
  /**
   * A condition the planner must not choose an index for (SQLite: `+`, which keeps a column out of
   * index choice when the schema has no statistics; PostgreSQL plans from statistics and needs none).
   */
  noIndex(condition: string): string;
  /** `column` is one of the list bound as the placeholder `p` (see Driver.list). */
  inList(column: string, p?: string): string;
  /** `text` contains `part`, ignoring case. */
  containsFolded(text: string, part: string): string;
  /** LIKE ignoring ASCII case (SQLite's LIKE does; PostgreSQL's ILIKE). */
  readonly likeFolded: string;
  /**
   * The subtype `column` equals `p`, written so the engine's fact indexes are used (PostgreSQL's
   * hold a 200-character prefix, a B-tree entry being bounded: the prefix is compared first for
   * the planner, the whole text after).
   */
  sameSubtype(column: string, p: string): string;
}

export interface Driver {
  readonly dialect: Dialect;
  /** the database as messages name it: the file, or the URL without a password */
  readonly name: string;
  readonly sql: SqlWords;
  /** Rows as objects (column names as keys). */
  all(sql: string, params?: readonly unknown[]): Awaitable<Record<string, unknown>[]>;
  /** Rows as arrays of their columns: half the cost of objects on a long answer. */
  arrays(sql: string, params?: readonly unknown[]): Awaitable<unknown[][]>;
  /**
   * A long answer as one array per column (row i is index i of each), `columns` naming the
   * statement's result columns. Cheaper than arrays on SQLite, where every row costs a JS array
   * and its strings: the engine joins each column into one JSON text (10,000 rows of four
   * columns: 2.8 ms against 6.3).
   */
  columns(sql: string, params: readonly unknown[], columns: readonly string[]): Awaitable<unknown[][]>;
  /** A statement without rows; how many rows it changed. */
  run(sql: string, params?: readonly unknown[]): Awaitable<number>;
  /** A list bound as one parameter: a JSON text on SQLite, an array on PostgreSQL. */
  list(values: readonly unknown[]): unknown;
  /** Text as the engine can store it (PostgreSQL text holds no NUL). */
  text(s: string | null | undefined): string | null;
}

/** An instant as stored: ISO-8601 UTC with milliseconds. */
export const iso = (ms: number | Date): string => new Date(ms).toISOString();

/** An engine's error as one line: its code (SQLITE_BUSY, 40P01, ...) and message. */
export function describeError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const code = err.code ? `${err.code}: ` : '';
  return `${code}${err.message ?? String(e)}`;
}

/** A failure as the StorageError that names the database and what was being done (one already so is kept). */
export function asStorageError(name: string, what: string, e: unknown): StorageError {
  return e instanceof StorageError ? e : new StorageError(`${name}: ${what}: ${describeError(e)}`);
}

/** `fn`, any failure thrown as asStorageError. */
export async function guarded<T>(name: string, what: string, fn: () => Awaitable<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asStorageError(name, what, e);
  }
}

/** `?` placeholders -> PostgreSQL's `$1`, `$2`, ... */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
