// The PostgreSQL driver: one client connection (pg), statements with `?` numbered as `$n`, text
// without NUL. Also the connection itself, which the run lock (lock/pg-lock.ts) opens its own of.
// The URL never carries a password (PGPASSWORD or ~/.pgpass does, read by `pg` itself).
import pg from 'pg';
import { StorageError } from '../../core/errors.js';
import { withoutNul } from '../../collections/parse.js';
import { displayUrl } from '../database-url.js';
import { describeError, numbered, type Driver, type SqlWords } from '../driver.js';

export { displayUrl };

/** The first key of every jellyfish advisory lock ("jely"): keeps them apart from the application's own. */
export const ADVISORY_CLASS = 0x6a656c79;
/** A connection attempt that gets no answer. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * A statement that gets no answer (a server or network that went silent): the run must still end
 * with its JSON. The largest batch (500 hosts seen for the first time) takes seconds.
 */
export const QUERY_TIMEOUT_MS = 30_000;
/** Closing politely waits this long for the server before the socket is dropped. */
const CLOSE_WAIT_MS = 2_000;

export type Client = pg.Client;

/** int8 (counts, ids) as a JS number: ids stay far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** PostgreSQL text cannot hold NUL: it becomes U+FFFD, as invalid UTF-8 does on the way in. */
export const clean = (s: string | null | undefined): string | null => (s == null ? null : withoutNul(s));
export const cleanText = (s: unknown): string => clean(typeof s === 'string' ? s : String(s)) as string;

export const PG_WORDS: SqlWords = {
  noIndex: (c) => c,
  inList: (c, p = '?') => `${c} = ANY(${p})`,
  containsFolded: (text, part) => `strpos(lower(${text}), lower(${part})) > 0`,
  likeFolded: 'ILIKE',
  sameSubtype: (c, p) => `left(${c}, 200) = left(${p}, 200) AND ${c} = ${p}`,
};

/** End a connection; a server that does not answer any more gets its socket dropped instead of a wait. */
export async function endClient(client: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), CLOSE_WAIT_MS); });
  const ended = client.end().then(() => false, () => false);
  const stuck = await Promise.race([ended, gaveUp]);
  clearTimeout(timer);
  if (stuck) (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** A plain connection to `url` (the store's, or a lock's); connection-level errors are kept, not thrown at random. */
export async function connect(url: string, onError: (e: Error) => void, applicationName = 'jellyfish', queryTimeoutMs = QUERY_TIMEOUT_MS): Promise<Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: queryTimeoutMs,
    statement_timeout: queryTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types: TYPES,
  });
  // An idle connection the server drops emits 'error': without a listener it would end the process.
  client.on('error', onError);
  try {
    await client.connect();
  } catch (e) {
    client.removeListener('error', onError);
    const hint = /password|authentication/i.test(describeError(e)) ? ' (the password comes from PGPASSWORD or ~/.pgpass, never from scheduler.ini)' : '';
    throw new StorageError(`${displayUrl(url)}: cannot connect: ${describeError(e)}${hint}`);
  }
  return client;
}

export class PgDriver implements Driver {
  readonly dialect = 'postgresql';
  readonly sql = PG_WORDS;
  /** the connection-level error that broke the client, if one did: every later statement fails with it */
  broken: Error | undefined;

  constructor(readonly name: string, readonly client: Client) {}

  private check(): void {
    if (this.broken) throw new StorageError(`${this.name}: the connection was lost: ${describeError(this.broken)}`);
  }

  /** A statement already in `$n` form (the engine's own SQL), rows as objects. */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<pg.QueryResult<R>> {
    this.check();
    return this.client.query<R>(sql, params as unknown[]);
  }

  /** A statement already in `$n` form, each row an array of its columns (pg's rowMode 'array'). */
  async queryArrays<R extends unknown[] = unknown[]>(sql: string, params: readonly unknown[] = []): Promise<pg.QueryResult<R>> {
    this.check();
    return this.client.query<R>({ text: sql, values: params as unknown[], rowMode: 'array' });
  }

  async all(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    return (await this.query(numbered(sql), params)).rows;
  }

  async arrays(sql: string, params: readonly unknown[] = []): Promise<unknown[][]> {
    return (await this.queryArrays(numbered(sql), params)).rows;
  }

  /** pg reads rows as arrays cheaply: the rows, turned into columns. */
  async columns(sql: string, params: readonly unknown[], columns: readonly string[]): Promise<unknown[][]> {
    const rows = await this.arrays(sql, params);
    return columns.map((_, c) => rows.map((r) => r[c]));
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.query(numbered(sql), params)).rowCount ?? 0;
  }

  list(values: readonly unknown[]): unknown[] {
    return [...values];
  }

  text(s: string | null | undefined): string | null {
    return clean(s);
  }
}
