// The change feed on a big history (SPEC §9): 10,000 hosts x 890 facts, 30 nightly collections,
// 1 % of the values changing each night, on SQLite and on PostgreSQL side by side. Times the real
// binary, spawn to exit: `changes --since 24h` and `changes --since 30d --type packages`.
//
//   npm run build && node bench/changes.mjs [--hosts 10000] [--reps 3] [--engines sqlite,postgresql] [--keep]
//   (also `npm run bench -- --only changes`)
//
// The history is written straight into the tables (the intervals a month of runs would leave),
// night by night in the order the runs would have appended them, rather than by 30 runs of
// 10,000 hosts, which would take an hour; the indexes are built after the load, as the
// migrations define them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { postgresUnavailable, postgresVersion, startPostgresServer } from './lib/postgres.mjs';
import { ROOT } from './lib/paths.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const HOSTS = Number(opt('hosts', 10_000));
const REPS = Number(opt('reps', 3));
const KEEP = args.includes('--keep');
/** `--engines sqlite` or `--engines postgresql` runs one side only (default both) */
const ENGINES = opt('engines', 'sqlite,postgresql').split(',');
const NIGHTS = 30;
const PACKAGES = 600;
/** the other collections: 10 types of 29 subtypes, 890 facts per host in all */
const OTHER_TYPES = Array.from({ length: 10 }, (_, i) => `type${i}`);
const PER_OTHER = 29;
const CHANGE_RATE = 0.01;
const DAY = 86_400_000;
const log = (s) => process.stderr.write(`${s}\n`);

const { openAnyStore } = await import(path.join(ROOT, 'dist/store/store.js'));

// Whether the value of (host, key) changes on night n: a hash, not a running generator, so the
// intervals can be written night by night in the order nightly runs append them (a real table
// grows so: each night's new values sit together), and the same on both engines and every machine.
function changes(h, k, n) {
  let t = Math.imul(h, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77) ^ Math.imul(n, 0xc2b2ae3d);
  t = Math.imul(t ^ (t >>> 16), 0x7feb352d);
  t = Math.imul(t ^ (t >>> 15), 0x846ca68b);
  return ((t ^ (t >>> 16)) >>> 0) / 4294967296 < CHANGE_RATE;
}

const now = Date.now();
/** night n of 0..NIGHTS, at an hour before now for the last: night 0 is just over 30 days ago */
const night = (n) => new Date(now - (NIGHTS - n) * DAY - 3_600_000).toISOString();
/** when night n's run finished host h: each host at its own moment of a 35-minute run, as a run records it */
const hostNight = (n, h) => new Date(now - (NIGHTS - n) * DAY - 3_600_000 + Math.floor((h / HOSTS) * 35 * 60_000)).toISOString();

const KEYS = [
  ...Array.from({ length: PACKAGES }, (_, k) => ['packages', `pkg${k}`]),
  ...OTHER_TYPES.flatMap((t) => Array.from({ length: PER_OTHER }, (_, k) => [t, `key${k}`])),
];

/**
 * Calls `emit(row)` for every interval opened on `night(n)` by hosts from..to, with how it ends:
 * [host_id, type, subtype, value, first_seen, last_seen, is_current, closed_at], and
 * `emit.change(row)` for the change-feed row the store appends with it ([at, host_id, type,
 * subtype, change, old_value, new_value]). Night 0 is every host's first collection (all its
 * facts, none in the feed); a later night opens the values that changed on it.
 */
function generateNight(n, emit, from = 1, to = HOSTS) {
  for (let h = from; h <= to; h++) {
    for (let k = 0; k < KEYS.length; k++) {
      if (n > 0 && !changes(h, k, n)) continue;
      let version = 0;
      for (let m = 1; m <= n; m++) if (changes(h, k, m)) version++;
      let end = n + 1;
      while (end <= NIGHTS && !changes(h, k, end)) end++;
      const [type, subtype] = KEYS[k];
      const value = `1.${version}-${h % 7}`;
      // After night 0 an opening is a change: the key's previous value closed at this collection.
      if (n > 0) emit.change([hostNight(n, h), h, type, subtype, 'changed', `1.${version - 1}-${h % 7}`, value]);
      if (end <= NIGHTS) emit([h, type, subtype, value, hostNight(n, h), hostNight(end - 1, h), 0, hostNight(end, h)]);
      else emit([h, type, subtype, value, hostNight(n, h), hostNight(NIGHTS, h), 1, null]);
    }
  }
}

/** Every interval, night by night (the order nightly runs write them), hosts in blocks of `block`. */
async function generate(emit, block = HOSTS) {
  for (let n = 0; n <= NIGHTS; n++) {
    for (let h = 1; h <= HOSTS; h += block) {
      generateNight(n, emit, h, Math.min(HOSTS, h + block - 1));
      await emit.batch?.();
    }
  }
}

