// End to end against the fixture fleet: every fault becomes the right outcome and code, the
// other hosts are unaffected, facts land as intervals, and a second unchanged run adds no rows.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet, type FaultSpec } from '../fixtures/fleet/fleet.mjs';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { loadConfig } from '../src/config/load.js';
import { openStore } from '../src/store/store.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';
import { hostStates, currentFacts as currentFactsOf } from './helpers/store-views.js';

const BASE = '127.30.0.';
const faults: Record<string, FaultSpec> = {
  [`${BASE}9`]: { kind: 'refuse' },
  [`${BASE}10`]: { kind: 'hang' },
  [`${BASE}11`]: { kind: 'banner-hang' },
  [`${BASE}12`]: { kind: 'auth-reject' },
  [`${BASE}13`]: { kind: 'wrong-hostkey' },
  [`${BASE}14`]: { kind: 'channel-refuse' },
  [`${BASE}15`]: { kind: 'cmd-hang', type: 'packages' },
  [`${BASE}16`]: { kind: 'step-fail', type: 'rkernel', code: 2 },
  [`${BASE}17`]: { kind: 'huge-output', type: 'memory', bytes: 3 * 1024 * 1024 },
  [`${BASE}18`]: { kind: 'disconnect', type: 'packages' },
  [`${BASE}19`]: { kind: 'invalid-utf8', type: 'rkernel' },
  [`${BASE}20`]: { kind: 'slow-output', type: 'rkernel', intervalMs: 500 },
};

const expected: Record<string, { outcome: string; code?: string }> = {
  [`${BASE}9`]: { outcome: 'unreachable', code: 'ECONNREFUSED' },
  [`${BASE}10`]: { outcome: 'unreachable', code: 'ETIMEDOUT' },
  [`${BASE}11`]: { outcome: 'unreachable', code: 'ETIMEDOUT' },
  [`${BASE}12`]: { outcome: 'auth_failed', code: 'AUTH' },
  [`${BASE}13`]: { outcome: 'hostkey_mismatch', code: 'HOSTKEY' },
  [`${BASE}14`]: { outcome: 'error', code: 'CHANNEL' },
  [`${BASE}15`]: { outcome: 'partial' },
  [`${BASE}16`]: { outcome: 'partial' },
  [`${BASE}17`]: { outcome: 'partial', code: 'OUTPUT_CAP' },
  [`${BASE}18`]: { outcome: 'partial', code: 'DISCONNECTED' },
  [`${BASE}19`]: { outcome: 'ok' },
  [`${BASE}20`]: { outcome: 'partial' },
  'no-such-host.invalid': { outcome: 'unreachable', code: 'ENOTFOUND' },
};

