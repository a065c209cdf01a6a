// The run's plan (src/app/run-plan.ts) from real files: a scheduler.ini, server4.csv and
// collector.ini written to a test folder and read by the loaders the run uses, and, under the
// lock, a real SQLite store. What the run would collect and in which order: --limit globs, site
// scope, skipped and unusable inventory rows (file and line), gap-fix's choice, agent hosts left
// out, stale-first order, and the task a thread gets.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { InventoryError, UsageError } from '../src/core/errors.js';
import { findGapHosts } from '../src/app/gap-fix.js';
import { Log } from '../src/app/log.js';
import { hostTask, planRun, queueHosts, siteKeys, type PlanRequest } from '../src/app/run-plan.js';
import { Warnings } from '../src/app/warnings.js';
import { loadConfig, type Config } from '../src/config/load.js';
import type { HostResult } from '../src/core/results.js';
import { openAnyStore, type Store } from '../src/store/store.js';
import { writeEnv } from './helpers/run-env.js';
import { generateKeyPair } from '../fixtures/fleet/fleet.mjs';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const FLEET = [
  'hostname,srvtype,pop,status',
  'web1.ams,web,ams,prod',
  'web2.ams,web,AMS,prod',
  'db1.fra,db,fra,prod',
  'db2.fra:2222,db,fra,spare',
  'lb1.lon,lb,lon,prod',
];

interface Env { dir: string; config: Config; csv: string }

/** A test folder with the three files, read through loadConfig as `run -c scheduler.ini` would. */
function env(t: Tap.Test, rows: string[], ini: Record<string, Record<string, string>> = {}): Env {
  const dir = t.testdir();
  const key = path.join(dir, 'id');
  fs.writeFileSync(key, generateKeyPair().private, { mode: 0o600 });
  const files = writeEnv({ dir, keyPath: key, knownHosts: 'known_hosts', port: 22, rows, ini });
  return { dir, config: loadConfig({ file: files.ini, cwd: dir }), csv: files.csv };
}

function capture(): { log: Log; lines: () => string[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => { text += String(d); });
  return { log: new Log(false, out as unknown as NodeJS.WriteStream), lines: () => text.split('\n').filter(Boolean) };
}

function plan(e: Env, more: Partial<PlanRequest> = {}, warnings = new Warnings()) {
  return planRun({ config: e.config, inventoryFile: e.csv, threads: 8, log: capture().log, ...more }, warnings);
}

const labels = (hs: { label: string }[]): string[] => hs.map((h) => h.label);

/** An SQLite store holding one run's results: label -> how long ago it finished, and whether it succeeded. */
async function storeWith(t: Tap.Test, dir: string, now: number, history: Record<string, { ago: number; ok: boolean }>): Promise<Store> {
  const store = await openAnyStore(path.join(dir, 'var/jf.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(now - 4 * DAY), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const results: HostResult[] = Object.entries(history).map(([label, h]) => ({
    label, outcome: h.ok ? 'ok' : 'unreachable', ...(h.ok ? {} : { code: 'ECONNREFUSED' }),
    startedAt: now - h.ago - 1000, finishedAt: now - h.ago, outputBytes: 0,
    collections: h.ok ? [{ type: 'rkernel', status: 'ok', durationMs: 1, values: { '': '6.1.0' } }] : [],
  }));
  await store.recordResults(runId, results);
  return store;
}

t.test('the whole inventory: every valid row, a skipped row logged with its file and line, SSH settings for each', async (t) => {
  const e = env(t, [...FLEET, 'broken.ams,web', 'web1.ams,web,ams,prod']);
  const { log, lines } = capture();
  const p = planRun({ config: e.config, inventoryFile: e.csv, threads: 8, log }, new Warnings());
  t.same(labels(p.targets.hosts), ['web1.ams', 'web2.ams', 'db1.fra', 'db2.fra:2222', 'lb1.lon'], 'inventory order, header left out');
  t.equal(p.scope, undefined, 'a full run has no scope: it stands for the last full run');
  t.same(lines(), [
    `jellyfish: warning: ${e.csv}:7: fewer than 4 fields (2) (row skipped)`,
    `jellyfish: warning: ${e.csv}:8: duplicate of 'web1.ams' on line 2 (row skipped)`,
  ]);
  t.same(p.inventory.invalid.map((r) => r.line), [7, 8], 'kept for the JSON');
  t.same([...p.hostSsh.keys()], labels(p.targets.hosts), 'SSH settings resolved before the lock, one per target');
  t.equal(p.hostSsh.get('db2.fra:2222')?.port, 2222, "the row's port");
  t.equal(p.hostSsh.get('web1.ams')?.port, 22, "the INI's port");
  t.same(p.collections.map((c) => c.type), ['release', 'rkernel', 'packages', 'memory'], 'the collections of collector.ini');
  t.equal(p.threads, 8);
  t.equal(p.workers, 0, '[collector] workers = 0, never more than the pipelines');
  t.same(siteKeys(p.targets), ['ams', 'fra', 'lon'], 'no sites given: a PostgreSQL collector locks every pop it has, lower-cased, once each');
});

