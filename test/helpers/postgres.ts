// A private, real PostgreSQL server for the store tests: its own cluster in a temp folder, TCP on
// 127.0.0.1 at a free port with password (SCRAM) authentication, a unix socket in the data folder
// for the superuser, a `jellyfish` role with a random password and a `jellyfish` database it owns.
// Needs the PostgreSQL server binaries (CI installs postgresql, .ci/run); without them the caller
// gets a reason from postgresSkipReason() and skips. A Debian system cluster, if one was
// auto-started, is never touched: another port, another socket folder.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openAnyStore, type Store } from '../../src/store/store.js';

export interface PgServer {
  /** postgresql://jellyfish@127.0.0.1:PORT/jellyfish; never holds the password. */
  url: string;
  /**
   * The jellyfish role's password. Note: pg 8.23 drops a `password` option given next to a
   * `connectionString` that has none (the URL's empty password wins), so pass `env` to a child
   * process or split the URL into host/port/user/database for an in-process client.
   */
  password: string;
  /** { PGPASSWORD } for a child process that connects with `url`. */
  env: Record<string, string>;
  port: number;
  /** The cluster's folder (also holds the unix socket); gone after stop(). */
  dataDir: string;
  /** Creates an empty database owned by the jellyfish role; returns its URL (no password in it). */
  createDatabase(name: string): Promise<string>;
  /** What the server wrote to stderr so far (the last 64 KiB). */
  log(): string;
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The run-as account: the current user, or the Debian `postgres` user when we are root. */
interface RunAs {
  uid?: number;
  gid?: number;
}

const ROLE = 'jellyfish';
const SUPERUSER = 'postgres';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function onPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch { /* not here */ }
  }
  return undefined;
}

/** The highest version under /usr/lib/postgresql/<v>/bin (Debian's layout), else initdb/postgres on PATH. */
function findBinaries(): Binaries | undefined {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = fs.readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch { /* not Debian, or not installed */ }
  for (const v of versions) {
    const bin = path.join(root, v, 'bin');
    const initdb = path.join(bin, 'initdb');
    const postgres = path.join(bin, 'postgres');
    if (fs.existsSync(initdb) && fs.existsSync(postgres)) return { initdb, postgres };
  }
  const initdb = onPath('initdb');
  const postgres = onPath('postgres');
  return initdb && postgres ? { initdb, postgres } : undefined;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function postgresUser(): RunAs | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) && uid > 0 ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** undefined when startPostgres() can run here, else why not (shown as the skip reason). */
export function postgresSkipReason(): string | undefined {
  if (typeof process.getuid !== 'function') return 'PostgreSQL tests need a POSIX system';
  if (!findBinaries()) return 'PostgreSQL is not installed (apt-get install postgresql)';
  // PostgreSQL refuses to run as root; the Debian package creates the account it runs as.
  if (isRoot() && !postgresUser()) return `running as root and there is no ${SUPERUSER} user to run PostgreSQL as`;
  return undefined;
}

