// The Store contract, on both engines: one script of writes and questions through the public Store
// interface only, run on a SQLite file and on a PostgreSQL database. Each answer is checked against
// what the rules say (so a rule both engines break alike still fails), and the two engines' answers
// must be the same. It covers what test/pg-store.test.ts's row-by-row comparison does not: pushes
// (case-folded names, inventory fields only filled, an older document skipped, a failed one),
// runs and their history, tokens, prune of the change feed, and the analyze bookkeeping.
import path from 'node:path';
import t from 'tap';
import type { InventoryHost } from '../src/inventory/host.js';
import type { HostResult } from '../src/core/results.js';
import { openAnyStore, type PushDocument, type Store } from '../src/store/store.js';
import { openTestPgStore } from './helpers/postgres.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const at = (h: number) => T0 + h * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const inv = (label: string, status = 'prod'): InventoryHost =>
  ({ label, host: label, srvtype: 'web', pop: 'ams', status, notes: '', isProd: status === 'prod', line: 1 }) as unknown as InventoryHost;
const result = (label: string, h: number, values: Record<string, string>, outcome: HostResult['outcome'] = 'ok'): HostResult => ({
  label, outcome, startedAt: at(h) - 500, finishedAt: at(h), outputBytes: 1,
  collections: outcome === 'ok' ? [{ type: 'packages', status: 'ok', values, durationMs: 1 }] : [],
});
const doc = (host: string, h: number, data: PushDocument['data'], extra: Partial<PushDocument> = {}): PushDocument =>
  ({ host, timestamp: at(h), ok: true, statusText: 'ok', data, ...extra });