t.test('an inventory without a usable row: InventoryError naming the file and the bad lines', async (t) => {
  const e = env(t, ['web1.ams,web', 'db1.fra;db;fra;prod', ',web,ams,prod']);
  const err = t.throws(() => plan(e)) as Error;
  t.type(err, InventoryError);
  t.equal(err.message, `${e.csv}: no valid host row (3 invalid: line 1: fewer than 4 fields (2); line 2: fewer than 4 fields (1); line 3: empty hostname)`);

  const missing = env(t, FLEET);
  const gone = t.throws(() => planRun({ config: missing.config, inventoryFile: path.join(missing.dir, 'nope.csv'), threads: 8, log: capture().log }, new Warnings())) as Error;
  t.type(gone, InventoryError);
  t.match(gone.message, `${path.join(missing.dir, 'nope.csv')}: cannot read the inventory`);
});

t.test('--limit: shell globs on the names as written, a scope of their own; a pattern matching nothing is a usage error', async (t) => {
  const e = env(t, FLEET);
  const p = plan(e, { limit: ['web*', 'db2.fra:22[0-9][0-9]'] });
  t.same(labels(p.targets.hosts), ['web1.ams', 'web2.ams', 'db2.fra:2222'], 'inventory order, not pattern order');
  t.same(labels(p.targets.scoped), labels(plan(e).targets.hosts), 'the covered hosts stay the whole inventory');
  t.equal(p.scope, 'limit');
  t.same([...p.hostSsh.keys()], ['web1.ams', 'web2.ams', 'db2.fra:2222'], 'only the selected hosts are resolved');
  t.same(plan(e, { limit: [] }).targets.hosts.length, 5, 'an empty list is no limit');

  const err = t.throws(() => plan(e, { limit: ['web*', 'WEB1.ams', 'mail*'] })) as Error;
  t.type(err, UsageError);
  t.equal(err.message, `--limit "WEB1.ams" matches no host of ${e.csv}; web1.ams matches it in another case (patterns are case-sensitive); --limit "mail*" matches no host of ${e.csv}`);
});

t.test('site scope: only the rows of the sites given, the rest counted as another collector\'s', async (t) => {
  const e = env(t, FLEET, { collector: { sites: 'AMS, par' } });
  const warnings = new Warnings();
  const p = plan(e, {}, warnings);
  t.same(labels(p.targets.scoped), ['web1.ams', 'web2.ams'], 'pop matched without regard to case');
  t.ok(p.targets.scopedRun);
  t.equal(p.scope, 'sites ams,par');
  t.same(siteKeys(p.targets), ['ams', 'par'], 'the sites given are the ones locked');
  t.same(warnings.list(), [
    `${e.csv}: site "par" matches no inventory row (pop column)`,
    `${path.join(e.dir, 'known_hosts')} does not exist: with host_key_policy = strict every host will fail its host key check`,
  ], 'in the order they came up: the inventory\'s, then the SSH settings\'');

  const limited = plan(e, { limit: ['web2*'] });
  t.same(labels(limited.targets.hosts), ['web2.ams']);
  t.equal(limited.scope, 'sites ams,par, limit', 'sites and limit both name the scope');
  const outside = t.throws(() => plan(e, { limit: ['db1.fra'] })) as Error;
  t.type(outside, UsageError, '--limit only looks among the covered hosts');
  t.match(outside.message, `matches no host of ${e.csv} (sites ams,par)`);

  const none = env(t, FLEET, { collector: { sites: 'par' } });
  const err = t.throws(() => plan(none)) as Error;
  t.type(err, InventoryError, 'a site collector with no row of its own stops before the lock');
  t.equal(err.message, `${none.csv}: no valid row is in site par`);
});

