// The private PostgreSQL harness (test/helpers/postgres.ts) works: the jellyfish role logs in over
// TCP with its password and nothing else does, extra databases can be made, and stop() leaves no
// server and no folder behind.
import fs from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import t from 'tap';
import { postgresSkipReason, startPostgres, type PgServer } from './helpers/postgres.js';

/** Host, port, user and database from the URL, the password apart (pg would let the URL's empty one win). */
function clientConfig(url: string, password?: string): pg.ClientConfig {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    database: decodeURIComponent(u.pathname.slice(1)),
    ...(password === undefined ? {} : { password }),
    connectionTimeoutMillis: 5000,
  };
}

async function query<T extends pg.QueryResultRow>(url: string, password: string | undefined, sql: string): Promise<T[]> {
  const c = new pg.Client(clientConfig(url, password));
  c.on('error', () => { /* connect() or query() reports it */ });
  try {
    await c.connect();
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

const skip = postgresSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  // The test runner may export PG* settings; a stray PGPASSWORD would defeat the no-password check.
  for (const k of Object.keys(process.env)) if (k.startsWith('PG')) delete process.env[k];

  let started = Date.now();
  const server: PgServer = await startPostgres();
  t.comment(`postgres on 127.0.0.1:${server.port} ready in ${Date.now() - started} ms`);
  t.teardown(() => server.stop());

  t.test('the URL names the role, 127.0.0.1 and the port, never the password', async (t) => {
    t.equal(server.url, `postgresql://jellyfish@127.0.0.1:${server.port}/jellyfish`);
    t.notMatch(server.url, server.password);
    t.same(server.env, { PGPASSWORD: server.password });
    t.ok(server.password.length >= 20, 'a long random password');
    t.equal(fs.statSync(server.dataDir).mode & 0o777, 0o700, 'the data folder is private');
  });

  t.test('the role logs in with its password over TCP', async (t) => {
    const rows = await query<{ version: string; user: string; db: string; ssl: boolean }>(
      server.url, server.password, 'SELECT version(), current_user AS user, current_database() AS db',
    );
    t.match(rows[0]?.version, /^PostgreSQL \d+/);
    t.equal(rows[0]?.user, 'jellyfish');
    t.equal(rows[0]?.db, 'jellyfish');
    const owner = await query<{ owner: string }>(server.url, server.password,
      "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'jellyfish'");
    t.equal(owner[0]?.owner, 'jellyfish', 'jellyfish owns its database');
    await query(server.url, server.password, 'CREATE TABLE probe (id int PRIMARY KEY); DROP TABLE probe');
  });

  t.test('PGPASSWORD from env works with the bare URL (what a child process gets)', async (t) => {
    process.env.PGPASSWORD = server.env.PGPASSWORD;
    try {
      const rows = await query<{ one: number }>(server.url, undefined, 'SELECT 1 AS one');
      t.equal(rows[0]?.one, 1);
    } finally {
      delete process.env.PGPASSWORD;
    }
  });

  t.test('TCP without the right password is refused', async (t) => {
    // pg gives up client-side once the server asks for SCRAM: the ask is the proof.
    await t.rejects(query(server.url, undefined, 'SELECT 1'), { message: /SCRAM/ }, 'no password: the server asks for SCRAM');
    await t.rejects(query(server.url, 'wrong', 'SELECT 1'), { code: '28P01' }, 'a wrong password: the server says no');
    const superuser = server.url.replace('jellyfish@', 'postgres@').replace(/\/jellyfish$/, '/postgres');
    await t.rejects(query(superuser, '', 'SELECT 1'), { message: /SCRAM/ }, 'the superuser is not trusted over TCP');
    await t.rejects(query(superuser, 'x', 'SELECT 1'), { code: '28P01' }, 'the superuser has no TCP password');
  });

  t.test('createDatabase makes an empty database owned by jellyfish', async (t) => {
    const url = await server.createDatabase('store_test_1');
    t.equal(url, `postgresql://jellyfish@127.0.0.1:${server.port}/store_test_1`);
    const rows = await query<{ db: string; tables: string }>(url, server.password,
      "SELECT current_database() AS db, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables");
    t.same(rows[0], { db: 'store_test_1', tables: '0' });
    await query(url, server.password, 'CREATE TABLE hosts (name text PRIMARY KEY)');
    await t.rejects(server.createDatabase('store_test_1'), { code: '42P04' }, 'a name in use is an error');
  });

  t.test('stop() shuts the server down and removes its folder', async (t) => {
    const { port, dataDir } = server;
    started = Date.now();
    await server.stop();
    t.comment(`stopped in ${Date.now() - started} ms`);
    t.ok(await refused(port), 'the port refuses connections');
    t.notOk(fs.existsSync(dataDir), 'the data folder is gone');
    await server.stop();
    t.pass('a second stop() is harmless');
  });
}
