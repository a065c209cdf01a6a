// The PostgreSQL store against a real PostgreSQL server (started here): the same schema
// versions, and the same answers as the SQLite store for the same sequence of writes — fact
// intervals opened, moved and closed (values unchanged, changed, or compared without a digest), failed collections, hostile values (NUL, invalid UTF-8,
// megabyte values, long subtypes), pushes older and newer than what is stored, prune — compared
// row by row with the SQLite store fed identically.
import path from 'node:path';
import t from 'tap';
import { StorageError } from '../src/core/errors.js';
import { ingestText } from '../src/app/ingest.js';
import { pruneFacts } from '../src/app/prune.js';
import type { InventoryHost } from '../src/inventory/host.js';
import type { CollectionResult, HostResult } from '../src/core/results.js';
import { LATEST_VERSION } from '../src/store/migrations.js';
import type { PgStore } from '../src/store/postgres/store.js';
import { openAnyStore, openStore, type Store } from '../src/store/store.js';
import { postgresSkipReason, startPostgres, type PgServer } from './helpers/postgres.js';

const skip = postgresSkipReason();
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (h: number) => T0 + h * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function result(label: string, finishedAt: number, collections: CollectionResult[], outcome: HostResult['outcome'] = 'ok'): HostResult {
  return { label, outcome, startedAt: finishedAt - 1000, finishedAt, collections, outputBytes: 10 };
}
const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 1 });
const failed = (type: string): CollectionResult => ({ type, status: 'failed', exitCode: 2, message: 'exit 2', durationMs: 1 });
const host = (label: string, pop = 'ams', status = 'prod'): InventoryHost =>
  ({ label, host: label, port: undefined, srvtype: 'web', pop, status, notes: '', isProd: status === 'prod', line: 1 }) as unknown as InventoryHost;

/** A deterministic pseudo-random sequence, so both stores get exactly the same writes. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Everything a store answers about its hosts and facts, with ids left out (they differ by backend). */
async function snapshot(store: Store, labels: string[]): Promise<unknown> {
  const out: Record<string, unknown> = {};
  const hosts = await store.listHosts();
  out.hosts = hosts;
  for (const l of labels) {
    const ref = await store.findHost(l);
    out[l] = ref ? await store.hostFacts(ref, { history: true }) : null;
  }
  out.audit = await store.auditQuery({ type: 'packages', subtype: 'openssl' });
  out.like = await store.auditQuery({ type: 'packages', like: '1.%' });
  out.types = await store.factTypes();
  out.rows = await store.factRowCount();
  out.lastSuccess = [...(await store.lastSuccessByHost()).entries()].sort();
  out.sapi = [...(await store.sapiHostsSince(0))].sort();
  out.vouched = [...(await store.sapiHostsSince(0, 0))].sort();
  return out;
}