/** Environment for initdb/postgres: English messages (the port retry reads them), no stray PG* settings. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(PG|LC_|LANG)/.test(k)) env[k] = v;
  env.LC_ALL = 'C';
  return env;
}

function initdb(bin: string, dataDir: string, as: RunAs): Promise<void> {
  const args = [
    '-D', dataDir, '-U', SUPERUSER, '--auth-local=trust', '--auth-host=scram-sha-256',
    '--encoding=UTF8', '--locale=C',
    // A throwaway cluster: skipping the fsync of the new files saves most of initdb's time.
    '--no-sync',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...as, cwd: dataDir, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    // initdb on a slow disk takes a few seconds; a minute means it is stuck.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`initdb failed (${code ?? signal}):\n${out.trim()}`));
    });
  });
}

function configure(dataDir: string): void {
  // Only the superuser over the socket is trusted; every TCP login needs a SCRAM password.
  fs.writeFileSync(path.join(dataDir, 'pg_hba.conf'), [
    'local all all trust',
    'host all all 127.0.0.1/32 scram-sha-256',
    '',
  ].join('\n'));
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), [
    '',
    '# jellyfish test server',
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dataDir}'`,
    "password_encryption = 'scram-sha-256'",
    // Test speed: a crash may lose the cluster, which is thrown away anyway.
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    // Store tests open pools per test file; 200 leaves room for several at once.
    'max_connections = 200',
    'shared_buffers = 128MB',
    'huge_pages = off',
    'logging_collector = off',
    '',
  ].join('\n'));
}

/** A port the kernel just handed out; it can be taken again before postgres binds it (the caller retries). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function exitedAlready(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** As root, postgres runs as another user: every folder above its data folder must let others pass. */
function traversableByOthers(dir: string): boolean {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/** Resolves once the superuser can run a query over the socket; rejects if postgres exits first or time runs out. */
async function waitReady(child: ChildProcess, socketDir: string, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (child.pid === undefined || exitedAlready(child)) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) before accepting connections`);
    const c = new pg.Client({ host: socketDir, port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 2000 });
    c.on('error', () => { /* reported by connect() */ });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return;
    } catch (e) {
      // ENOENT (no socket yet) and 57P03 "the database system is starting up" are the normal wait.
      last = (e as Error).message;
    } finally {
      await c.end().catch(() => undefined);
    }
    await sleep(50);
  }
  throw new Error(`postgres on port ${port} did not accept connections within ${timeoutMs} ms (last: ${last})`);
}

async function asSuperuser<T>(socketDir: string, port: number, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: socketDir, port, user: SUPERUSER, database: 'postgres' });
  c.on('error', () => { /* a query or end() reports it */ });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

function dbUrl(port: number, database: string): string {
  return `postgresql://${ROLE}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

export async function startPostgres(): Promise<PgServer> {
  const reason = postgresSkipReason();
  if (reason) throw new Error(`startPostgres: ${reason}`);
  const bin = findBinaries()!;
  const as: RunAs = isRoot() ? postgresUser()! : {};

  // The data folder doubles as the socket folder: one folder to own, to protect and to remove.
  // A socket path must fit in 107 bytes; os.tmpdir() plus a short prefix does.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-pg-'));
  const cleanup = () => fs.rmSync(dataDir, { recursive: true, force: true });
  try {
    if (as.uid !== undefined) {
      if (!traversableByOthers(dataDir)) {
        throw new Error(`startPostgres: ${SUPERUSER} cannot enter ${os.tmpdir()}; set TMPDIR to a folder others can enter`);
      }
      fs.chownSync(dataDir, as.uid, as.gid!);
    }
    fs.chmodSync(dataDir, 0o700);
    await initdb(bin.initdb, dataDir, as);
    configure(dataDir);
  } catch (e) {
    cleanup();
    throw e;
  }

  let lastError: Error | undefined;
  // The free port can be taken between the probe and postgres's bind: try a few.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await freePort();
    let log = '';
    const child = spawn(bin.postgres, ['-D', dataDir, '-c', `port=${port}`], {
      ...as, cwd: dataDir, env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-65_536); });
    // 'exit', not 'close': after a SIGKILL, orphaned backends may hold the stderr pipe open.
    // A failed spawn emits 'error' and no 'exit' (waitReady sees no pid and gives up).
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.on('error', (e) => { log += `\nspawn ${bin.postgres}: ${e.message}\n`; resolve(); });
    });
    // A test process that dies without stop() must not leave a postgres behind. SIGQUIT is
    // immediate shutdown: the postmaster takes its backends down with it (SIGKILL after 5 s).
    const killOnExit = () => {
      try { child.kill('SIGQUIT'); } catch { /* gone */ }
      try { cleanup(); } catch { /* postgres may still be writing; the folder is in the temp dir */ }
    };
    process.once('exit', killOnExit);

    try {
      // Startup takes well under a second; 30 s covers a loaded 2-core machine.
      await waitReady(child, dataDir, port, 30_000);
      const password = crypto.randomBytes(24).toString('base64url');
      await asSuperuser(dataDir, port, async (c) => {
        await c.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD ${c.escapeLiteral(password)}`);
        await c.query(`CREATE DATABASE ${ROLE} OWNER ${ROLE}`);
      });

      let stopping: Promise<void> | undefined;
      return {
        url: dbUrl(port, ROLE),
        password,
        env: { PGPASSWORD: password },
        port,
        dataDir,
        log: () => log,
        async createDatabase(name: string): Promise<string> {
          // template0: template1 cannot be copied while any session is connected to it.
          await asSuperuser(dataDir, port, (c) => c.query(
            `CREATE DATABASE ${c.escapeIdentifier(name)} OWNER ${ROLE} TEMPLATE template0 ENCODING 'UTF8'`,
          ));
          return dbUrl(port, name);
        },
        stop() {
          stopping ??= (async () => {
            process.removeListener('exit', killOnExit);
            if (!exitedAlready(child)) {
              // SIGINT is fast shutdown: disconnect the sessions, checkpoint, exit.
              child.kill('SIGINT');
              const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
              await exited;
              clearTimeout(timer);
            }
            cleanup();
          })();
          return stopping;
        },
      };
    } catch (e) {
      if (!exitedAlready(child)) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      lastError = new Error(`${(e as Error).message}\npostgres log (tail):\n${log.trim().split('\n').slice(-20).join('\n')}`);
      if (/could not bind|Address already in use/i.test(log)) continue;
      break;
    }
  }
  cleanup();
  throw lastError ?? new Error('postgres did not start');
}

/**
 * A store on a database of its own in a private server, for a test's PostgreSQL half: started,
 * PGPASSWORD set, closed and stopped at the test's end. Undefined (with a comment) when the
 * server binaries are missing.
 */
export async function openTestPgStore(t: { comment(m: string): void; teardown(fn: () => unknown): void }, database: string): Promise<Store | undefined> {
  const skip = postgresSkipReason();
  if (skip) { t.comment(`PostgreSQL part skipped: ${skip}`); return undefined; }
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  process.env.PGPASSWORD = pgs.password;
  const store = await openAnyStore(await pgs.createDatabase(database));
  t.teardown(() => store.close());
  return store;
}
