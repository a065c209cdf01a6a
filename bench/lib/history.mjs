// A simulated month of a fleet, written straight into a store's tables: hosts with names, sites
// and roles; one nightly run and one afternoon gap-fix a day with final JSON summaries as a run
// writes them (every host name in their lists); one attempt per host per run with outcomes and
// error codes; and every host's facts as intervals, from the fixture fleet's real Debian outputs
// (about 880 facts a host), with a small share of values changing each night. Each host is
// collected at its own minute of the run, as in a real database, not all at one instant.
// Used by bench/pages.mjs (10,000 hosts) and scripts/screenshots.mjs --synthetic (a few dozen).
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

const DAY = 86_400_000;
const MIN = 60_000;
/** A nightly run takes about this long over the whole fleet. */
const RUN_SPAN = 35 * MIN;

/** A seeded generator: the same month on both engines and on every machine. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** type -> [[subtype, value]] from fixtures/outputs/debian12 (one line = `default`, else `key value` lines). */
export function factCatalog() {
  const dir = path.join(ROOT, 'fixtures/outputs/debian12');
  const out = [];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    const type = f.slice(0, -4);
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    if (lines.length === 1 && !['memory', 'users'].includes(type)) { out.push([type, 'default', lines[0].trim()]); continue; }
    const seen = new Set();
    for (const l of lines) {
      const m = /^(\S+)\s+(.*)$/.exec(l.trim());
      const [k, v] = m ? [m[1], m[2]] : [l.trim(), ''];
      if (seen.has(k)) continue;
      seen.add(k);
      out.push([type, k, v]);
    }
  }
  return out;
}

const SITES = ['ams', 'fra', 'lon', 'nyc'];
const ROLES = ['web', 'app', 'db', 'cache', 'lb'];
const FAILURES = [
  { outcome: 'unreachable', code: 'ETIMEDOUT', message: 'connect timed out after 10s' },
  { outcome: 'unreachable', code: 'ECONNREFUSED', message: 'connection refused' },
  { outcome: 'auth_failed', code: 'AUTH', message: 'all configured authentication methods failed' },
  { outcome: 'hostkey_mismatch', code: 'HOSTKEY', message: 'host key does not match known_hosts' },
  { outcome: 'error', code: 'CHANNEL', message: 'the server refused to open a session channel' },
];

/**
 * The month as plain rows, yielded as [table, row] in an order the foreign keys accept: hosts,
 * runs, attempts, attempt_collections (only the collections that did not end ok: what the pages
 * ask for), then facts and fact_types host by host (never all in memory). Ids are assigned here,
 * so both engines get the same rows. The last value (`return`) is { names, runs, attempts }.
 */
