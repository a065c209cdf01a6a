// The SQLite driver: better-sqlite3 answers at once, on this thread. Prepared statements are kept
// per SQL text (a bounded number: statements built with values in their text are not kept).
import type Database from 'better-sqlite3';
import type { Driver, SqlWords } from '../driver.js';

type Stmt = Database.Statement<unknown[]>;

/** Prepared statements kept at most; past this the cache starts again (a text with values in it never repeats). */
const MAX_STATEMENTS = 256;

export const SQLITE_WORDS: SqlWords = {
  noIndex: (c) => `+${c}`,
  inList: (c, p = '?') => `${c} IN (SELECT value FROM json_each(${p}))`,
  containsFolded: (text, part) => `instr(lower(${text}), lower(${part})) > 0`,
  likeFolded: 'LIKE',
  sameSubtype: (c, p) => `${c} = ${p}`,
};

export class SqliteDriver implements Driver {
  readonly dialect = 'sqlite';
  readonly sql = SQLITE_WORDS;
  private readonly stmts = new Map<string, Stmt>();

  constructor(readonly name: string, readonly db: Database.Database) {}

  /** A prepared statement, kept for the store's life; `raw` ones return rows as arrays. */
  stmt(sql: string, raw = false): Stmt {
    const key = raw ? `raw:${sql}` : sql;
    let s = this.stmts.get(key);
    if (!s) {
      if (this.stmts.size >= MAX_STATEMENTS) this.stmts.clear();
      s = raw ? this.db.prepare(sql).raw(true) : this.db.prepare(sql);
      this.stmts.set(key, s);
    }
    return s;
  }

  all(sql: string, params: readonly unknown[] = []): Record<string, unknown>[] {
    return this.stmt(sql).all(...params) as Record<string, unknown>[];
  }

  arrays(sql: string, params: readonly unknown[] = []): unknown[][] {
    return this.stmt(sql, true).all(...params) as unknown[][];
  }

  columns(sql: string, params: readonly unknown[], columns: readonly string[]): unknown[][] {
    // One row of JSON arrays, a column each, in the order the inner statement produced its rows.
    const row = this.stmt(`SELECT ${columns.map((c) => `json_group_array(${c})`).join(', ')} FROM (${sql})`, true).get(...params) as string[];
    return row.map((text) => JSON.parse(text) as unknown[]);
  }

  run(sql: string, params: readonly unknown[] = []): number {
    return this.stmt(sql).run(...params).changes;
  }

  list(values: readonly unknown[]): string {
    return JSON.stringify(values);
  }

  text(s: string | null | undefined): string | null {
    return s ?? null;
  }
}