t.test('PostgreSQL store', { skip: skip ?? false }, async (t) => {
  const pgs: PgServer = await startPostgres();
  t.teardown(() => pgs.stop());
  process.env.PGPASSWORD = pgs.password;
  t.teardown(() => { delete process.env.PGPASSWORD; });

  t.test('migrations: a new database gets every version once, also with two openers at once', async (t) => {
    const url = await pgs.createDatabase('mig');
    const [a, b] = await Promise.all([openAnyStore(url), openAnyStore(url)]);
    const c = (a as PgStore).connection;
    const versions = (await c.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    t.same(versions, Array.from({ length: LATEST_VERSION }, (_, i) => i + 1), 'versions 1..latest, each once');
    const tables = (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).rows.map((r) => r.tablename);
    t.same(tables, ['analyze_runs', 'api_tokens', 'attempt_collections', 'attempts', 'audit_collate', 'audit_results', 'audits', 'fact_changes', 'fact_types', 'facts', 'facts_archive', 'hosts', 'run_locks', 'runs', 'schema_migrations'], 'the SQLite schema');
    t.equal(a.dialect, 'postgresql');
    t.notMatch(a.path, new RegExp(pgs.password), 'the shown URL has no password');
    await a.close();
    await b.close();
    const ro = await openAnyStore(url, { readonly: true });
    await t.rejects(Promise.resolve(ro.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 })), StorageError, 'a reader cannot write');
    await ro.close();
  });

  t.test('a reader of a database that was never migrated is told so (exit 74)', async (t) => {
    const url = await pgs.createDatabase('empty');
    await t.rejects(openAnyStore(url, { readonly: true }), { name: 'StorageError', exitCode: 74, message: /not a jellyfish database/ });
  });

  t.test('a wrong password or an unreachable server is a StorageError naming the URL, never the password', async (t) => {
    const saved = process.env.PGPASSWORD;
    process.env.PGPASSWORD = 'wrong';
    try {
      const err = await openAnyStore(pgs.url).then(() => undefined, (e: unknown) => e as StorageError);
      t.type(err, StorageError);
      t.match(err?.message, /password authentication failed/);
      t.match(err?.message, /PGPASSWORD or ~\/\.pgpass/);
    } finally {
      process.env.PGPASSWORD = saved;
    }
    const err2 = await openAnyStore('postgresql://jellyfish@127.0.0.1:1/jellyfish').then(() => undefined, (e: unknown) => e as StorageError);
    t.match(err2?.message, /127\.0\.0\.1:1.*cannot connect: ECONNREFUSED/);
  });

  t.test('the same writes give the same intervals, answers and counts as SQLite', async (t) => {
    const url = await pgs.createDatabase('same');
    const pgStore = await openAnyStore(url);
    const sqlite = openStore(path.join(t.testdir(), 'jf.db'));
    const stores: Store[] = [sqlite, pgStore];
    const labels = Array.from({ length: 30 }, (_, i) => `h${i}.example`);
    const rand = rng(7);
    const huge = 'x'.repeat(3 * 1024 * 1024);
    const hostile: Record<string, string> = {
      'nul': 'a\0b', 'replacement': 'bad \uFFFD utf8', 'quote': "it's \"quoted\" \\ back", 'multi': 'line1\nline2\r\n',
      'emoji': '\u{1F600}', ['long-subtype-'.repeat(40)]: 'v', 'huge': huge, '': 'empty subtype',
    };
    // The model: per host and type, every interval (open ones last_seen at the type's last sighting).
    type Interval = { type: string; subtype: string; value: string; firstSeen: string; lastSeen: string; current: boolean };
    const intervals = new Map<string, Map<string, Interval[]>>();
    const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    const model = (batch: HostResult[]) => {
      for (const r of batch) for (const c of r.collections) {
        if (c.status !== 'ok' || !c.values) continue;
        const byType = intervals.get(r.label) ?? new Map<string, Interval[]>();
        intervals.set(r.label, byType);
        const list = byType.get(c.type) ?? [];
        byType.set(c.type, list);
        const now = iso(r.finishedAt);
        const open = new Map(Object.entries(c.values));
        for (const iv of list) {
          if (!iv.current) continue;
          if (open.get(iv.subtype) === iv.value) { iv.lastSeen = now; open.delete(iv.subtype); } else iv.current = false;
        }
        for (const [subtype, value] of open) list.push({ type: c.type, subtype, value, firstSeen: now, lastSeen: now, current: true });
      }
    };
    for (const s of stores) await s.upsertHosts(labels.map((l, i) => host(l, i % 2 ? 'fra' : 'ams', i % 3 ? 'prod' : 'spare')));
    for (let round = 0; round < 6; round++) {
      // Rows written before digests existed (migration 7) have none: those types are compared value by value.
      if (round === 3) {
        sqlite.database.prepare('UPDATE fact_types SET digest = NULL').run();
        await (pgStore as PgStore).connection.query('UPDATE fact_types SET digest = NULL');
      }
      const batch: HostResult[] = [];
      for (const l of labels) {
        const r = rand();
        if (r < 0.1) { batch.push(result(l, at(round), [], 'unreachable')); continue; }
        const pk: Record<string, string> = {};
        for (let p = 0; p < 40; p++) if (rand() > 0.1) pk[`pkg${p}`] = `1.${Math.floor(rand() * 3)}`;
        pk.openssl = rand() < 0.7 ? '3.0.11' : '1.1.1w';
        const cols: CollectionResult[] = [ok('packages', pk), rand() < 0.2 ? failed('rkernel') : ok('rkernel', { default: `6.1.${round % 2}` })];
        if (l === 'h3.example') cols.push(ok('hostile', round % 2 ? hostile : { nul: 'a\0b' }));
        if (rand() < 0.1) cols.push(ok('empty', {}));
        batch.push(result(l, at(round), cols, cols.some((c) => c.status !== 'ok') ? 'partial' : 'ok'));
      }
      model(batch);
      for (const s of stores) {
        const runId = await s.beginRun({ mode: 'run', startedAt: new Date(at(round)), pid: 1, hostname: 'c', threads: 4, workers: 0, scope: 'site ams' });
        // Two batches per round, as a run's flushes would write them.
        await s.recordResults(runId, batch.slice(0, 13));
        await s.recordResults(runId, batch.slice(13));
        await s.finishRun(runId, new Date(at(round) + 1000), 0, '{}');
      }
    }
    // The stores against the rules themselves (SPEC §4), not only against each other.
    for (const l of labels) {
      const ref = await sqlite.findHost(l);
      const want = [...(intervals.get(l)?.values() ?? [])].flat().sort((x, y) => cmp(x.type, y.type) || cmp(x.subtype, y.subtype) || cmp(x.firstSeen, y.firstSeen));
      t.same(ref ? await sqlite.hostFacts(ref, { history: true }) : [], want, `${l}: the intervals the rules give`);
    }
    // Pushes: new, older than what is stored (skipped), and a failed one.
    const docs = [
      { collection_hostname: 'H1.EXAMPLE', collection_timestamp: iso(at(7)), collection_data: { packages: { openssl: '3.0.13' }, agent: { v: '1' } } },
      { collection_hostname: 'h2.example', collection_timestamp: iso(at(2)), collection_data: { packages: { openssl: '0.9' } } },
      { collection_hostname: 'agent-only.example', collection_timestamp: iso(at(8)), collection_data: { rkernel: { default: '5.10' } }, pop: 'fra', status: 'prod' },
      { collection_hostname: 'h4.example', collection_timestamp: iso(at(9)), collection_status: 'failed', collection_data: {} },
      { collection_hostname: 'h5.example', collection_timestamp: iso(at(9)), collection_data: { odd: { 'nul\u0000sub': 'v\u0000', ['s'.repeat(512)]: 'the longest subtype a push may name' } } },
      { collection_hostname: 'h6.example', collection_timestamp: iso(at(9)), collection_data: { packages: { openssl: null } } },
      { collection_hostname: '', collection_timestamp: iso(at(9)), collection_data: {} },
    ].map((d) => JSON.stringify(d)).concat(['{"collection_hostname": "h7.example", "collection_data": {"x": {"y": "z"}', 'not json at all']).join('\n');
    const pushed = [];
    for (const s of stores) pushed.push(await ingestText(s, docs, { prodStatuses: ['prod'] }));
    t.same(pushed[1], pushed[0], 'ingest summaries agree');
    t.ok(pushed[0]!.summary.rejected.length >= 3, `hostile documents rejected the same way (${pushed[0]!.summary.rejected.length})`);
    t.same(pushed[0]!.summary.skipped_types, [{ doc: 2, host: 'h2.example', types: ['packages'] }], 'the older push is skipped');

    const all = [...labels, 'agent-only.example', 'h5.example'];
    const [a, b] = [await snapshot(sqlite, all), await snapshot(pgStore, all)];
    const { sapi, vouched } = b as { sapi: string[]; vouched: string[] };
    t.ok(sapi.includes('agent-only.example') && sapi.includes('h1.example'));
    t.same(vouched, sapi.filter((h) => h !== 'agent-only.example'), 'pushers with an SSH attempt are vouched for; one that only pushed is not');
    // PostgreSQL cannot hold NUL: the one documented difference, mapped before comparing.
    const mapped = JSON.parse(JSON.stringify(a).replaceAll('\\u0000', '\uFFFD'));
    t.same(b, mapped, 'hosts, every interval of every host, audit answers, counts, sapi');
    const h3 = (await pgStore.hostFacts((await pgStore.findHost('h3.example'))!, { type: 'hostile', history: true })).find((f) => f.subtype === 'huge');
    t.equal(h3?.value.length, huge.length, 'a 3 MB value is stored whole');
    const runs = await pgStore.lastRuns();
    t.same(runs.map((m) => [m.mode, m.scope, m.lastFinished?.exitCode]), (await sqlite.lastRuns()).map((m) => [m.mode, m.scope, m.lastFinished?.exitCode]), 'last runs per mode and scope agree');

    // Prune both the same way.
    const pruned = [];
    for (const s of stores) pruned.push(await pruneFacts(s, { beforeMs: at(4), mode: 'archive', batch: 7, pauseMs: 0 }));
    t.ok(pruned[0]! > 0, `prune moved ${pruned[0]} closed intervals`);
    t.equal(pruned[1], pruned[0], 'the same number in PostgreSQL');
    t.same(await snapshot(pgStore, all), JSON.parse(JSON.stringify(await snapshot(sqlite, all)).replaceAll('\\u0000', '\uFFFD')), 'the same after prune');
    const archived = Number((await (pgStore as PgStore).connection.query('SELECT COUNT(*) AS n FROM facts_archive')).rows[0].n);
    t.equal(archived, pruned[0], 'archived rows are in facts_archive');
    sqlite.close();
    await pgStore.close();
  });

  t.test('a failing batch is rolled back whole and the store stays usable', async (t) => {
    const url = await pgs.createDatabase('rollback');
    const s = await openAnyStore(url);
    const runId = await s.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'c', threads: 1, workers: 0 });
    await s.recordResults(runId, [result('a.example', at(1), [ok('packages', { x: '1' })])]);
    // An attempt with a duration no INTEGER column holds fails inside the batch transaction.
    const bad = { ...result('b.example', at(2), [ok('packages', { y: '1' })]), startedAt: -1e13 };
    await t.rejects(Promise.resolve(s.recordResults(runId, [result('c.example', at(2), [ok('packages', { z: '1' })]), bad])), StorageError);
    t.same((await s.listHosts()).map((h) => h.name), ['a.example'], 'nothing of the failed batch, not even its new hosts');
    await s.recordResults(runId, [result('c.example', at(3), [ok('packages', { z: '2' })])]);
    t.same((await s.auditQuery({ type: 'packages', subtype: 'z' })).map((h) => h.value), ['2'], 'the next batch is stored');
    await s.close();
  });
});
