// The fleet pages in a real browser (Debian's chromium through playwright-core, never a browser
// download), over a database made by two real `jellyfish run`s of the fixture fleet with one fact
// changed between them and a pushed document whose value is markup; plus the store questions the
// pages added, on SQLite and PostgreSQL alike, and the HTML builder's escaping.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { loadConfig } from '../src/config/load.js';
import type { InventoryHost } from '../src/inventory/host.js';
import { escapeHtml, html, raw, toText } from '../src/pages/html.js';
import { CONTENT_SECURITY_POLICY, pagesPlugin } from '../src/pages/plugin.js';
import { niceTicks } from '../src/pages/svg.js';
import type { CollectionResult, HostResult } from '../src/core/results.js';
import { openAnyStore, openStore, type Store } from '../src/store/store.js';
import { BIN, jf } from './helpers/jellyfish-cli.js';
import { loopbackListen } from './helpers/serve-process.js';
import { openTestPgStore } from './helpers/postgres.js';
import { writeEnv } from './helpers/run-env.js';
import { currentFacts as currentFactsOf } from './helpers/store-views.js';

const CHROMIUM = '/usr/bin/chromium';
const BASE = '127.140.0.';
const XSS = '<script>alert(1)</script>';
const NEW_KERNEL = '6.1.0-99-amd64';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('the HTML builder escapes every interpolated value unless it is trusted markup', async (t) => {
  t.equal(toText(html`<p title="${'"x" & \'y\''}">${XSS}</p>`), '<p title="&quot;x&quot; &amp; &#39;y&#39;">&lt;script&gt;alert(1)&lt;/script&gt;</p>');
  t.equal(toText(html`<ul>${['<a>', html`<li>${'<b>'}</li>`, null, undefined, false, 3]}</ul>`), '<ul>&lt;a&gt;<li>&lt;b&gt;</li>3</ul>', 'lists, nested Html, nothing for null');
  t.equal(toText(html`${raw('<br>')}`), '<br>', 'raw() only for markup the program wrote');
  t.equal(escapeHtml('a&b'), 'a&amp;b');
  t.same(niceTicks(7), [0, 2, 4, 6, 8]);
  t.same(niceTicks(1234), [0, 500, 1000, 1500]);
  t.same(niceTicks(0), [0, 1]);
});

/**
 * The pages over a database, on 127.140.0.1 (an ephemeral port). The one place that starts the
 * server: it stands in for spawning `jellyfish serve` once that exists.
 */
/**
 * The real `jellyfish serve` (the built binary) over the test's database, on a loopback address of
 * this file's own /16: the pages open (`ui_auth = none`), or behind a read token (`token`: the
 * name of one made with `jellyfish token add`, whose secret is returned).
 */
async function startPagesServer(opts: { ini: string; token?: string }): Promise<{ url: string; secret?: string; close(): Promise<void> }> {
  const { listen } = loopbackListen(BASE.replace(/\.0\.$/, ''));
  const ini = path.join(path.dirname(opts.ini), `serve-${opts.token ?? 'open'}.ini`);
  fs.writeFileSync(ini, `${fs.readFileSync(opts.ini, 'utf8')}\n[api]\nlisten = ${listen}\nui_auth = ${opts.token ? 'token' : 'none'}\n`);
  let secret: string | undefined;
  if (opts.token) {
    const r = await jf(['token', 'add', opts.token, '--scope', 'read', '-c', ini], path.dirname(ini));
    if (r.code !== 0) throw new Error(`token add: exit ${r.code}: ${r.stderr}`);
    secret = (JSON.parse(r.stdout) as { token: string }).token;
  }
  const child = spawn(process.execPath, [BIN, 'serve', '-c', ini], { cwd: path.dirname(ini), env: { ...process.env, CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d;
      const m = /serving the storage API on (\S+)/.exec(err);
      if (m) resolve(m[1] as string);
    });
    void exited.then(() => reject(new Error(`serve exited before listening: ${err}`)));
  });
  return { url, ...(secret ? { secret } : {}), close: async () => { if (child.exitCode === null) child.kill('SIGTERM'); await exited; } };
}

interface Watch { problems: string[]; dialogs: string[] }

