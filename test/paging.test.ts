// Paged answers (the HTTP API's limit and cursor) are the whole answer cut in pages: hostsView and
// runQuery read only a page, so every page walk is checked against the whole answer, for each
// filter, in natural and in inventory order, and across a host added between two pages.
import path from 'node:path';
import t from 'tap';
import { hostsView, type HostsRequest } from '../src/app/hosts-view.js';
import type { PagePosition, PageRequest } from '../src/app/paging.js';
import { runQuery, type QueryRequest, type QueryView } from '../src/app/query.js';
import type { HostResult } from '../src/core/results.js';
import type { InventoryHost } from '../src/inventory/host.js';
import { openStore } from '../src/store/store.js';
import type { Store } from '../src/store/store.js';

const HOSTS = 57;
const name = (i: number) => `web${i}.${i % 3 ? 'ams' : 'fra'}`;
const inv = (i: number): InventoryHost => ({
  label: name(i), host: name(i), srvtype: i % 2 ? 'web' : 'db', pop: i % 3 ? 'ams' : 'fra', status: i % 5 ? 'prod' : 'spare', notes: '', isProd: i % 5 !== 0, line: i + 1,
});

async function fill(store: Store, from: number, to: number, at: number): Promise<void> {
  const hosts = Array.from({ length: to - from + 1 }, (_, k) => inv(from + k));
  await store.upsertHosts(hosts);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at), pid: process.pid, hostname: 'test', threads: 1, workers: 0 });
  await store.recordResults(runId, hosts.map((h, k): HostResult => {
    const i = from + k;
    const failed = i % 7 === 0;
    return {
      label: h.label, outcome: failed ? 'unreachable' : 'ok', ...(failed ? { code: 'E_CONNECT', message: 'refused' } : {}),
      startedAt: at - 10, finishedAt: at, outputBytes: 0,
      collections: failed ? [] : [
        { type: 'release', status: 'ok', durationMs: 1, values: { ID: i % 4 ? 'debian' : 'rocky', ...(i % 4 ? {} : { ID_LIKE: 'rhel centos fedora' }) } },
        { type: 'packages', status: 'ok', durationMs: 1, values: { openssl: i % 4 ? `3.0.${i % 9}-1` : `3.0.${i % 9}-1.el9`, [`extra${i % 3}`]: '1' } },
      ],
    } as HostResult;
  }));
  await store.finishRun(runId, new Date(at), 0, '{}');
}

/** Every page of a listing, walked with each page's next position as the next request. */
async function walk<T>(limit: number, get: (p: PageRequest) => Promise<{ rows: T[]; next?: PagePosition }>): Promise<T[][]> {
  const pages: T[][] = [];
  let at: PagePosition | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const p = await get({ limit, ...(at ?? {}) });
    pages.push(p.rows);
    if (!p.next) return pages;
    at = p.next;
  }
  throw new Error('the walk did not end');
}

t.test('hosts: every page walk is the whole answer, in natural and inventory order, with each filter', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  await fill(store, 1, HOSTS, Date.now() - 60_000);
  const inventory = Array.from({ length: HOSTS + 3 }, (_, k) => inv(HOSTS + 3 - k)); // reversed, and 3 hosts never collected
  const filters: HostsRequest['filter'][] = [{}, { failed: true }, { prod: true }, { sites: ['FRA'] }, { srvtypes: ['db'], prod: true }, { staleBefore: Date.now() + 1 }, { sites: ['nowhere'] }];
  for (const order of ['natural', 'inventory'] as const) {
    for (const filter of filters) {
      const req: HostsRequest = { ...(order === 'inventory' ? { inventory } : {}), filter: filter ?? {} };
      const whole = (await hostsView(store, req)).hosts;
      for (const limit of [1, 4, 10, 100]) {
        const pages = await walk(limit, async (page) => { const v = await hostsView(store, { ...req, page }); return { rows: v.hosts, ...(v.next ? { next: v.next } : {}) }; });
        t.same(pages.flat(), whole, `${order} order, filter ${JSON.stringify(filter)}, limit ${limit}: the pages are the whole answer`);
        t.ok(pages.every((p, k) => p.length === limit || k === pages.length - 1), 'every page but the last is full');
      }
    }
  }
  const natural = (await hostsView(store, {})).hosts.map((h) => h.host);
  t.same(natural.slice(0, 4), ['web1.ams', 'web2.ams', 'web3.fra', 'web4.ams'], 'natural order (web2 before web10)');
});

t.test('hosts: a host added between two pages is neither repeated nor skipped', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  await fill(store, 10, 30, Date.now() - 60_000);
  const first = await hostsView(store, { page: { limit: 5 } });
  t.same(first.hosts.map((h) => h.host), ['web10.ams', 'web11.ams', 'web12.fra', 'web13.ams', 'web14.ams']);
  t.same(first.next, { offset: 5, after: 'web14.ams' });
  // web1..web3 sort before the page's end: an offset alone would show web12-14 again.
  await fill(store, 1, 3, Date.now() - 30_000);
  const second = await hostsView(store, { page: { limit: 5, ...first.next! } });
  t.same(second.hosts.map((h) => h.host), ['web15.fra', 'web16.ams', 'web17.ams', 'web18.fra', 'web19.ams'], 'the next page starts after the last host shown');
});

t.test('query: pages are the whole answer, counts describe the whole; countBy pages its values', async (t) => {
  const store = openStore(path.join(t.testdir(), 'jf.db'));
  t.teardown(() => store.close());
  await fill(store, 1, HOSTS, Date.now() - 60_000);
  const requests: QueryRequest[] = [
    { type: 'packages', subtype: 'openssl' },
    { type: 'packages' },
    { type: 'packages', subtype: 'openssl', versions: [{ op: 'ge', version: '3.0.4' }], scheme: 'auto' },
    { type: 'packages', subtype: 'openssl', like: '3.0.1%', prod: true, sites: ['ams'] },
    { type: 'nothing' },
  ];
  for (const q of requests) {
    const whole = await runQuery(store, q);
    for (const limit of [1, 3, 50]) {
      const views: QueryView[] = [];
      const pages = await walk(limit, async (page) => { const v = await runQuery(store, q, page); views.push(v); return { rows: v.hits, ...(v.next ? { next: v.next } : {}) }; });
      t.same(pages.flat(), whole.hits, `${JSON.stringify(q)}, limit ${limit}: the pages are the whole answer, with their times`);
      t.ok(views.every((v) => v.count === whole.count && v.hostCount === whole.hostCount && v.leftOut.length === whole.leftOut.length), 'each page counts the whole answer');
    }
    t.equal(whole.count, whole.hits.length);
  }
  t.ok((await runQuery(store, requests[0]!)).hits.every((h) => h.since !== '' && h.lastSeen !== ''), 'every hit has its times');
  const counted = await runQuery(store, { type: 'packages', subtype: 'openssl', countBy: 'value' });
  const pages = await walk(2, async (page) => { const v = await runQuery(store, { type: 'packages', subtype: 'openssl', countBy: 'value' }, page); return { rows: v.counts ?? [], ...(v.next ? { next: v.next } : {}) }; });
  t.same(pages.flat(), counted.counts, 'countBy: the values, page by page');
  t.ok((counted.counts ?? []).length > 2);
});
