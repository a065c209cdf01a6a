// `jellyfish migrate` against a real PostgreSQL server (started here), through the real CLI: a
// SQLite history written through the store API (runs, failed hosts, pushes, prune's archive, a
// NUL in a value) is copied and verified; both stores then answer the read side the same; the
// PostgreSQL store takes new writes (sequences moved past the copied ids); a migrate killed with
// SIGKILL mid-copy resumes without duplicating a row; a finished one re-run is a no-op; a target
// with other data, a source written since the copy began, and a URL with a password are refused.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { ingestText } from '../src/app/ingest.js';
import { pruneFacts } from '../src/app/prune.js';
import type { InventoryHost } from '../src/inventory/host.js';
import { advisoryKey } from '../src/lock/pg-lock.js';
import type { CollectionResult, HostResult } from '../src/core/results.js';
import type { PgStore } from '../src/store/postgres/store.js';
import { openAnyStore, openStore, type Store } from '../src/store/store.js';
import { postgresSkipReason, startPostgres, type PgServer } from './helpers/postgres.js';

const skip = postgresSkipReason();
const BIN = path.resolve('bin/jellyfish');
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (h: number) => T0 + h * 3_600_000;
const HOSTS = 200;
const PACKAGES = 250;
const SERVICES = 49;

const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 3 });
const host = (label: string, i: number): InventoryHost =>
  ({ label, host: label, port: undefined, srvtype: 'web', pop: i % 2 ? 'fra' : 'ams', status: i % 5 ? 'prod' : 'spare', notes: '', isProd: i % 5 !== 0, line: i + 1 }) as unknown as InventoryHost;

/** Round r of a fleet: 300 facts a host, a few values changed each round, some hosts failing. */
function round(labels: string[], r: number): HostResult[] {
  return labels.map((label, i) => {
    const finishedAt = at(r) + i * 1000;
    if ((i + r) % 37 === 0) return { label, outcome: 'unreachable', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED', startedAt: finishedAt - 500, finishedAt, collections: [], outputBytes: 0 } as HostResult;
    const pk: Record<string, string> = {};
    for (let p = 0; p < PACKAGES; p++) pk[`pkg${p}`] = `1.${(p + i) % 7 === r % 7 ? r : 0}`;
    pk.openssl = (i + r) % 4 === 0 ? '1.1.1w' : '3.0.11';
    const sv: Record<string, string> = {};
    for (let s = 0; s < SERVICES; s++) sv[`svc${s}`] = (s + i + r) % 13 === 0 ? 'failed' : 'running';
    const collections = [ok('packages', pk), ok('services', sv), ok('rkernel', { default: `6.1.${r % 2}` })];
    if (i === 3) collections.push(ok('hostile', { nul: 'a\0b', quote: `it's "q" \\ {x,y}`, '': 'empty subtype' }));
    return { label, outcome: 'ok', startedAt: finishedAt - 800, finishedAt, collections, outputBytes: 4096 } as HostResult;
  });
}

/** A history through the SQLite store's own writes: 5 runs, pushes, a prune to the archive. */
async function buildHistory(file: string, hosts: number, rounds: number): Promise<void> {
  const s = openStore(file);
  const labels = Array.from({ length: hosts }, (_, i) => `h${String(i).padStart(3, '0')}.example`);
  await s.upsertHosts(labels.map(host));
  for (let r = 0; r < rounds; r++) {
    const runId = await s.beginRun({ mode: 'run', startedAt: new Date(at(r)), pid: 10 + r, hostname: 'collector1', threads: 64, workers: 2 });
    const results = round(labels, r);
    await s.recordResults(runId, results.slice(0, 120));
    await s.recordResults(runId, results.slice(120));
    await s.finishRun(runId, new Date(at(r) + 600_000), 0, JSON.stringify({ round: r }));
    if (r === 2) await pruneFacts(s, { beforeMs: at(2), mode: 'archive', pauseMs: 0 });
  }
  const docs = [
    { collection_hostname: 'H001.EXAMPLE', collection_timestamp: new Date(at(rounds + 1)).toISOString(), collection_data: { agent: { version: '2' } } },
    { collection_hostname: 'agent-only.example', collection_timestamp: new Date(at(rounds + 1)).toISOString(), collection_data: { rkernel: { default: '5.10' } }, pop: 'fra', status: 'prod' },
  ].map((d) => JSON.stringify(d)).join('\n');
  await ingestText(s, docs, { prodStatuses: ['prod'] });
  // An unfinished run (killed): lastRuns shows it.
  await s.beginRun({ mode: 'gap-fix', startedAt: new Date(at(rounds + 2)), pid: 99, hostname: 'collector1', threads: 16, workers: 0 });
  s.close();
}

interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** The real CLI; with `killWhen`, SIGKILL as soon as that resolves true (asked every 10 ms). */
function jf(pgs: PgServer, args: string[], killWhen?: () => Promise<boolean>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...pgs.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let ended = false;
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => { ended = true; resolve({ code, signal, stdout, stderr }); });
    const poll = async (): Promise<void> => {
      if (ended || !killWhen) return;
      if (await killWhen().catch(() => false)) { child.kill('SIGKILL'); return; }
      setTimeout(() => void poll(), 10);
    };
    void poll();
  });
}

