// analyze evaluates again only what may have changed since the last analyze (SPEC §10): the hosts
// whose audited facts changed (or that are new, or back from stale) and the audits whose
// definition changed (or that are new, or back). Whatever it keeps must be what a full evaluation
// writes: the same database, interval for interval, collated count for count. Two databases get
// the same history (facts changing on some hosts, a document older than the last analyze written
// after it, a type no audit reads changing, audits edited, added, removed and put back, a host
// going stale and coming back, a new host); one is analyzed as usual, the other with `full`.
// On SQLite and on PostgreSQL.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import t from 'tap';
import { analyze, type AnalyzeSummary } from '../src/audits/analyze.js';
import { Log } from '../src/app/log.js';
import { loadConfig } from '../src/config/load.js';
import type { InventoryHost } from '../src/inventory/host.js';
import type { CollectionResult, HostResult } from '../src/core/results.js';
import { openAnyStore, type Store } from '../src/store/store.js';
import { postgresSkipReason, startPostgres } from './helpers/postgres.js';

const T0 = Date.parse('2026-11-01T02:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const quiet = new Log(false, { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream);

const RELEASES = [
  { ID: 'debian', VERSION_CODENAME: 'bookworm', VERSION_ID: '12' },
  { ID: 'ubuntu', VERSION_CODENAME: 'jammy', VERSION_ID: '22.04' },
  { ID: 'rhel', VERSION_CODENAME: '', VERSION_ID: '9.3' },
];
const FLEET = Array.from({ length: 40 }, (_, i) => `h${i + 1}`);
const inventoryHost = (label: string, i: number): InventoryHost =>
  ({ label, host: label, srvtype: i % 2 ? 'web' : 'db', pop: ['ams', 'fra'][i % 2]!, status: i % 4 ? 'prod' : 'test', notes: '', isProd: i % 4 !== 0, line: i + 2 });

/** One host's facts on a night: packages drift with `bump`; `boot` changes every night and no audit reads it. */
interface HostState { release: number; packages: Record<string, string>; users: Record<string, string> }
function initialState(i: number): HostState {
  const rel = i % 3;
  const v = (k: number) => (rel === 2 ? `${1 + k}.${i % 2}.0-1${i % 3}.el9` : `${1 + k}.${i % 2}.0-${1 + (i % 3)}`);
  return {
    release: rel,
    packages: { openssl: v(2), bash: v(4), curl: v(7), ...(i % 4 === 0 ? { telnet: '0.17-1' } : {}) },
    users: { root: '0:0', ...(i === 5 ? { guest: '1001:1001' } : {}) },
  };
}

const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 1 });
function collected(label: string, state: HostState, at: number, night: number): HostResult {
  return {
    label, outcome: 'ok', startedAt: at - 1000, finishedAt: at, outputBytes: 0,
    collections: [
      ok('release', RELEASES[state.release]!), ok('packages', state.packages), ok('users', state.users), ok('boot', { id: `boot-${night}` }),
    ],
  };
}

const advisory = (name: string, rel: number, checks: [string, string][], priority = 5) => {
  const r = RELEASES[rel]!;
  const filter = rel === 2
    ? { 'filter-match': 'match', 'filter-collection-type': ['release', 'release'], 'filter-collection-subtype': ['ID', 'VERSION_ID'], 'filter-match-value': ['^rhel$', '^9'] }
    : { 'filter-match': 'is', 'filter-collection-type': ['release', 'release'], 'filter-collection-subtype': ['ID', 'VERSION_CODENAME'], 'filter-match-value': [r.ID, r.VERSION_CODENAME] };
  return {
    [name]: {
      'vuln-name': name, 'vuln-short-description': name, 'vuln-priority': priority,
      filters: { [r.ID]: filter },
      comparisons: {
        [r.ID]: {
          'comparison-match': rel === 2 ? 'rpmge' : 'aptge', 'comparison-collection-type': checks.map(() => 'packages'),
          'comparison-collection-subtype': checks.map((c) => c[0]), 'comparison-match-value': checks.map((c) => c[1]),
        },
      },
    },
  };
};
const noGuest = {
  'no-guest': {
    'vuln-name': 'no-guest', 'vuln-short-description': 'no guest account', 'vuln-priority': 8,
    filters: { all: { 'filter-match': 'match', 'filter-collection-type': 'release', 'filter-collection-subtype': 'ID', 'filter-match-value': '.' } },
    comparisons: { all: { 'comparison-match': 'subnonhere', 'comparison-collection-type': ['users', 'users'], 'comparison-collection-subtype': ['guest', 'games'], 'comparison-match-value': ['any', 'any'] } },
  },
};

function writeAudit(dir: string, file: string, body: unknown): void {
  fs.writeFileSync(path.join(dir, file), JSON.stringify(body, null, 1));
}