t.test('a run over the fault fleet', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 20, base: `${BASE}1`, port: 2222, dir, faults });
  t.teardown(() => fleet.close());
  const labels = [...fleet.hosts.map((h) => h.address), 'no-such-host.invalid'];
  const rows = labels.map((l, i) => `${l},web,ams,${i % 2 ? 'spare' : 'prod'},`);
  rows.splice(3, 0, 'broken,row');
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows,
    ini: { storage: { database: 'var/jf.db', max_output: '1MB' } },
  });
  const config = loadConfig({ file: env.ini });
  const runOnce = async (workers: number) => {
    const c = { ...config, collector: { ...config.collector, workers } };
    return collectRun({ mode: 'run', config: c, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 64, limitMs: 60_000 });
  };

  const first = await runOnce(0);
  t.same(statusProblems(first.json, labels), [], 'every host in exactly one list');
  t.same(first.json.invalid_rows, [{ line: 4, reason: 'fewer than 4 fields (2)', file: env.csv }]);
  const failures = first.json.failures as Record<string, { outcome: string; code: string }>;
  const success = new Set(first.json.global_success_hosts_list as string[]);
  for (const label of labels) {
    const want = expected[label] ?? { outcome: 'ok' };
    if (want.outcome === 'ok' || want.outcome === 'partial') {
      t.ok(success.has(label), `${label} counts as a success (${want.outcome})`);
    } else {
      t.equal(failures[label]?.outcome, want.outcome, `${label} outcome`);
      if (want.code) t.equal(failures[label]?.code, want.code, `${label} code`);
    }
  }
  t.equal(first.exitCode, 0, 'failures within max_fail_percent 100');
  const written = JSON.parse(fs.readFileSync(path.join(dir, 'var/out.json'), 'utf8'));
  t.equal(written.run_id, first.json.run_id, 'result_json written');

  const store = openStore(env.db);
  t.teardown(() => store.close());
  const states = new Map((await hostStates(store)).map((s) => [s.name, s]));
  for (const [label, want] of Object.entries(expected)) {
    t.equal(states.get(label)?.lastOutcome, want.outcome, `stored outcome of ${label}`);
  }
  t.same(await currentFactsOf(store, `${BASE}13`), [], 'nothing stored for a changed host key');
  const kernel = (await currentFactsOf(store, `${BASE}1`, 'rkernel'));
  t.equal(kernel.length, 1, 'one current rkernel fact');
  const utf = (await currentFactsOf(store, `${BASE}19`, 'rkernel'))[0];
  t.ok(utf && !utf.value.includes('\u0000') && utf.value.includes('\uFFFD'), 'invalid UTF-8 stored with replacement characters, no NUL');
  const rowsAfterFirst = await store.factRowCount();
  t.ok(rowsAfterFirst > 100, `facts stored (${rowsAfterFirst})`);

  // Same fleet, nothing changed, now on a real worker thread: no new fact rows.
  const second = await runOnce(1);
  t.same(statusProblems(second.json, labels), []);
  t.equal(await store.factRowCount(), rowsAfterFirst, 'an unchanged second run adds no fact rows');

  // One host's kernel changes: one new interval opens, the old one closes.
  fleet.setOutputs(`${BASE}1`, { rkernel: '6.1.0-99-amd64\n' });
  await runOnce(0);
  t.equal(await store.factRowCount(), rowsAfterFirst + 1);
  t.same((await currentFactsOf(store, `${BASE}1`, 'rkernel')).map((f) => f.value), ['6.1.0-99-amd64']);
});

t.test('accept-new learns unknown host keys and refuses changed ones', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 3, base: '127.30.1.1', port: 2222, dir, faults: { '127.30.1.3': { kind: 'wrong-hostkey' } } });
  t.teardown(() => fleet.close());
  const kh = path.join(dir, 'learned_known_hosts');
  fs.writeFileSync(kh, fs.readFileSync(fleet.knownHostsPath, 'utf8').split('\n').filter((l) => l.includes('127.30.1.3')).join('\n') + '\n');
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: kh, port: 2222,
    rows: fleet.hosts.map((h) => `${h.address},web,ams,prod`),
    ini: { paramiko: { host_key_policy: 'accept-new', known_hosts: kh } },
  });
  const config = loadConfig({ file: env.ini });
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 30_000 });
  t.same(r.json.global_success_hosts_list, ['127.30.1.1', '127.30.1.2']);
  t.same(r.json.global_fail_hosts_list, ['127.30.1.3']);
  const learned = fs.readFileSync(kh, 'utf8');
  t.match(learned, /^\[127\.30\.1\.1\]:2222 ssh-ed25519 /m);
  t.match(learned, /^\[127\.30\.1\.2\]:2222 ssh-ed25519 /m);
  // strict now accepts the learned keys
  const strict = loadConfig({ file: env.ini, overrides: new Map([['paramiko.host_key_policy', 'strict']]) });
  const r2 = await collectRun({ mode: 'run', config: strict, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 30_000 });
  t.same(r2.json.global_success_hosts_list, ['127.30.1.1', '127.30.1.2']);
});