t.test('the queue: stale-first (prod first, never collected first, then oldest success); file order as asked', async (t) => {
  const now = Date.now();
  const e = env(t, FLEET);
  const store = await storeWith(t, e.dir, now, {
    'web1.ams': { ago: HOUR, ok: true },
    'web2.ams': { ago: 3 * DAY, ok: true },
    'db1.fra': { ago: 2 * HOUR, ok: false },
    'lb1.lon': { ago: 2 * DAY, ok: true },
  });
  const p = plan(e);
  const q = await queueHosts(p, store, { config: e.config, now });
  t.same(labels(q.queue), ['db1.fra', 'web2.ams', 'lb1.lon', 'web1.ams', 'db2.fra:2222'],
    'a prod host that never succeeded (a failure is no success) first, then the oldest success; the spare host last');
  t.same(labels(q.mine), labels(p.targets.hosts), 'a run answers for every target, in inventory order');
  t.same(q.sapi, new Set());

  const file = env(t, FLEET, { collector: { order: 'file' } });
  const inFile = await queueHosts(plan(file), store, { config: file.config, now });
  t.same(labels(inFile.queue), labels(p.targets.hosts), 'order = file: the inventory as written');
});

t.test('gap-fix: its select picks the prod hosts without a recent success, asked of the store', async (t) => {
  const now = Date.now();
  const e = env(t, FLEET);
  const store = await storeWith(t, e.dir, now, {
    'web1.ams': { ago: HOUR, ok: true },
    'web2.ams': { ago: 3 * DAY, ok: true },
    'db1.fra': { ago: HOUR, ok: false },
  });
  const p = plan(e);
  const q = await queueHosts(p, store, { config: e.config, now, select: (hosts, s) => findGapHosts(hosts, s, e.config, now) });
  t.same(labels(q.mine), ['web2.ams', 'db1.fra', 'lb1.lon'], 'stale, failed and never-collected prod hosts; a fresh one and a spare one left out');
  t.same(new Set(labels(q.queue)), new Set(labels(q.mine)), 'all three collected');
  t.equal(labels(q.queue).at(-1), 'web2.ams', 'the one with a success goes after the ones never collected');

  const limited = plan(e, { limit: ['web*'] });
  const q2 = await queueHosts(limited, store, { config: e.config, now, select: (hosts, s) => findGapHosts(hosts, s, e.config, now) });
  t.same(labels(q2.mine), ['web2.ams'], 'gap-fix chooses among the hosts --limit left');
});

t.test('agent hosts: a recent push with a recent SSH attempt is left out of the queue, not out of the run', async (t) => {
  const now = Date.now();
  const e = env(t, [...FLEET, 'agent.fra,web,fra,prod', 'pusher.fra,web,fra,prod']);
  const store = await storeWith(t, e.dir, now, { 'agent.fra': { ago: 2 * DAY, ok: true } });
  const ingest = await store.beginRun({ mode: 'ingest', startedAt: new Date(now - 2 * HOUR), pid: 1, hostname: 'x', threads: 0, workers: 0 });
  for (const host of ['agent.fra', 'pusher.fra']) {
    await store.recordPush(ingest, { host, timestamp: now - HOUR, ok: true, statusText: 'ok', data: { rkernel: { '': '6.1.0' } } });
  }
  const q = await queueHosts(plan(e), store, { config: e.config, now });
  t.same(q.sapi, new Set(['agent.fra']), 'one query: pushed within [sapi] max_age and an SSH attempt within verify_every');
  t.ok(labels(q.mine).includes('agent.fra'), 'still the run\'s host: it is listed as a sapi host');
  t.notOk(labels(q.queue).includes('agent.fra'), 'not collected');
  t.ok(labels(q.queue).includes('pusher.fra'), 'a pusher never checked over SSH is collected all the same');
  t.equal(q.queue.length, 6);
});

t.test('the task a thread gets: plain data, the run deadline and the resolved SSH settings', async (t) => {
  const e = env(t, FLEET);
  const p = plan(e);
  const host = p.targets.hosts.find((h) => h.label === 'db2.fra:2222');
  if (!host) throw new Error('db2.fra:2222 not planned');
  const deadlineAt = Date.now() + 60_000;
  const task = hostTask(p, host, deadlineAt);
  t.match(task, { name: 'db2.fra', label: 'db2.fra:2222', host: 'db2.fra', port: 2222, deadlineAt });
  t.equal(task.collections, p.collections);
  t.equal(task.ssh.user, 'tester');
  t.equal(task.ssh.privateKeys.length, 1, 'the key read once, in the main thread');
  t.notOk('jump' in task || 'proxyCommand' in task || 'hostKeyAlias' in task, 'no keys for what the host does not use');
  t.same(structuredClone(task), task, 'survives the thread boundary as is');
});