export function* generateMonth({ hosts: HOSTS, nights: NIGHTS = 30, changeRate = 0.01, now = Date.now(), seed = 1 }) {
  const early = [];
  const emit = (table, row) => early.push([table, row]);
  const catalog = factCatalog();
  const random = rng(seed);
  const names = Array.from({ length: HOSTS }, (_, i) => `${ROLES[i % ROLES.length]}${String(Math.floor(i / ROLES.length) + 1).padStart(HOSTS > 500 ? 4 : 2, '0')}.${SITES[Math.floor(i / 7) % SITES.length]}`);
  const prod = names.map((_, i) => i % 10 !== 9);
  // Night n's run starts at 02:00 UTC, n nights ago counted back from the last one.
  const lastNight = Math.floor((now - 2 * 3_600_000) / DAY) * DAY + 2 * 3_600_000;
  const nightStart = (n) => lastNight - (NIGHTS - 1 - n) * DAY;
  const hostAt = (n, h) => nightStart(n) + Math.floor((h / HOSTS) * RUN_SPAN) + 20_000;
  const iso = (ms) => new Date(ms).toISOString();
  // A few hosts go down for good three nights before the end (stale production hosts); the rest fail now and then.
  const downFrom = names.map((_, h) => (random() < 0.012 ? NIGHTS - 3 : Infinity));
  const state = names.map(() => ({ lastAttempt: null, lastSuccess: null, last: null }));
  let runId = 0;
  let attemptId = 0;
  for (let n = 0; n < NIGHTS; n++) {
    const id = ++runId;
    // One night in the month the deadline cut the run short.
    const cut = n === NIGHTS - 9 ? Math.floor(HOSTS * 0.97) : HOSTS;
    const okList = []; const failList = []; const failures = {}; const notStarted = []; const failProd = [];
    for (let h = 0; h < HOSTS; h++) {
      if (h >= cut) { notStarted.push(names[h]); continue; }
      const at = hostAt(n, h);
      const r = random();
      const f = n >= downFrom[h] ? FAILURES[h % 2] : r < 0.02 ? FAILURES[Math.floor(r * 250) % FAILURES.length] : undefined;
      const partial = !f && r > 0.985;
      const aid = ++attemptId;
      emit('attempts', [aid, id, h + 1, iso(at - 4000), iso(at), 4000, f ? f.outcome : partial ? 'partial' : 'ok', f ? f.code : null, f ? f.message : null, 0]);
      if (partial) emit('attempt_collections', [aid, 'services', 'timeout', null, 'timed out after 30s', 30_000]);
      state[h].lastAttempt = { at, outcome: f ? f.outcome : partial ? 'partial' : 'ok', code: f?.code ?? null, message: f?.message ?? null, run: id };
      if (f) { failList.push(names[h]); failures[names[h]] = { outcome: f.outcome, code: f.code, message: f.message }; if (prod[h]) failProd.push(names[h]); } else { okList.push(names[h]); state[h].lastSuccess = at; }
    }
    const started = nightStart(n);
    const finished = started + Math.floor(RUN_SPAN * (cut / HOSTS)) + 40_000 + Math.floor(random() * 5 * MIN);
    const summary = {
      exit_code: 0, run_id: id, jobtime: (finished - started) / 1000,
      global_success_hosts: okList.length, global_success_hosts_list: okList,
      global_fail_hosts: failList.length, global_fail_hosts_list: failList,
      global_fail_prod: failProd.length, global_fail_prod_list: failProd,
      sapi_hosts: 0, sapi_hosts_list: [], not_started_hosts: notStarted.length, not_started_hosts_list: notStarted, failures,
      ...(cut < HOSTS ? { Timeout: `Timeout reached with ${notStarted.length} items left on the queue.` } : {}),
    };
    emit('runs', [id, 'run', iso(started), iso(finished), 1, 'collector1', 256, 2, 0, JSON.stringify(summary), null]);
    // The afternoon gap-fix retries the production hosts that failed.
    // Its afternoon: the last night's is still to come.
    const gStart = started + 12 * 3_600_000;
    if (gStart > now) continue;
    const gid = ++runId;
    const gOk = []; const gFail = []; const gFailures = {};
    failProd.forEach((name, i) => {
      const h = names.indexOf(name);
      const at = gStart + 5000 + i * 200;
      const still = n >= downFrom[h] || random() < 0.3;
      const aid = ++attemptId;
      const f = FAILURES[h % 2];
      emit('attempts', [aid, gid, h + 1, iso(at - 3000), iso(at), 3000, still ? f.outcome : 'ok', still ? f.code : null, still ? f.message : null, 0]);
      state[h].lastAttempt = { at, outcome: still ? f.outcome : 'ok', code: still ? f.code : null, message: still ? f.message : null, run: gid };
      if (still) { gFail.push(name); gFailures[name] = f; } else { gOk.push(name); state[h].lastSuccess = at; }
    });
    const gEnd = gStart + 10_000 + failProd.length * 200;
    emit('runs', [gid, 'gap-fix', iso(gStart), iso(gEnd), 1, 'collector1', 16, 0, 0, JSON.stringify({
      exit_code: 0, run_id: gid, jobtime: (gEnd - gStart) / 1000, global_success_hosts: gOk.length, global_success_hosts_list: gOk,
      global_fail_hosts: gFail.length, global_fail_hosts_list: gFail, sapi_hosts: 0, sapi_hosts_list: [], not_started_hosts: 0, not_started_hosts_list: [], failures: gFailures,
    }), null]);
  }
  for (let h = 0; h < HOSTS; h++) {
    const s = state[h];
    const a = s.lastAttempt;
    yield ['hosts', [h + 1, names[h], ROLES[h % ROLES.length], SITES[Math.floor(h / 7) % SITES.length], prod[h] ? 'prod' : 'spare', prod[h] ? 1 : 0, iso(hostAt(0, h)),
      a ? iso(a.at) : null, s.lastSuccess ? iso(s.lastSuccess) : null, a?.outcome ?? null, a?.code ?? null, a?.message ?? null, a?.run ?? null, iso(hostAt(0, h))]];
  }
  yield* early.filter(([t]) => t === 'runs');
  yield* early.filter(([t]) => t !== 'runs');
  for (let h = 0; h < HOSTS; h++) {
    const s = state[h];
    // Facts: each value keeps its interval until a night changes it (seen on the host's successful nights only, as a run would).
    const hr = rng(seed * 7919 + h);
    const seenUntil = s.lastSuccess ?? hostAt(0, h);
    for (const [type, subtype, base] of catalog) {
      let opened = hostAt(0, h);
      let version = 0;
      // Packages move (upgrades); the rest of a host's facts far less often.
      const rate = type === 'packages' ? changeRate : changeRate / 10;
      for (let n = 1; n < NIGHTS; n++) {
        if (hr() >= rate) continue;
        const at = hostAt(n, h);
        if (at > seenUntil) break;
        const old = version ? `${base}+deb12u${version}` : base;
        yield ['facts', [h + 1, type, subtype, old, iso(opened), iso(hostAt(n - 1, h)), 0, iso(at)]];
        // The change-feed row the store appends with the change (migration 12).
        yield ['fact_changes', [iso(at), h + 1, type, subtype, 'changed', old, `${base}+deb12u${version + 1}`]];
        opened = at;
        version++;
      }
      yield ['facts', [h + 1, type, subtype, version ? `${base}+deb12u${version}` : base, iso(opened), iso(opened), 1, null]];
    }
    for (const type of new Set(catalog.map((c) => c[0]))) yield ['fact_types', [h + 1, type, iso(seenUntil)]];
  }
  return { names, runs: runId, attempts: attemptId };
}