/** The stored outcome of the analyzes, as plain rows (ids left out: they differ between databases). */
type Rows = (sql: string) => Promise<Record<string, unknown>[]>;
async function dump(rows: Rows): Promise<unknown> {
  const norm = (rs: Record<string, unknown>[]) => rs.map((r) => Object.values(r).map((v) => (v === null ? null : String(v))));
  return {
    results: norm(await rows(`SELECT a.name, h.name AS host, r.result, r.bucket, r.first_seen, r.last_seen, r.closed_at, r.is_current
      FROM audit_results r JOIN audits a ON a.id = r.audit_id JOIN hosts h ON h.id = r.host_id ORDER BY a.name, h.name, r.first_seen, r.is_current`)),
    hosts: norm(await rows('SELECT name, audited_at FROM hosts ORDER BY name')),
    audits: norm(await rows('SELECT name, last_analyzed, active, digest FROM audits ORDER BY name')),
    collate: norm(await rows(`SELECT ar.started_at, a.name, c.pop, c.srvtype, c.result, c.hosts FROM audit_collate c
      JOIN analyze_runs ar ON ar.id = c.run_id JOIN audits a ON a.id = c.audit_id ORDER BY ar.started_at, a.name, c.pop, c.srvtype, c.result`)),
  };
}

const summaryOf = (s: AnalyzeSummary) => ({ audits: s.audits, hosts: s.hosts_evaluated, pass: s.pass, fail: s.fail, exempt: s.exempt, stale: s.stale, exit: s.exit_code, errors: s.errors.length });

interface Target { database: string; store: Store; rows: Rows }

/**
 * The history, applied to both targets at the same instants; after each analyze the two
 * databases must hold the same thing. Returns what the usual analyzes re-evaluated.
 */
async function history(t: Tap.Test, dir: string, usual: Target, full: Target): Promise<[number, number][]> {
  const audits = path.join(dir, 'audits');
  fs.mkdirSync(audits, { recursive: true });
  writeAudit(audits, 'adv-openssl-bookworm.json', advisory('adv-openssl-bookworm', 0, [['openssl', '3.1.0-2']], 9));
  writeAudit(audits, 'adv-bash-jammy.json', advisory('adv-bash-jammy', 1, [['bash', '5.1.0-2'], ['curl', '8.0.0-1']]));
  writeAudit(audits, 'adv-curl-rhel.json', advisory('adv-curl-rhel', 2, [['curl', '8.1.0-12.el9']], 7));
  writeAudit(audits, 'adv-openssl-rhel.json', advisory('adv-openssl-rhel', 2, [['openssl', '3.0.0-10.el9']], 3));
  writeAudit(audits, 'no-guest.json', noGuest);
  for (let k = 0; k < 10; k++) writeAudit(audits, `adv-${k}.json`, advisory(`adv-${k}`, k % 3, [[['openssl', 'bash', 'curl'][k % 3]!, k % 2 ? '3.0.0-2' : '5.0.0-12.el9']], k));
  const configs = [usual, full].map((x) => {
    const ini = path.join(dir, `${usual === x ? 'usual' : 'full'}.ini`);
    fs.writeFileSync(ini, `[GLOBAL]\nlockfile = ${ini}.lock\n[storage]\ndatabase = ${x.database}\n[analyze]\naudits = ${audits}\nlockfile = ${ini}.analyze.lock\n`);
    return loadConfig({ file: ini });
  });
  const HOSTS = [...FLEET];
  const state = new Map(HOSTS.map((h, i) => [h, initialState(i)]));
  const inventory = HOSTS.map(inventoryHost);
  for (const x of [usual, full]) await x.store.upsertHosts(inventory);

  const collect = async (night: number, labels: string[], at = T0 + night * DAY) => {
    for (const x of [usual, full]) {
      const runId = await x.store.beginRun({ mode: 'run', startedAt: new Date(at), pid: 1, hostname: 'x', threads: 1, workers: 0 });
      await x.store.recordResults(runId, labels.map((l) => collected(l, state.get(l)!, at, night)));
      await x.store.finishRun(runId, new Date(at), 0, '{}');
    }
  };
  const reevaluated: [number, number][] = [];
  const both = async (at: number, what: string) => {
    const u = await analyze({ config: configs[0]!, log: quiet, now: () => at });
    const f = await analyze({ config: configs[1]!, log: quiet, now: () => at, full: true });
    t.same(summaryOf(u), summaryOf(f), `${what}: the same summary`);
    t.equal(f.hosts_reevaluated, f.hosts_evaluated, `${what}: full evaluates every fresh host`);
    t.same(await dump(usual.rows), await dump(full.rows), `${what}: the same stored results, hosts, audits and collated counts`);
    reevaluated.push([u.hosts_reevaluated, u.audits_reevaluated]);
  };
  const analyzeAt = (night: number) => T0 + night * DAY + HOUR;

  // Night 0: every host; the first analyze evaluates everything.
  await collect(0, HOSTS);
  await both(analyzeAt(0), 'first analyze');

  // Night 1: h1 (bookworm) gets a fixed openssl, h2 (jammy) a new curl package version, h6 loses
  // its guest account, h3 (rhel) drops curl; h4 is not collected (stale after two days).
  state.get('h1')!.packages.openssl = '3.1.0-2';
  state.get('h2')!.packages.curl = '9.0.0-1';
  delete state.get('h6')!.users.guest;
  delete state.get('h3')!.packages.curl;
  await collect(1, HOSTS.filter((h) => h !== 'h4'));
  await both(analyzeAt(1), 'facts changed on four hosts');

  // Nothing changed but the boot id (no audit reads it).
  await collect(1, HOSTS.filter((h) => h !== 'h4'), T0 + DAY + 2 * HOUR);
  await both(analyzeAt(1) + 2 * HOUR, 'only a type no audit reads changed');

  // A document collected before that analyze, written after it: h5's bash goes back.
  state.get('h5')!.packages.bash = '0.1.0-1';
  await collect(1, ['h5'], T0 + DAY + 2 * HOUR + 30 * 60_000);
  // An audit edited (another fixed version), one added, one removed; a new host; h4 is now stale.
  writeAudit(audits, 'adv-bash-jammy.json', advisory('adv-bash-jammy', 1, [['bash', '5.1.0-3'], ['curl', '8.0.0-1']]));
  writeAudit(audits, 'adv-telnet-bookworm.json', advisory('adv-telnet-bookworm', 0, [['telnet', '0.17-2']], 6));
  fs.rmSync(path.join(audits, 'adv-openssl-rhel.json'));
  HOSTS.push('h41');
  state.set('h41', initialState(40));
  for (const x of [usual, full]) await x.store.upsertHosts(HOSTS.map(inventoryHost));
  state.get('h7')!.packages.openssl = '3.9.0-1';
  await collect(2, HOSTS.filter((h) => h !== 'h4'));
  await both(analyzeAt(2), 'audits edited, added and removed; a new host; a stale one');

  // h4 comes back with the facts it had; the removed audit comes back as it was.
  writeAudit(audits, 'adv-openssl-rhel.json', advisory('adv-openssl-rhel', 2, [['openssl', '3.0.0-10.el9']], 3));
  await collect(3, HOSTS);
  await both(analyzeAt(3), 'a host back from stale, an audit back');

  // Nothing changed at all.
  await both(analyzeAt(3) + HOUR, 'nothing changed');
  return reevaluated;
}