const hostRow = (h) => [h, `host${h}.${['ams', 'fra', 'lon', 'nyc'][h % 4]}`, h % 3 ? 'web' : 'db', h % 4 === 0 ? 'ams' : 'fra', 'prod', 1, hostNight(0, h), hostNight(0, h)];

async function fillSqlite(file) {
  (await openAnyStore(file)).close();
  const { default: Database } = await import(path.join(ROOT, 'node_modules/better-sqlite3/lib/index.js'));
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('facts', 'fact_changes') AND sql IS NOT NULL").all();
  for (const i of indexes) db.exec(`DROP INDEX ${i.name}`);
  const host = db.prepare('INSERT INTO hosts (id, name, srvtype, pop, status, is_prod, first_seen_at, first_facts_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const fact = db.prepare('INSERT INTO facts (host_id, type, subtype, value, first_seen, last_seen, is_current, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const change = db.prepare('INSERT INTO fact_changes (at, host_id, type, subtype, change, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const ft = db.prepare('INSERT INTO fact_types (host_id, type, last_seen) VALUES (?, ?, ?)');
  let rows = 0;
  db.exec('BEGIN');
  for (let h = 1; h <= HOSTS; h++) {
    host.run(...hostRow(h));
    for (const t of ['packages', ...OTHER_TYPES]) ft.run(h, t, night(NIGHTS));
  }
  const emit = (r) => {
    fact.run(...r);
    if (++rows % 500_000 === 0) { db.exec('COMMIT'); db.exec('BEGIN'); }
  };
  emit.change = (r) => { change.run(...r); };
  await generate(emit);
  db.exec('COMMIT');
  for (const i of indexes) db.exec(i.sql);
  db.exec('ANALYZE');
  db.close();
  return rows;
}

async function fillPostgres(url, pgServer) {
  const store = await openAnyStore(url);
  await store.close();
  const { default: pg } = await import(path.join(ROOT, 'node_modules/pg/lib/index.js'));
  const c = new pg.Client({ connectionString: url, password: pgServer.password });
  await c.connect();
  const indexes = (await c.query("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('facts', 'fact_changes') AND indexname NOT IN ('facts_pkey', 'fact_changes_pkey')")).rows;
  for (const i of indexes) await c.query(`DROP INDEX ${i.indexname}`);
  const hosts = Array.from({ length: HOSTS }, (_, i) => hostRow(i + 1));
  const col = (rows, i) => rows.map((r) => r[i]);
  await c.query(`INSERT INTO hosts (id, name, srvtype, pop, status, is_prod, first_seen_at, first_facts_at)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[])`, hosts[0].map((_, i) => col(hosts, i)));
  for (const t of ['packages', ...OTHER_TYPES]) {
    await c.query('INSERT INTO fact_types (host_id, type, last_seen) SELECT h, $1, $2 FROM generate_series(1, $3::int) h', [t, night(NIGHTS), HOSTS]);
  }
  let batch = [];
  let changed = [];
  let rows = 0;
  const flush = async () => {
    if (batch.length) {
      await c.query(`INSERT INTO facts (host_id, type, subtype, value, first_seen, last_seen, is_current, closed_at)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[])`, batch[0].map((_, i) => col(batch, i)));
    }
    if (changed.length) {
      await c.query(`INSERT INTO fact_changes (at, host_id, type, subtype, change, old_value, new_value)
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`, changed[0].map((_, i) => col(changed, i)));
    }
    batch = [];
    changed = [];
  };
  // Night by night, a few hundred hosts at a time (at most about 20,000 intervals a statement), so
  // the history is never all in memory.
  const emit = (r) => { batch.push(r); rows++; };
  emit.change = (r) => { changed.push(r); };
  emit.batch = flush;
  await generate(emit, 20);
  for (const i of indexes) await c.query(i.indexdef);
  await c.query('ANALYZE');
  await c.end();
  return rows;
}

function timeCommand(dir, env, cliArgs) {
  const out = path.join(dir, 'out.ndjson');
  const t0 = performance.now();
  const fd = fs.openSync(out, 'w');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/jellyfish'), 'changes', ...cliArgs, '--format', 'ndjson'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', fd, 'pipe'], maxBuffer: 1 << 24 });
  fs.closeSync(fd);
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`changes ${cliArgs.join(' ')}: exit ${r.status}: ${r.stderr}`);
  let lines = 0;
  const buf = fs.readFileSync(out);
  for (let i = 0; i < buf.length; i++) if (buf[i] === 10) lines++;
  fs.rmSync(out);
  return { ms, rows: lines };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