/** The script: every answer, ids left out (they differ by engine). */
async function script(t: Tap.Test, s: Store): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const run = await s.beginRun({ mode: 'run', startedAt: new Date(at(0)), pid: 42, hostname: 'collector1', threads: 8, workers: 1 });
  await s.upsertHosts([inv('web1.example'), inv('db1.example', 'staging')]);
  await s.recordResults(run, [result('web1.example', 1, { openssl: '3.0.11', bash: '5.2' }), result('db1.example', 1, {}, 'error')]);
  await s.recordResults(run, [result('web1.example', 2, { openssl: '3.0.15', bash: '5.2', curl: '8.5' })]);
  await s.finishRun(run, new Date(at(3)), 1, JSON.stringify({ exit_code: 1, global_success_hosts: 1, global_fail_hosts: 1 }));

  // Pushes under an ingest's run.
  const ingest = await s.beginRun({ mode: 'ingest', startedAt: new Date(at(4)), pid: 43, hostname: 'x', threads: 1, workers: 0 });
  const folded = await s.recordPush(ingest, doc('WEB1.example', 5, { packages: { openssl: '3.0.15', bash: '5.2', curl: '8.6' } }, { srvtype: 'db', status: 'dev' }));
  t.equal(folded.host, 'web1.example', 'a push lands on the stored host without regard to case');
  const agent = await s.recordPush(ingest, doc('agent1.example', 5, { packages: { zsh: '5.9' } }, { srvtype: 'mail', pop: 'fra', status: 'prod', isProd: true }));
  t.same(agent.storedTypes, ['packages']);
  const older = await s.recordPush(ingest, doc('web1.example', 1.5, { packages: { openssl: '1.0' } }));
  t.same([older.storedTypes, older.skippedTypes], [[], ['packages']], 'a document older than what is stored is skipped');
  const failedPush = await s.recordPush(ingest, doc('agent1.example', 6, { packages: {} }, { ok: false, statusText: 'disk full' }));
  t.same(failedPush.storedTypes, [], 'a failed document stores no facts');
  out.pushes = [folded, agent, older, failedPush];
  await s.finishRun(ingest, new Date(at(6)), 0, '{}');

  const hosts = await s.listHosts();
  out.hosts = hosts;
  const web = hosts.find((h) => h.name === 'web1.example')!;
  t.match(web, { srvtype: 'web', status: 'prod', isProd: true, lastSuccessAt: iso(at(5)), sapiAt: iso(at(5)) }, 'the inventory keeps its fields; the push moved the last success and sapi_at');
  const agentRow = hosts.find((h) => h.name === 'agent1.example')!;
  t.match(agentRow, { srvtype: 'mail', pop: 'fra', isProd: true, lastOutcome: 'error', lastCode: 'AGENT', lastSuccessAt: iso(at(5)) }, 'a host known only by its agent takes the document\'s fields; the failed push is its last attempt');
  const ref = (await s.findHost('Web1.Example'))!;
  t.equal(ref.name, 'web1.example');
  out.hostRow = await s.hostRow(ref);
  out.similar = await s.similarHosts('EXAMPLE', 2);
  t.same(out.similar, ['agent1.example', 'db1.example']);
  out.current = await s.hostFacts(ref);
  t.same((out.current as { subtype: string; value: string }[]).map((f) => `${f.subtype}=${f.value}`), ['bash=5.2', 'curl=8.6', 'openssl=3.0.15']);
  out.history = await s.hostFacts(ref, { history: true });
  out.atTwo = await s.hostFacts(ref, { at: iso(at(2)) });
  t.same((out.atTwo as { value: string }[]).map((f) => f.value), ['5.2', '8.5', '3.0.15'], 'what was true at hour 2');
  out.query = await s.auditQuery({ type: 'packages', subtype: 'openssl' });
  out.like = await s.auditQuery({ type: 'packages', like: '8.%' });
  t.same((out.like as { host: string; value: string }[]).map((h) => `${h.host} ${h.value}`), ['web1.example 8.6']);
  out.queryAt = await s.auditQuery({ type: 'packages', subtype: 'openssl', at: iso(at(1)) });
  t.same((out.queryAt as { value: string }[]).map((h) => h.value), ['3.0.11']);
  out.types = [await s.typeExists('packages'), await s.typeExists('nope'), await s.factTypes()];
  out.lastSuccess = [...(await s.lastSuccessByHost()).entries()].sort();
  out.sapi = [...(await s.sapiHostsSince(at(0)))].sort();
  t.same(out.sapi, ['agent1.example', 'web1.example']);
  out.vouched = [...(await s.sapiHostsSince(at(0), at(0)))].sort();
  t.same(out.vouched, ['web1.example'], 'an agent host with an SSH attempt since');

  // Runs and their history.
  const runs = await s.lastRuns();
  out.runs = runs.map((m) => ({ ...m, lastFinished: m.lastFinished && { ...m.lastFinished, id: 0, hostname: m.lastFinished.hostname }, unfinished: m.unfinished.length }));
  t.match(runs.find((m) => m.mode === 'run')?.lastFinished, { exitCode: 1, pid: 42, summary: { exit_code: 1 } });
  out.runsSince = (await s.runsSince(iso(at(-1)))).map((r) => ({ ...r, id: 0 }));
  t.match(out.runsSince, [{ mode: 'run', ok: 1, failed: 1, exitCode: 1 }]);
  out.attempts = (await s.hostAttempts(ref, 10)).map((a) => ({ ...a, runId: 0 }));
  t.equal((out.attempts as unknown[]).length, 4, 'two collections and two pushes of web1 (the skipped one is an attempt too)');
  out.changeStart = await s.recentChangeStart(10);
  const feed = await s.factChanges({ since: iso(at(0)), until: iso(at(10)) } as Parameters<Store['factChanges']>[0]);
  const rows: unknown[] = [];
  for await (const slice of feed.slices) rows.push(...slice.rows);
  out.feed = rows;
  t.same(rows.map((r) => { const c = r as { change: string; subtype: string }; return `${c.change} ${c.subtype}`; }), ['added curl', 'changed openssl', 'changed curl'],
    'the feed: the first collection is the new host itself; then one change per value, by subtype within an instant');
  t.equal(await s.pruneChanges(iso(at(2.5)), 100), 2, 'the feed pruned before an instant');
  out.prunable = await s.countPrunable(iso(at(10)));
  t.equal(out.prunable, 2, 'the two closed intervals of web1');

  // Tokens.
  t.equal(await s.addToken({ name: 'agents', scope: 'push', hosts: ['*.example'], secretSha256: 'ab'.repeat(32), createdAt: iso(at(7)) }), true);
  t.equal(await s.addToken({ name: 'agents', scope: 'read', hosts: null, secretSha256: 'cd'.repeat(32), createdAt: iso(at(7)) }), false, 'a name is taken once');
  await s.touchToken('agents', iso(at(8)));
  t.equal(await s.revokeToken('agents', iso(at(9))), true);
  t.equal(await s.revokeToken('agents', iso(at(9))), false, 'revoked once');
  out.tokens = await s.listTokens();
  t.match(out.tokens, [{ name: 'agents', scope: 'push', hosts: ['*.example'], lastUsedAt: iso(at(8)), revokedAt: iso(at(9)) }]);

  // The analyze bookkeeping.
  const a = await s.beginAnalysis(new Date(at(10)), 44, 'x');
  const ids = await s.upsertAudits([{ name: 'CVE-1', vulnName: 'openssl', file: 'a.ini', line: 3, priority: 1, shortDescription: 's', longDescription: 'l', primaryLink: 'https://x', links: {} }], iso(at(10)));
  t.same([...ids.keys()], ['CVE-1']);
  out.analysisHosts = (await s.analysisHosts()).map((h) => ({ ...h, id: 0 })).sort((x, y) => (x.name < y.name ? -1 : 1));
  const mark = await s.analysisMark();
  t.ok(mark.facts > 0 && mark.changes > 0, 'the mark is the newest fact and feed ids');
  t.same(await s.changedHostsSince(mark, ['packages']), [], 'nothing changed past the mark');
  await s.finishAnalysis(a, iso(at(11)), 0, '{}');
  out.baseline = await s.analysisBaseline();
  t.equal(out.baseline, null, 'an analyze that wrote no results leaves no baseline');
  out.audits = (await s.storedAudits()).map((x) => ({ ...x, id: 0 }));
  out.rows = await s.factRowCount();
  return out;
}