function sqliteTarget(file: string): Promise<Target> {
  return openAnyStore(file).then((store) => ({
    database: file, store,
    rows: async (sql: string) => {
      const db = new Database(file, { readonly: true });
      try { return db.prepare(sql).all() as Record<string, unknown>[]; } finally { db.close(); }
    },
  }));
}

// Past a quarter of the hosts or audits changed, everything is evaluated again: a fleet of 40
// hosts and 15 audits keeps each step below that.
const EXPECTED: [number, number][] = [
  [40, 15], // the first: everything
  [4, 0], // h1, h2, h3, h6 (h4 not collected, still fresh: kept)
  [0, 0], // only boot changed
  [3, 2], // h5 (the older document), h7, h41 (new); the edited and the added audit (h4 stale: left alone)
  [1, 1], // h4 back (evaluated last before it went stale); adv-openssl-rhel back
  [0, 0],
];

t.test('SQLite: evaluating what changed writes what evaluating everything writes', async (t) => {
  const dir = t.testdir();
  const usual = await sqliteTarget(path.join(dir, 'usual.db'));
  const full = await sqliteTarget(path.join(dir, 'full.db'));
  t.teardown(() => { usual.store.close(); full.store.close(); });
  const reevaluated = await history(t, dir, usual, full);
  t.same(reevaluated, EXPECTED, 'what was evaluated again, per analyze (hosts, audits)');
});

t.test('PostgreSQL: the same', async (t) => {
  const skip = postgresSkipReason();
  if (skip) { t.comment(`skipped: ${skip}`); return; }
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  process.env.PGPASSWORD = pgs.password;
  const target = async (name: string): Promise<Target> => {
    const url = await pgs.createDatabase(name);
    const store = await openAnyStore(url);
    const client = new pg.Client({ connectionString: url, password: pgs.password });
    await client.connect();
    t.teardown(async () => { await store.close(); await client.end(); });
    return { database: url, store, rows: async (sql) => (await client.query(sql)).rows };
  };
  const usual = await target('usual');
  const reevaluated = await history(t, t.testdir(), usual, await target('full'));
  t.same(reevaluated, EXPECTED, 'what was evaluated again, per analyze (hosts, audits)');
  // The first analyze filled the empty table with its keys set aside: they are all back.
  t.same((await usual.rows(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = 'audit_results'::regclass ORDER BY conname`)).map((r) => [r.conname, r.def]), [
    ['audit_results_audit_id_fkey', 'FOREIGN KEY (audit_id) REFERENCES audits(id)'],
    ['audit_results_host_id_fkey', 'FOREIGN KEY (host_id) REFERENCES hosts(id)'],
    ['audit_results_pkey', 'PRIMARY KEY (id)'],
  ], 'the foreign keys and the primary key');
  t.same((await usual.rows(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_results' ORDER BY indexname`)).map((r) => r.indexname),
    ['audit_results_audit', 'audit_results_host', 'audit_results_pkey'], 'the indexes');
});