export async function benchChanges() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-bench-changes-'));
  const stores = [];
  const results = { hosts: HOSTS, nights: NIGHTS, factsPerHost: PACKAGES + OTHER_TYPES.length * PER_OTHER, changeRate: CHANGE_RATE, reps: REPS, engines: {} };
  let pgServer;
  try {
    let t0 = performance.now();
    if (ENGINES.includes('sqlite')) {
      const sqliteDir = path.join(work, 'sqlite');
      fs.mkdirSync(sqliteDir);
      const rowsSqlite = await fillSqlite(path.join(sqliteDir, 'jf.db'));
      log(`sqlite: ${rowsSqlite} intervals loaded and indexed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      fs.writeFileSync(path.join(sqliteDir, 'scheduler.ini'), '[storage]\ndatabase = jf.db\n');
      stores.push({ engine: 'SQLite', dir: sqliteDir, env: {}, rows: rowsSqlite });
    }
    const noPg = ENGINES.includes('postgresql') ? postgresUnavailable() : 'not asked for (--engines)';
    if (noPg) log(`PostgreSQL skipped: ${noPg}`);
    else {
      pgServer = await startPostgresServer({ databases: ['changes'], log });
      const url = pgServer.databases.changes;
      process.env.PGPASSWORD = pgServer.password;
      const pgDir = path.join(work, 'pg');
      fs.mkdirSync(pgDir);
      t0 = performance.now();
      const rowsPg = await fillPostgres(url, pgServer);
      log(`postgresql: ${rowsPg} intervals loaded and indexed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      fs.writeFileSync(path.join(pgDir, 'scheduler.ini'), `[storage]\ndatabase = ${url}\n`);
      stores.push({ engine: 'PostgreSQL', dir: pgDir, env: pgServer.env ?? { PGPASSWORD: pgServer.password }, rows: rowsPg });
      results.postgres = postgresVersion();
    }
    const questions = [
      { id: 'day', args: ['--since', '24h'], target: 2000 },
      { id: 'month-packages', args: ['--since', '30d', '--type', 'packages'], target: 10_000 },
    ];
    for (const s of stores) results.engines[s.engine] = { intervals: s.rows, questions: {} };
    // What any command costs (node start-up, loading the CLI): the floor under every figure.
    results.startupMs = [];
    for (let rep = 1; rep <= REPS; rep++) {
      const t1 = performance.now();
      spawnSync(process.execPath, [path.join(ROOT, 'bin/jellyfish'), '--version'], { stdio: 'ignore' });
      results.startupMs.push(Math.round(performance.now() - t1));
    }
    // Rows take turns, rep by rep, so a burst of load elsewhere hits them alike.
    for (let rep = 1; rep <= REPS; rep++) {
      for (const q of questions) {
        for (const s of stores) {
          const r = timeCommand(s.dir, s.env, q.args);
          log(`  ${s.engine} changes ${q.args.join(' ')}: ${r.ms.toFixed(0)} ms, ${r.rows} rows (rep ${rep})`);
          const slot = (results.engines[s.engine].questions[q.id] ??= { args: q.args, target: q.target, ms: [], rows: r.rows });
          slot.ms.push(Math.round(r.ms));
        }
      }
    }
    const lines = [
      `**Change feed, ${HOSTS.toLocaleString('en')} hosts x ${results.factsPerHost} facts, ${NIGHTS} nightly collections, ${CHANGE_RATE * 100} % of values changing per night** (\`node bench/changes.mjs\`; wall time of \`jellyfish changes ... --format ndjson\`, spawn to exit, median of ${REPS} with min–max)`,
      '',
      '| question | engine | intervals stored | rows out | wall ms | target ms | ratio to target |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const q of questions) {
      for (const s of stores) {
        const slot = results.engines[s.engine].questions[q.id];
        const m = median(slot.ms);
        lines.push(`| \`changes ${q.args.join(' ')}\` | ${s.engine} | ${s.rows.toLocaleString('en')} | ${slot.rows.toLocaleString('en')} | ${m} (${Math.min(...slot.ms)}–${Math.max(...slot.ms)}) | ${q.target} | ${(m / q.target).toFixed(2)} |`);
      }
    }
    lines.push('', `Start-up floor (\`jellyfish --version\`, same runs): ${median(results.startupMs)} ms.`);
    process.stdout.write(`\n${lines.join('\n')}\n`);
    results.table = lines.join('\n');
    return results;
  } finally {
    await pgServer?.stop();
    if (!KEEP) fs.rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchChanges();
  const file = path.join(ROOT, 'bench/results', `changes-${new Date().toISOString().slice(0, 10)}.json`);
  fs.writeFileSync(file, JSON.stringify(r, null, 1) + '\n');
  log(`wrote ${path.relative(ROOT, file)}`);
}