t.test('the Store contract on SQLite and PostgreSQL: the same answers, each as the rules say', async (t) => {
  const sqlite = await openAnyStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => sqlite.close());
  let lite: Record<string, unknown> = {};
  await t.test('SQLite', async (t) => { lite = await script(t, sqlite); });
  const pg = await openTestPgStore(t, 'contract');
  if (!pg) return;
  let post: Record<string, unknown> = {};
  await t.test('PostgreSQL', async (t) => { post = await script(t, pg); });
  for (const key of Object.keys(lite)) t.same(post[key], lite[key], `the same ${key} on both engines`);
  t.same(Object.keys(post), Object.keys(lite));
});

/** The facts found without their times (a page's first step; SQLite reads them as one JSON text per column). */
async function keysScript(t: Tap.Test, s: Store): Promise<void> {
  const ingest = await s.beginRun({ mode: 'ingest', startedAt: new Date(at(4)), pid: 43, hostname: 'x', threads: 1, workers: 0 });
  const odd = 'a "quoted" \\ back\tslash\nline \u00e9\u{1F600} \u0001';
  await s.recordPush(ingest, doc('web1.example', 5, { packages: { openssl: '3.0.15', bash: '5.2' } }));
  await s.recordPush(ingest, doc('odd1.example', 5, { packages: { 'odd "name"': odd, openssl: '3.0.2' } }));
  await s.recordPush(ingest, doc('odd1.example', 6, { packages: { 'odd "name"': odd, openssl: '3.0.3' } }));
  const keys = await s.auditKeys({ type: 'packages', subtype: 'openssl' });
  const names = new Map((await s.hostNames()).map(([id, name]) => [id, name]));
  const found = (await s.auditQuery({ type: 'packages', subtype: 'openssl' })).map((h) => `${h.host} ${h.subtype} ${h.value}`);
  t.same(found, ['odd1.example openssl 3.0.3', 'web1.example openssl 3.0.15']);
  t.same(keys.map((k) => `${names.get(k.hostId)} ${k.subtype} ${k.value}`).sort(), found, 'auditKeys finds what auditQuery finds (current facts only)');
  t.ok(keys.every((k) => Number.isInteger(k.id) && k.id > 0), 'with each fact\'s row id');
  const then = await s.auditKeys({ type: 'packages', subtype: 'openssl', at: iso(at(5)) });
  t.same(then.map((k) => k.value).sort(), ['3.0.15', '3.0.2'], 'and at an instant, the facts that held then');
  const oddKeys = await s.auditKeys({ type: 'packages', subtype: 'odd "name"' });
  t.same(oddKeys.map((k) => [k.subtype, k.value]), [['odd "name"', odd]], 'a value with quotes, backslashes, control characters and non-BMP text comes back unchanged');
  t.same(await s.auditKeys({ type: 'packages', subtype: 'nothing-has-this' }), [], 'no fact found: no key');
  await s.finishRun(ingest, new Date(at(6)), 0, '{}');
}

t.test('auditKeys on SQLite and PostgreSQL', async (t) => {
  const sqlite = await openAnyStore(path.join(t.testdir(), 'keys.db'));
  t.teardown(() => sqlite.close());
  await t.test('SQLite', (t) => keysScript(t, sqlite));
  const pg = await openTestPgStore(t, 'contract_keys');
  if (pg) await t.test('PostgreSQL', (t) => keysScript(t, pg));
});