/** What the read side answers, NUL mapped as PostgreSQL stores it. Ids are copied as they are, so they stay in. */
async function answers(store: Store): Promise<unknown> {
  const hosts = await store.listHosts();
  const facts: Record<string, unknown> = {};
  for (const h of hosts) facts[h.name] = await store.hostFacts((await store.findHost(h.name))!, { history: true });
  const out = {
    hosts, facts,
    audit: await store.auditQuery({ type: 'packages', subtype: 'openssl', value: '1.1.1w' }),
    like: await store.auditQuery({ type: 'services', like: 'fail%' }),
    types: await store.factTypes(),
    rows: await store.factRowCount(),
    runs: await store.lastRuns(),
    sapi: [...(await store.sapiHostsSince(0))].sort(),
  };
  return JSON.parse(JSON.stringify(out).replaceAll('\\u0000', '\uFFFD'));
}

async function count(c: pg.Client, sql: string): Promise<number> {
  return Number((await c.query(sql)).rows[0].n);
}


t.test('jellyfish migrate', { skip: skip ?? false }, async (t) => {
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  process.env.PGPASSWORD = pgs.password;
  t.teardown(() => { delete process.env.PGPASSWORD; });
  const dir = t.testdir();
  const file = path.join(dir, 'jf.db');
  const built = Date.now();
  await buildHistory(file, HOSTS, 5);
  t.comment(`history built in ${((Date.now() - built) / 1000).toFixed(1)} s`);
  const sqlite = openStore(file, { readonly: true });
  const srcRows = (sql: string) => Number((sqlite.database.prepare(sql).get() as { n: number }).n);
  const archived = srcRows('SELECT COUNT(*) AS n FROM facts_archive');
  t.ok(archived > 0, `${archived} archived intervals in the source`);
  const total = ['hosts', 'runs', 'attempts', 'attempt_collections', 'facts', 'fact_types', 'facts_archive', 'fact_changes']
    .reduce((a, tb) => a + srcRows(`SELECT COUNT(*) AS n FROM ${tb}`), 0);

  t.test('a full copy: verified, the same answers, and the PostgreSQL store writes on', async (t) => {
    const url = await pgs.createDatabase('full');
    const started = Date.now();
    const r = await jf(pgs, ['migrate', '--to', url, '--from', file, '--json']);
    const secs = (Date.now() - started) / 1000;
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    t.equal(out.verified, true);
    t.equal(out.to, url);
    t.equal(out.copied, total, `${total} rows copied in ${secs.toFixed(1)} s (${Math.round(total / secs)} rows/s with the CLI start)`);
    t.equal(out.resumed, false);
    t.match(out.next, /\[storage\] database = postgresql:\/\/jellyfish@127\.0\.0\.1/);
    t.same(Object.keys(out.tables), ['attempt_collections', 'attempts', 'fact_changes', 'fact_types', 'facts', 'facts_archive', 'facts_current', 'hosts', 'runs']);
    for (const [tb, c] of Object.entries(out.tables as Record<string, { source: number; target: number }>)) t.equal(c.target, c.source, `${tb}: ${c.source}`);
    t.match(r.stderr, /migrate: hosts: 201 rows copied/);
    t.match(r.stderr, /migrate: facts_archive: /);
    t.notMatch(r.stdout + r.stderr, new RegExp(pgs.password));
    t.comment(`migrate itself: ${out.elapsed_s} s; ${r.stderr.match(/facts: .*rows\/s/)?.[0]}`);

    const target = await openAnyStore(url, { readonly: true });
    t.same(await answers(target), await answers(sqlite), 'hosts, every interval of every host, audit answers, last runs, sapi hosts');
    await target.close();

    const again = await jf(pgs, ['migrate', '--to', url, '--from', file]);
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /^TABLE +SQLITE +POSTGRESQL +CHECK/);
    t.match(again.stdout, /verified: .* 0 rows copied/);
    t.match(again.stdout, /next: set \[storage\] database = /);
    t.match(again.stderr, /continuing the copy begun/);

    // New writes after the copy: new ids past the copied ones, no key conflict.
    const pgStore = await openAnyStore(url) as PgStore;
    const maxRun = srcRows('SELECT MAX(id) AS n FROM runs');
    const runId = await pgStore.beginRun({ mode: 'run', startedAt: new Date(at(20)), pid: 1, hostname: 'collector2', threads: 4, workers: 0 });
    t.ok(runId > maxRun, `a new run gets id ${runId} > ${maxRun}`);
    const labels = ['h000.example', 'h001.example', 'new.example'];
    await pgStore.recordResults(runId, round(labels, 9));
    await pgStore.upsertHosts([host('newer.example', 1)]);
    const c = pgStore.connection;
    t.ok(await count(c, 'SELECT MIN(id) AS n FROM facts WHERE first_seen >= \'2026-01-01T09:00:00.000Z\'') > srcRows('SELECT MAX(id) AS n FROM facts'), 'new facts get new ids');
    t.ok(await count(c, "SELECT id AS n FROM hosts WHERE name = 'newer.example'") > srcRows('SELECT MAX(id) AS n FROM hosts'), 'a new host gets a new id');
    t.equal((await pgStore.auditQuery({ type: 'rkernel', value: '6.1.1' })).filter((h) => labels.includes(h.host)).length, 3, 'the new facts answer');
    await pgStore.close();

    // The source's history is now in a store that was written to: a migrate says the counts differ.
    const after = await jf(pgs, ['migrate', '--to', url, '--from', file, '--json']);
    t.equal(after.code, 74, 'counts differ: 74');
    t.equal(JSON.parse(after.stdout).verified, false);
    t.match(after.stderr, /does not match: hosts 201 in SQLite, 203 in PostgreSQL/);
  });

  t.test('killed with SIGKILL mid-copy, a migrate resumes without a duplicate row', async (t) => {
    const url = await pgs.createDatabase('resume');
    // Watched from outside: killed once the copy is inside the facts table (a batch of it committed).
    const cfg = new URL(url);
    const watch = new pg.Client({ host: cfg.hostname, port: Number(cfg.port), user: cfg.username, database: cfg.pathname.slice(1), password: pgs.password });
    await watch.connect();
    t.teardown(() => watch.end());
    const killed = await jf(pgs, ['migrate', '--to', url, '--from', file, '--batch', '500'], async () =>
      Number((await watch.query("SELECT COALESCE(MAX(rows), 0) AS n FROM migrate_progress WHERE tbl = 'facts'")).rows[0].n) >= 5_000);
    t.equal(killed.signal, 'SIGKILL', 'killed');
    const c0 = (await openAnyStore(url, { readonly: true })) as PgStore;
    const partFacts = await count(c0.connection, 'SELECT COUNT(*) AS n FROM facts');
    const progress = (await c0.connection.query('SELECT tbl, rows FROM migrate_progress ORDER BY tbl')).rows;
    await c0.close();
    t.ok(partFacts > 0 && partFacts < srcRows('SELECT COUNT(*) AS n FROM facts'), `stopped mid-facts, with ${partFacts} facts copied; progress ${JSON.stringify(progress)}`);

    const started = Date.now();
    const r = await jf(pgs, ['migrate', '--to', url, '--from', file, '--batch', '500', '--json']);
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    t.equal(out.verified, true);
    t.equal(out.resumed, true);
    t.ok(out.copied < total, `the re-run copied ${out.copied} of ${total} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const s = (await openAnyStore(url, { readonly: true })) as PgStore;
    const c = s.connection;
    t.equal(await count(c, 'SELECT COUNT(*) - COUNT(DISTINCT (attempt_id, type)) AS n FROM attempt_collections'), 0, 'no collection twice');
    t.equal(await count(c, 'SELECT COUNT(*) - COUNT(DISTINCT (id, archived_at)) AS n FROM facts_archive'), 0, 'no archived row twice');
    t.equal(await count(c, 'SELECT COUNT(*) - COUNT(DISTINCT (host_id, type, subtype, value, first_seen)) AS n FROM facts'), 0, 'no fact twice');
    t.same(await answers(s), await answers(sqlite), 'the same answers as the source');
    const rows = (await c.query("SELECT tbl, rows FROM migrate_progress WHERE tbl <> '*'")).rows;
    t.same(rows.map((x) => [x.tbl, Number(x.rows)]).sort(), Object.entries(out.tables).filter(([tb]) => tb !== 'facts_current').map(([tb, v]) => [tb, (v as { source: number }).source]).sort(),
      'progress counts every row once');
    await s.close();
  });

  t.test('refused: a target holding other data, a source written since the copy, a URL with a password, an INI naming PostgreSQL', async (t) => {
    const small = path.join(dir, 'small.db');
    await buildHistory(small, 5, 2);

    const foreign = await pgs.createDatabase('foreign');
    const other = await openAnyStore(foreign);
    await other.upsertHosts([host('someone-else.example', 1)]);
    await other.close();
    const r = await jf(pgs, ['migrate', '--to', foreign, '--from', small]);
    t.equal(r.code, 64, r.stderr);
    t.match(r.stderr, /already holds jellyfish data that did not come from .*small\.db \(1 hosts, 0 runs, 0 facts\): migrate into an empty database/);

    const url = await pgs.createDatabase('changed');
    t.equal((await jf(pgs, ['migrate', '--to', url, '--from', small])).code, 0);
    const w = openStore(small);
    const runId = await w.beginRun({ mode: 'run', startedAt: new Date(at(30)), pid: 1, hostname: 'c', threads: 1, workers: 0 });
    await w.recordResults(runId, round(['h000.example'], 30));
    w.close();
    const changed = await jf(pgs, ['migrate', '--to', url, '--from', small]);
    t.equal(changed.code, 74, changed.stderr);
    t.match(changed.stderr, /has been written since the copy into .* began .*migrate again/);

    // Another migrate copying into the same database (its advisory lock held here): 75, the holder named.
    const holder = await openAnyStore(url) as PgStore;
    await holder.connection.query('SELECT pg_advisory_lock($1, $2)', [0x6a656c79, advisoryKey('migrate')]);
    const locked = await jf(pgs, ['migrate', '--to', url, '--from', small]);
    await holder.close();
    t.equal(locked.code, 75, locked.stderr);
    t.match(locked.stderr, /another jellyfish migrate is copying into this database/);
    t.match(JSON.parse(locked.stdout), { locked: true, holder: { application_name: 'jellyfish' } });

    const withPassword = url.replace('jellyfish@', 'jellyfish:secret@');
    const pw = await jf(pgs, ['migrate', '--to', withPassword, '--from', small]);
    t.equal(pw.code, 64);
    t.match(pw.stderr, /the URL carries a password; give it in PGPASSWORD or ~\/\.pgpass/);
    t.notMatch(pw.stderr, /secret/);
    const inQuery = await jf(pgs, ['migrate', '--to', `${url}?password=secret`, '--from', small]);
    t.equal(inQuery.code, 64, 'a password as a query parameter: refused too');
    t.match(inQuery.stderr, /--to: \[storage\] database: the URL carries a secret in 'password='/);
    t.notMatch(inQuery.stderr + inQuery.stdout, /=secret/);
    t.equal((await jf(pgs, ['migrate', '--to', small, '--from', small])).code, 64, 'a file as --to');
    t.equal((await jf(pgs, ['migrate', '--to', url, '--from', small, '--batch', '0'])).code, 64, '--batch 0');

    const ini = path.join(dir, 'pg.ini');
    fs.writeFileSync(ini, `[storage]\ndatabase = ${url}\n`);
    const named = await jf(pgs, ['migrate', '--to', url, '-c', ini]);
    t.equal(named.code, 64);
    t.match(named.stderr, /already names a PostgreSQL database .*--from/);
    const missing = await jf(pgs, ['migrate', '--to', url, '--from', path.join(dir, 'none.db')]);
    t.equal(missing.code, 74);
    t.match(missing.stderr, /no database at .*none\.db/);
  });

  t.teardown(() => sqlite.close());
});
