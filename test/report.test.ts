import t from 'tap';
import type { InventoryHost } from '../src/inventory/host.js';
import type { HostResult, Outcome } from '../src/core/results.js';
import { Warnings } from '../src/app/warnings.js';
import { buildStatus, exitCodeFor, renderJson } from '../src/report/status-json.js';

const hosts: InventoryHost[] = ['a.ams', 'b.ams', 'c.ams', 'd.ams', 'e.ams', 'f.ams', 'g.ams'].map((label, i) => ({
  label, host: label, srvtype: 'web', pop: 'ams', status: i < 3 ? 'prod' : 'spare', notes: '', isProd: i < 3, line: i + 1,
}));

function result(label: string, outcome: Outcome, code?: string): HostResult {
  return { label, outcome, ...(code ? { code: code as HostResult['code'], message: `${code} happened` } : {}), startedAt: 0, finishedAt: 1, collections: [], outputBytes: 0 };
}

const base = {
  mode: 'run' as const, runId: 41, version: '1.0.0', threads: 256, workers: 1,
  startedAt: new Date('2026-11-23T02:00:00Z'), finishedAt: new Date('2026-11-23T02:00:12.34Z'),
  invalid: [{ line: 7, reason: 'fewer than 4 fields (2)' }], maxFailPercent: 100, limitMs: 28_800_000,
};

t.test('every host lands in exactly one list; failures carry outcome and code', async (t) => {
  const results = new Map([
    ['a.ams', result('a.ams', 'unreachable', 'ETIMEDOUT')],
    ['b.ams', result('b.ams', 'ok')],
    ['c.ams', result('c.ams', 'partial', 'OUTPUT_CAP')],
    ['d.ams', result('d.ams', 'hostkey_mismatch', 'HOSTKEY')],
    ['e.ams', result('e.ams', 'ok')],
  ]);
  const json = buildStatus({ ...base, hosts, results, sapi: new Set(['f.ams']), deadlineHit: true });
  t.same(json.global_success_hosts_list, ['b.ams', 'c.ams', 'e.ams']);
  t.same(json.global_fail_hosts_list, ['a.ams', 'd.ams']);
  t.same(json.global_fail_prod_list, ['a.ams']);
  t.same(json.sapi_hosts_list, ['f.ams']);
  t.same(json.not_started_hosts_list, ['g.ams']);
  t.equal(json.global_fail_hosts, 2);
  t.same((json.failures as Record<string, unknown>)['d.ams'], { outcome: 'hostkey_mismatch', code: 'HOSTKEY', message: 'HOSTKEY happened' });
  t.equal(json.Timeout, 'Timeout reached at 28800.0 seconds with 1 items left on the queue.');
  t.equal(json.jobtime, 12.3);
  t.equal(json.exit_code, 2);
  t.same(json.outcomes, { ok: 2, partial: 1, unreachable: 1, auth_failed: 0, hostkey_mismatch: 1, timeout: 0, error: 0 });
  const text = renderJson(json);
  const keys = Object.keys(JSON.parse(text));
  t.same(keys, [...keys].sort(), 'keys sorted');
  t.notOk(renderJson(json, true).includes('\n'), '--compact is one line');
});

t.test('exit codes', async (t) => {
  t.equal(exitCodeFor({ deadlineHit: false, failed: 0, succeeded: 5, maxFailPercent: 100 }), 0);
  t.equal(exitCodeFor({ deadlineHit: false, failed: 5, succeeded: 0, maxFailPercent: 100 }), 1, 'total failure is never 0');
  t.equal(exitCodeFor({ deadlineHit: false, failed: 3, succeeded: 7, maxFailPercent: 25 }), 1);
  t.equal(exitCodeFor({ deadlineHit: false, failed: 2, succeeded: 8, maxFailPercent: 25 }), 0);
  t.equal(exitCodeFor({ deadlineHit: true, failed: 0, succeeded: 8, maxFailPercent: 25 }), 2);
  t.equal(exitCodeFor({ deadlineHit: true, interrupted: { reason: 'SIGTERM', exitCode: 143 }, failed: 0, succeeded: 8, maxFailPercent: 25 }), 143);
  t.equal(exitCodeFor({ deadlineHit: false, failed: 0, succeeded: 0, maxFailPercent: 100 }), 0, 'nothing to do (all sapi) is fine');
});

t.test('interruption is reported with the old-style wording', async (t) => {
  const json = buildStatus({ ...base, hosts, results: new Map(), sapi: new Set(), deadlineHit: false, interrupted: { reason: 'SIGINT', exitCode: 130 } });
  t.equal(json.Interrupted, 'SIGINT at 12.3 seconds');
  t.equal(json.exit_code, 130);
  t.equal(json.not_started_hosts, 7);
  t.notOk('Timeout' in json);
});

t.test('run-wide warnings: said once each, listed in the JSON in the order they came up', async (t) => {
  const said: string[] = [];
  const w = new Warnings((m) => said.push(m));
  for (const text of ['b: weak', 'a: weak', 'b: weak']) w.add(text);
  t.same(said, ['b: weak', 'a: weak'], 'stderr hears each once');
  const json = buildStatus({ ...base, hosts, results: new Map(), sapi: new Set(), deadlineHit: false, warnings: w.list() });
  t.same(json.warnings, ['b: weak', 'a: weak']);
  t.same(buildStatus({ ...base, hosts, results: new Map(), sapi: new Set(), deadlineHit: false }).warnings, [], 'none: an empty list');
  const many = new Warnings();
  for (let i = 0; i < 1500; i++) many.add(`host${i}: weak`);
  t.equal(many.list().length, 1001, 'bounded');
  t.match(many.list()[1000], /the rest are not listed/);
});

t.test('a host named __proto__ (or constructor) is reported in failures like any other', async (t) => {
  const odd: InventoryHost[] = ['__proto__', 'constructor', 'toString'].map((label, i) => ({
    label, host: label, srvtype: 'web', pop: 'ams', status: 'prod', notes: '', isProd: true, line: i + 1,
  }));
  const results = new Map(odd.map((h) => [h.label, result(h.label, 'unreachable', 'ECONNREFUSED')]));
  const json = buildStatus({ ...base, hosts: odd, results, sapi: new Set(), deadlineHit: false });
  const back = JSON.parse(renderJson(json)) as { failures: Record<string, unknown>; global_fail_hosts_list: string[] };
  t.same(back.global_fail_hosts_list, ['__proto__', 'constructor', 'toString']);
  t.same(Object.keys(back.failures).sort(), ['__proto__', 'constructor', 'toString'], 'each failed host has its entry');
  t.same(back.failures['__proto__'], { outcome: 'unreachable', code: 'ECONNREFUSED', message: 'ECONNREFUSED happened' });
});