/** Console errors, page errors, failed requests and HTTP errors of one page, and any dialog (dismissed). */
function watch(page: Page): Watch {
  const w: Watch = { problems: [], dialogs: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') w.problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => w.problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => w.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) w.problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on('dialog', (d) => { w.dialogs.push(d.message()); void d.dismiss(); });
  return w;
}

t.test('the pages in a browser over two runs of the fixture fleet', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 6, base: `${BASE}1`, port: 2222, dir, faults: { [`${BASE}6`]: { kind: 'refuse' } } });
  t.teardown(() => fleet.close());
  const hosts = fleet.hosts.map((h) => h.address);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222,
    rows: hosts.map((a, i) => `${a},${i % 2 ? 'db' : 'web'},${i < 3 ? 'ams' : 'fra'},${i === 4 ? 'spare' : 'prod'}`),
  });
  const first = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(first.code, 0, `first run: ${first.stderr}`);
  fleet.setOutputs(`${BASE}1`, { rkernel: `${NEW_KERNEL}\n` });
  const second = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(second.code, 0, `second run: ${second.stderr}`);
  const runs = [JSON.parse(first.stdout), JSON.parse(second.stdout)] as Record<string, number>[];
  const push = path.join(dir, 'push.json');
  fs.writeFileSync(push, JSON.stringify({ collection_hostname: `${BASE}2`, collection_timestamp: new Date().toISOString(), collection_status: 'ok', collection_data: { notes: { motd: XSS } } }));
  const ingest = await jf(['ingest', 'push.json', '-c', 'scheduler.ini'], dir);
  t.equal(ingest.code, 0, `ingest: ${ingest.stderr}`);
  const check = openStore(env.db, { readonly: true });
  const oldKernel = (await currentFactsOf(check, `${BASE}2`, 'rkernel'))[0]!.value;
  check.close();
  t.not(oldKernel, NEW_KERNEL);

  // Two audits, analyzed twice: curl is below the required build on every Debian host, openssl is not.
  const audit = (name: string, pkg: string, version: string) => ({
    [name]: {
      'vuln-name': `${pkg} below ${version}`, 'vuln-short-description': `${pkg} must be at least ${version}`, 'vuln-long-description': `Upgrade ${pkg}.`,
      'vuln-primary-link': `https://security-tracker.debian.org/tracker/source-package/${pkg}`, 'vuln-additional-links': { 'javascript link': 'javascript:alert(1)' }, 'vuln-priority': 6,
      filters: { bookworm: { 'filter-collection-type': ['release'], 'filter-collection-subtype': ['ID'], 'filter-match': 'is', 'filter-match-value': ['debian'] } },
      comparisons: { bookworm: { 'comparison-collection-type': 'packages', 'comparison-collection-subtype': pkg, 'comparison-match': 'aptge', 'comparison-match-value': version } },
    },
  });
  fs.mkdirSync(path.join(dir, 'audits'));
  fs.writeFileSync(path.join(dir, 'audits', 'site.json'), JSON.stringify({ ...audit('curl-too-old', 'curl', '7.88.1-10+deb12u99'), ...audit('openssl-too-old', 'openssl', '3.0.11-1~deb12u2') }));
  for (const n of [1, 2]) {
    const analyzed = await jf(['analyze', '-a', 'audits', '-c', 'scheduler.ini'], dir);
    t.equal(analyzed.code, 0, `analyze ${n}: ${analyzed.stderr}`);
  }

  const server = await startPagesServer({ ini: env.ini });
  t.teardown(() => server.close());

  // Headers, without a browser.
  const res = await fetch(`${server.url}/`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
  t.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
  t.notMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|script-src/, 'no script source at all');
  t.equal(res.headers.get('x-content-type-options'), 'nosniff');
  t.equal(res.headers.get('referrer-policy'), 'no-referrer');
  t.match(res.headers.get('content-type'), /^text\/html; charset=utf-8/);
  const css = await fetch(`${server.url}/static/jellyfish.css`);
  t.equal(css.status, 200);
  t.match(css.headers.get('content-type'), /^text\/css/);
  t.equal((await fetch(`${server.url}/static/../plugin.js`)).status, 404, 'only the bundled files');
  const bad = await fetch(`${server.url}/changes?since=yesterday`);
  t.equal(bad.status, 400, 'a time it cannot read is a 400 page');
  t.match(await bad.text(), /since &quot;yesterday&quot;: give an ISO 8601 date/);

  if (!fs.existsSync(CHROMIUM)) {
    t.skip(`browser checks skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
    return;
  }
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());

  for (const javaScriptEnabled of [true, false]) {
    await t.test(`JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, async (t) => {
      const context = await browser.newContext({ javaScriptEnabled });
      t.teardown(() => context.close());
      const page = await context.newPage();
      const w = watch(page);

      // The fleet at a glance.
      t.equal((await page.goto(`${server.url}/`))?.status(), 200);
      t.equal(await page.locator('h1').textContent(), 'Fleet');
      for (const [series, key] of [['ok', 'global_success_hosts'], ['failed', 'global_fail_hosts']] as const) {
        const counts = await page.locator(`svg.runs g[data-series="${series}"] rect`).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
        t.same(counts, runs.map((r) => r[key]), `the runs chart has a ${series} bar per run with its count`);
      }
      t.equal(await page.locator('svg.runs circle.s-duration-dot').count(), 2, 'one duration point per run');
      t.equal(await page.locator('#outcomes td[data-outcome="unreachable"]').textContent(), '1');
      t.match(await page.locator('#stale').textContent(), new RegExp(`${BASE.replace(/\./g, '\\.')}6`), 'the refusing prod host is stale');
      t.notMatch(await page.locator('#stale').textContent(), new RegExp(`${BASE.replace(/\./g, '\\.')}5\\b`), 'a spare host is not');
      t.match(await page.locator('#changes').textContent(), /rkernel/, 'the latest changes show the kernel change');
      t.match(await page.locator('#runs').textContent(), /Now: idle/, 'the status question: nothing is running');
      // Audit failures of the newest analyze: curl-too-old (priority 6) fails on five hosts.
      const failureRows = await page.locator('#audit-failures tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      t.equal(failureRows.length, 1, 'one priority has failures');
      t.same(failureRows[0]!.slice(0, 3), ['6', '1', '5'], 'priority 6: one audit, five failing results');
      const byPop = await page.locator('#audit-failures td[data-pop]').evaluateAll((tds) => tds.map((td) => Number(td.textContent || 0)));
      t.equal(byPop.reduce((a, b) => a + b, 0), 5, 'the pops add up to the row');
      await Promise.all([page.waitForURL(/\/audits\?failing=1/), page.locator('#audit-failures td[data-pop] a').first().click()]);
      t.match(await page.locator('main tbody').textContent(), /curl-too-old/, 'a cell leads to the failing audits of its pop');
      t.notMatch(await page.locator('main tbody').textContent(), /openssl-too-old/, 'and to those only');

      // A host: its timeline holds the value that changed between the runs, the old one too.
      t.equal((await page.goto(`${server.url}/hosts/${BASE}1`))?.status(), 200);
      const key = page.locator('#history .key[data-key="rkernel/default"]');
      t.equal(await key.count(), 1, 'rkernel has a timeline');
      const values = await page.locator('#history rect[data-value]').evaluateAll((els) => els.map((e) => e.getAttribute('data-value')));
      t.same(values, [oldKernel, NEW_KERNEL], 'the timeline has the old and the new value, in order');
      t.match(await page.locator('#history').textContent(), /current/);
      t.match(await page.locator('#attempts').textContent(), /run #2/);
      t.match(await page.locator('#inventory').textContent(), /Server type\s*web/);
      // Its audit results: curl below the required build fails since the first analyze, openssl passes.
      const results = await page.locator('#audits tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('td a')?.textContent, tr.querySelector('td[data-result]')?.getAttribute('data-result')]));
      t.same(results, [['curl-too-old', 'fail'], ['openssl-too-old', 'pass']], 'failing first, each audit with its result');
      t.match(await page.locator('#audits tbody tr').first().textContent(), /\d{4}-\d\d-\d\d \d\d:\d\dZ/, 'failing since when');
      t.equal(await page.locator('#audits a[href="/audits/curl-too-old"]').count(), 1, 'linked to the audit');

      // The search form (a GET form: works without JavaScript).
      await page.fill('#search input[name=q]', NEW_KERNEL);
      await Promise.all([page.waitForURL(/\?q=/), page.click('#search button[type=submit]')]);
      const rows = await page.locator('#facts tbody tr').count();
      t.equal(rows, 1, 'the search keeps the one matching fact');
      t.match(await page.locator('#facts tbody').textContent(), NEW_KERNEL);

      // A pushed value that is markup shows as text and runs nothing.
      t.equal((await page.goto(`${server.url}/hosts/${BASE}2?type=notes`))?.status(), 200);
      t.equal(await page.locator('#facts td.value').first().textContent(), XSS, 'the markup is shown as text');
      t.equal(await page.locator('script').count(), 0, 'no script element in the page');

      // The change feed with its form.
      t.equal((await page.goto(`${server.url}/changes`))?.status(), 200);
      t.match(await page.locator('main').textContent(), /new host/);
      await page.fill('input[name=type]', 'rkernel');
      await Promise.all([page.waitForURL(/type=rkernel/), page.click('form.filters button')]);
      const kinds = await page.locator('main tbody tr').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
      t.ok(kinds.some((k) => k.includes('changed') && k.includes(oldKernel) && k.includes(NEW_KERNEL)), 'the kernel change, old and new');

      // Production hosts only: the spare host's first collection leaves the feed.
      const spare = `${BASE}5`;
      t.equal((await page.goto(`${server.url}/changes`))?.status(), 200);
      t.match(await page.locator('main tbody').textContent(), spare, 'every host, the spare one too');
      await page.check('form.filters input[name=prod]');
      await Promise.all([page.waitForURL(/prod=1/), page.click('form.filters button')]);
      t.notMatch(await page.locator('main tbody').textContent(), spare, 'production hosts only');
      t.ok(await page.locator('form.filters input[name=prod]').isChecked(), 'the box stays checked');

      // The host box in the header.
      await page.fill('form.jump input', `${BASE}3`);
      await Promise.all([page.waitForURL(/\/hosts\/127/), page.click('form.jump button')]);
      t.equal(await page.locator('h1').textContent(), `${BASE}3`);

      // The audits: the list, then one audit with its chart over the two analyze runs and its hosts.
      t.equal((await page.goto(`${server.url}/audits`))?.status(), 200);
      const auditRows = await page.locator('main tbody tr').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
      t.ok(auditRows.some((r) => r.includes('curl-too-old')) && auditRows.some((r) => r.includes('openssl-too-old')), 'both audits are listed');
      await page.click('form.filters input[name=failing]');
      await Promise.all([page.waitForURL(/failing=1/), page.click('form.filters button')]);
      t.same(await page.locator('main tbody td:first-child a').evaluateAll((els) => els.map((e) => e.textContent)), ['curl-too-old'], 'failing only: the curl audit');
      await Promise.all([page.waitForURL(/\/audits\/curl-too-old/), page.click('main tbody td:first-child a')]);
      t.same(await page.locator('svg.audit g[data-series="fail"] rect').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count')))), [5, 5], 'the chart: five failing hosts at each analyze');
      const hostRows = await page.locator('main tbody tr').evaluateAll((els) => els.map((e) => [...e.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
      t.ok(hostRows.some((r) => r[0]!.startsWith(`${BASE}1`) && r[1] === 'fail'), 'a failing host with its result');
      t.equal(await page.locator('a[href^="javascript:"]').count(), 0, 'a javascript: link in an audit file is not a link');
      t.equal((await page.goto(`${server.url}/audits/curl-too`))?.status(), 404);
      t.match(await page.locator('main').textContent(), /Similar: curl-too-old/);
      w.problems.splice(0, w.problems.length, ...w.problems.filter((p) => p !== `HTTP 404: ${server.url}/audits/curl-too` && !p.startsWith('console error: Failed to load resource: the server responded with a status of 404') && !/favicon\.svg net::ERR_ABORTED/.test(p)));

      t.same(w.dialogs, [], 'no dialog opened');
      t.same(w.problems, [], 'no console error, no failed request, no HTTP error');

      // An unknown name: a 404 page with the similar names as links (and nothing else fails).
      w.problems.length = 0;
      const unknown = `${server.url}/hosts/no-such-host`;
      t.equal((await page.goto(unknown))?.status(), 404);
      t.match(await page.locator('main').textContent(), /no-such-host is not in the database/);
      const near = `${server.url}/hosts/${BASE.slice(0, -1)}`;
      t.equal((await page.goto(near))?.status(), 404);
      t.same(await page.locator('main li a').evaluateAll((els) => els.map((e) => e.textContent)), hosts.slice(0, 5), 'the similar names (the first five) are links');
      // A favicon still loading when the next page is opened is aborted by the browser: not a failure.
      t.same(w.problems.filter((p) => !p.startsWith('console error: Failed to load resource: the server responded with a status of 404') && !/favicon\.svg net::ERR_ABORTED/.test(p)),
        [`HTTP 404: ${unknown}`, `HTTP 404: ${near}`], 'only the two pages themselves answered 404');
    });
  }

  await t.test('a preHandler (the read-token check) guards every page', async (t) => {
    const guarded = await startPagesServer({ ini: env.ini, token: 'pages' });
    t.teardown(() => guarded.close());
    const basic = `Basic ${Buffer.from(`pages:${guarded.secret}`).toString('base64')}`;
    for (const [p, status] of [['/', 200], [`/hosts/${BASE}1`, 200], ['/changes', 200], ['/hosts?name=nosuch', 404]] as const) {
      const none = await fetch(`${guarded.url}${p}`);
      t.equal(none.status, 401, `${p} without the token`);
      t.match(none.headers.get('www-authenticate'), /^Basic realm=/, 'the browser is asked for the token');
      t.equal((await fetch(`${guarded.url}${p}`, { headers: { authorization: basic } })).status, status, `${p} with it as Basic credentials (a browser)`);
      t.equal((await fetch(`${guarded.url}${p}`, { headers: { authorization: `Bearer ${guarded.secret}` } })).status, status, `${p} with it as a Bearer token`);
    }
    t.equal((await fetch(`${guarded.url}/`, { headers: { authorization: `Basic ${Buffer.from('pages:wrong').toString('base64')}` } })).status, 401, 'a wrong token is refused');
    t.equal((await fetch(`${guarded.url}/static/jellyfish.css`)).status, 200, 'the stylesheet needs no token');
  });

  await t.test('odd names and a database that fails', async (t) => {
    const store = await openAnyStore(env.db, { readonly: true });
    const app = Fastify({ logger: false });
    await app.register(pagesPlugin, { store, config: loadConfig({ file: env.ini }) });
    const slash = await app.inject({ url: `/hosts/${encodeURIComponent('a/../b<x>')}` });
    t.equal(slash.statusCode, 404);
    t.match(slash.body, 'a/../b&lt;x&gt; is not in the database', 'an encoded name reaches the page whole, and is escaped');
    const jump = await app.inject({ url: `/hosts?name=${encodeURIComponent(BASE.toUpperCase() + '3')}` });
    t.equal(jump.statusCode, 303);
    t.equal(jump.headers.location, `/hosts/${BASE}3`);
    t.equal((await app.inject({ url: '/changes?since=2026-12-01&until=2026-11-01' })).statusCode, 400, 'since after until');
    const nohost = await app.inject({ url: '/changes?host=nosuch' });
    t.equal(nohost.statusCode, 404);
    t.match(nohost.body, 'nosuch is not in the database');
    store.close();
    const broken = await app.inject({ url: '/' });
    t.equal(broken.statusCode, 500, 'a store that fails is a 500 page');
    t.match(broken.body, /This page could not be made/);
    t.equal(broken.headers['content-security-policy'], CONTENT_SECURITY_POLICY, 'with the same headers');
    await app.close();
  });
});

// ---- the store questions the pages added, on both engines ----

const T0 = Date.parse('2026-11-01T02:00:00Z');
const HOUR = 3_600_000;
const ok = (type: string, values: Record<string, string>): CollectionResult => ({ type, status: 'ok', values, durationMs: 1 });
const host = (label: string): InventoryHost => ({ label, host: label, srvtype: 'web', pop: 'ams', status: 'prod', notes: '', isProd: true, line: 1 });

async function history(store: Store): Promise<void> {
  await store.upsertHosts([host('web1'), host('web2')]);
  const r1 = await store.beginRun({ mode: 'run', startedAt: new Date(T0), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  const results: HostResult[] = [
    { label: 'web1', outcome: 'ok', startedAt: T0, finishedAt: T0 + 1000, collections: [ok('packages', { a: '1', b: '1' })], outputBytes: 0 },
    { label: 'web2', outcome: 'unreachable', code: 'ECONNREFUSED', message: 'refused', startedAt: T0, finishedAt: T0 + 2000, collections: [], outputBytes: 0 },
  ];
  await store.recordResults(r1, results);
  await store.finishRun(r1, new Date(T0 + 60_000), 1, JSON.stringify({ global_success_hosts: 1, global_fail_hosts: 1, not_started_hosts: 0, sapi_hosts: 0, global_success_hosts_list: ['web1'] }));
  const r2 = await store.beginRun({ mode: 'gap-fix', startedAt: new Date(T0 + HOUR), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(r2, [{ label: 'web2', outcome: 'partial', startedAt: T0 + HOUR, finishedAt: T0 + HOUR + 500, collections: [ok('packages', { a: '1' }), { type: 'rkernel', status: 'timeout', durationMs: 5, message: 'x' }], outputBytes: 0 }]);
  await store.finishRun(r2, new Date(T0 + HOUR + 1000), 0, JSON.stringify({ global_success_hosts: 1, global_fail_hosts: 0, not_started_hosts: 3, sapi_hosts: 0, Timeout: 'Timeout reached' }));
  const r3 = await store.beginRun({ mode: 'run', startedAt: new Date(T0 + 2 * HOUR), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(r3, [{ label: 'web1', outcome: 'ok', startedAt: T0 + 2 * HOUR, finishedAt: T0 + 2 * HOUR + 1000, collections: [ok('packages', { a: '2' })], outputBytes: 0 }]);
  const ing = await store.beginRun({ mode: 'ingest', startedAt: new Date(T0 + 3 * HOUR), pid: 1, hostname: 'x', threads: 0, workers: 0 });
  await store.finishRun(ing, new Date(T0 + 3 * HOUR), 0, JSON.stringify({ stored: 1, rejected: [] }));
}

async function questions(t: Tap.Test, store: Store): Promise<unknown> {
  const runs = await store.runsSince(new Date(T0 - 1).toISOString());
  t.same(runs.map((r) => [r.mode, r.ok, r.failed, r.notStarted, r.timedOut, r.finishedAt !== null]), [
    ['run', 1, 1, 0, false, true],
    ['gap-fix', 1, 0, 3, true, true],
    ['run', null, null, null, false, false],
  ], 'runs and gap-fixes with their counts, oldest first; ingests left out; an unfinished run has no counts');
  t.same((await store.runsSince(new Date(T0 + 1).toISOString())).map((r) => r.mode), ['gap-fix', 'run'], 'since is inclusive of the start only');
  const web2 = (await store.findHost('web2'))!;
  const attempts = await store.hostAttempts(web2, 10);
  t.same(attempts.map((a) => [a.mode, a.outcome, a.code, a.failedTypes]), [['gap-fix', 'partial', null, ['rkernel']], ['run', 'unreachable', 'ECONNREFUSED', []]], 'newest first, with codes and failed collections');
  t.same((await store.hostAttempts(web2, 1)).length, 1, 'limited');
  const row = await store.hostRow(web2);
  t.same(row, (await store.listHosts()).find((h) => h.name === 'web2'), "hostRow is the host's row of listHosts");
  t.equal(row?.lastOutcome, 'partial');
  // First collections: web1 at T0+1s, web2 at T0+1h+0.5s; changes: web1 a 1 -> 2 and b removed at T0+2h+1s.
  t.equal(await store.recentChangeStart(1), new Date(T0 + 2 * HOUR + 1000).toISOString(), 'the newest change, later than the newest new host');
  t.equal(await store.recentChangeStart(2), new Date(T0 + 2 * HOUR + 1000).toISOString(), 'two changes at the last collection');
  t.equal(await store.recentChangeStart(3), new Date(T0 + 1000).toISOString(), 'fewer of either than asked: from the oldest of them');
  t.equal(await store.recentChangeStart(4), new Date(T0 + 1000).toISOString(), 'the same');
  t.equal(await store.recentChangeStart(100), new Date(T0 + 1000).toISOString(), 'more than there are: from the first');
  return { runs, attempts };
}

t.test('runsSince, hostAttempts, recentChangeStart on SQLite and PostgreSQL', async (t) => {
  const sqlite = openStore(path.join(t.testdir(), 'jf.db'));
  t.equal(await sqlite.recentChangeStart(5), null, 'an empty database');
  await history(sqlite);
  const fromSqlite = await questions(t, sqlite);
  sqlite.close();
  const pg = await openTestPgStore(t, 'pages');
  if (!pg) return;
  t.equal(await pg.recentChangeStart(5), null);
  await history(pg);
  await t.test('PostgreSQL', async (t) => { t.same(await questions(t, pg), fromSqlite, 'the same answers'); });
});