export const COLUMNS = {
  hosts: ['id', 'name', 'srvtype', 'pop', 'status', 'is_prod', 'first_seen_at', 'last_attempt_at', 'last_success_at', 'last_outcome', 'last_code', 'last_message', 'last_run_id', 'first_facts_at'],
  runs: ['id', 'mode', 'started_at', 'finished_at', 'pid', 'hostname', 'threads', 'workers', 'exit_code', 'summary', 'scope'],
  attempts: ['id', 'run_id', 'host_id', 'started_at', 'finished_at', 'duration_ms', 'outcome', 'code', 'message', 'output_bytes'],
  attempt_collections: ['attempt_id', 'type', 'status', 'exit_code', 'message', 'duration_ms'],
  facts: ['host_id', 'type', 'subtype', 'value', 'first_seen', 'last_seen', 'is_current', 'closed_at'],
  fact_types: ['host_id', 'type', 'last_seen'],
  fact_changes: ['at', 'host_id', 'type', 'subtype', 'change', 'old_value', 'new_value'],
};

/** Fills a fresh SQLite store at `file` with the month (indexes built after the load, as the migrations define them). */
export async function fillSqlite(file, opts) {
  const { openAnyStore } = await import(path.join(ROOT, 'dist/store/store.js'));
  (await openAnyStore(file)).close();
  const { default: Database } = await import(path.join(ROOT, 'node_modules/better-sqlite3/lib/index.js'));
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('facts', 'attempts', 'fact_changes') AND sql IS NOT NULL").all();
  for (const i of indexes) db.exec(`DROP INDEX ${i.name}`);
  const stmts = Object.fromEntries(Object.entries(COLUMNS).map(([t, cols]) => [t, db.prepare(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)]));
  let rows = 0;
  const counts = {};
  db.exec('BEGIN');
  const gen = generateMonth(opts);
  let next;
  while (!(next = gen.next()).done) {
    const [table, row] = next.value;
    stmts[table].run(...row);
    counts[table] = (counts[table] ?? 0) + 1;
    if (++rows % 500_000 === 0) { db.exec('COMMIT'); db.exec('BEGIN'); }
  }
  const result = next.value;
  db.exec('COMMIT');
  for (const i of indexes) db.exec(i.sql);
  db.exec('ANALYZE');
  db.close();
  return { ...result, counts };
}

/** Fills a fresh PostgreSQL store at `url` (password in PGPASSWORD) with the same month. */
export async function fillPostgres(url, opts, password) {
  const { openAnyStore } = await import(path.join(ROOT, 'dist/store/store.js'));
  await (await openAnyStore(url)).close();
  const { default: pg } = await import(path.join(ROOT, 'node_modules/pg/lib/index.js'));
  const u = new URL(url);
  const c = new pg.Client({ host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), database: u.pathname.slice(1), password });
  await c.connect();
  const indexes = (await c.query("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('facts', 'attempts', 'fact_changes') AND indexname NOT LIKE '%_pkey'")).rows;
  for (const i of indexes) await c.query(`DROP INDEX ${i.indexname}`);
  const types = { hosts: ['bigint', 'text', 'text', 'text', 'text', 'int', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'text'],
    runs: ['bigint', 'text', 'text', 'text', 'int', 'text', 'int', 'int', 'int', 'text', 'text'],
    attempts: ['bigint', 'bigint', 'bigint', 'text', 'text', 'int', 'text', 'text', 'text', 'bigint'],
    attempt_collections: ['bigint', 'text', 'text', 'int', 'text', 'int'],
    facts: ['bigint', 'text', 'text', 'text', 'text', 'text', 'int', 'text'],
    fact_types: ['bigint', 'text', 'text'],
    fact_changes: ['text', 'bigint', 'text', 'text', 'text', 'text', 'text'] };
  const batches = Object.fromEntries(Object.keys(COLUMNS).map((t) => [t, []]));
  const counts = {};
  const flush = async (table) => {
    const b = batches[table];
    if (!b.length) return;
    batches[table] = [];
    const cols = COLUMNS[table];
    await c.query(`INSERT INTO ${table} (${cols.join(', ')}) SELECT * FROM unnest(${cols.map((_, i) => `$${i + 1}::${types[table][i]}[]`).join(', ')})`, cols.map((_, i) => b.map((r) => r[i])));
  };
  const gen = generateMonth(opts);
  let next;
  while (!(next = gen.next()).done) {
    const [table, row] = next.value;
    batches[table].push(row);
    counts[table] = (counts[table] ?? 0) + 1;
    // Parents before children: a table's batch goes once the tables before it are written.
    if (batches[table].length >= 20_000) {
      for (const t of Object.keys(COLUMNS)) { await flush(t); if (t === table) break; }
    }
  }
  const result = next.value;
  for (const t of Object.keys(COLUMNS)) await flush(t);
  for (const i of indexes) await c.query(i.indexdef);
  for (const t of ['hosts', 'runs', 'attempts', 'facts']) await c.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM ${t}))`).catch(() => {});
  await c.query('ANALYZE');
  await c.end();
  return { ...result, counts };
}
