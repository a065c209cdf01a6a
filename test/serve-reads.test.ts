// The storage API's read side through the built binary: every read route answers what the CLI
// answers with --format json (and NDJSON what --format ndjson prints), paging walks the whole
// list, /metrics and /openapi.json; then SIGTERM with pushes in flight (they finish, exit 0) and
// kill -9 in the middle of pushes (each document whole or absent, a restart serves at once).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { jf } from './helpers/jellyfish-cli.js';
import { call, doc, factCount, nowIso, setup } from './helpers/serve-api.js';
import { startServe } from './helpers/serve-process.js';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('read routes answer exactly what the CLI answers (--format json); paging and NDJSON', async (t) => {
  const e = await setup(t);
  const push = (body: unknown) => call(`${e.url}/api/v1/push`, { token: e.push, body: JSON.stringify(body) });
  const release = { ID: 'debian', VERSION_ID: '12' };
  for (const [host, ssl] of [['web1.ams', '3.0.9-1'], ['web2.ams', '3.0.11-1~deb12u2'], ['db1.fra', '1.1.1w-0']] as const) {
    t.equal((await push(doc(host, { packages: { openssl: ssl, curl: '7.88' }, release }, nowIso(-60_000)))).status, 200);
  }
  t.equal((await push(doc('web1.ams', { packages: { openssl: '3.0.11-1~deb12u2' }, release }))).status, 200);
  const since = nowIso(-3_600_000);
  const until = nowIso(3_600_000);
  const cli = async (args: string[]) => JSON.parse((await jf([...args, '--json', '-c', 'scheduler.ini'], e.dir)).stdout) as Record<string, unknown>;
  const api = async (p: string) => (await call(`${e.url}${p}`, { token: e.read })).json;

  t.same(await api('/api/v1/query?type=packages&subtype=openssl'), await cli(['query', '--type', 'packages', '--subtype', 'openssl']), 'query');
  t.same(await api('/api/v1/query?type=packages&subtype=openssl&version_lt=3.0.11'), await cli(['query', '--type', 'packages', '--subtype', 'openssl', '--version-lt', '3.0.11']), 'query with a version predicate');
  t.same(await api('/api/v1/query?type=packages&subtype=openssl&count_by=value'), await cli(['query', '--type', 'packages', '--subtype', 'openssl', '--count-by', 'value']), 'query --count-by value');
  t.same(await api(`/api/v1/changes?since=${since}&until=${until}`), await cli(['changes', '--since', since, '--until', until]), 'changes');
  t.same(await api(`/api/v1/changes?since=${since}&until=${until}&include_new_hosts=1&site=ams`), await cli(['changes', '--since', since, '--until', until, '--include-new-hosts', '--site', 'ams']), 'changes with filters');
  const then = nowIso(-30_000);
  t.same(await api(`/api/v1/query?type=packages&subtype=openssl&at=${encodeURIComponent(then)}&site=ams`), await cli(['query', '--type', 'packages', '--subtype', 'openssl', '--at', then, '--site', 'ams']), 'query --at --site');
  t.same(await api('/api/v1/hosts'), await cli(['hosts', '-b', 'server4.csv']), 'hosts (inventory order, from the inventory serve was given)');
  t.same(await api('/api/v1/hosts?all=1&prod=1'), await cli(['hosts', '--all', '--prod']), 'hosts --all --prod');
  t.same(await api('/api/v1/hosts?stale=1h&site=fra'), await cli(['hosts', '-b', 'server4.csv', '--stale', '1h', '--site', 'fra']), 'hosts --stale --site');
  t.same(await api('/api/v1/hosts/web1.ams/facts'), await cli(['facts', 'web1.ams']), 'facts');
  t.same(await api('/api/v1/hosts/WEB1.AMS/facts?history=1&type=packages'), await cli(['facts', 'WEB1.AMS', '--history', '--type', 'packages']), 'facts --history --type, any case');
  t.same(await api(`/api/v1/hosts/web1.ams/facts?at=${encodeURIComponent(then)}`), await cli(['facts', 'web1.ams', '--at', then]), 'facts --at');
  // The audits, after an analyze of what was pushed: the same answers as `jellyfish audits`.
  fs.mkdirSync(path.join(e.dir, 'audits'));
  fs.writeFileSync(path.join(e.dir, 'audits', 'ssl.json'), JSON.stringify({
    'ssl-min': {
      'vuln-name': 'openssl too old', 'vuln-short-description': 'openssl below 3.0.11', 'vuln-long-description': 'upgrade openssl',
      'vuln-primary-link': 'https://security-tracker.debian.org/tracker/source-package/openssl', 'vuln-additional-links': {}, 'vuln-priority': 7,
      filters: { deb: { 'filter-collection-type': ['release'], 'filter-collection-subtype': ['ID'], 'filter-match': 'is', 'filter-match-value': ['debian'] } },
      comparisons: { deb: { 'comparison-collection-type': 'packages', 'comparison-collection-subtype': 'openssl', 'comparison-match': 'aptge', 'comparison-match-value': '3.0.11-1~deb12u2' } },
    },
  }));
  const analyzed = await jf(['analyze', '-a', 'audits', '-c', 'scheduler.ini'], e.dir);
  t.equal(analyzed.code, 0, `analyze: ${analyzed.stderr}`);
  const auditList = await api('/api/v1/audits');
  t.same(auditList, await cli(['audits']), 'audits');
  t.match(auditList, { audits: [{ name: 'ssl-min', fail: 1, pass: 2 }] }, 'db1.fra on 1.1.1w fails, the others pass');
  t.same(await api('/api/v1/audits?failing=1&site=fra'), await cli(['audits', '--failing', '--site', 'fra']), 'audits --failing --site');
  t.same(await api('/api/v1/audits/ssl-min'), await cli(['audits', 'ssl-min']), 'audits NAME');
  const noAudit = await call(`${e.url}/api/v1/audits/ssl-mni`, { token: e.read });
  t.equal(noAudit.status, 404, 'an audit never analyzed is 404');
  t.same(noAudit.json?.similar, [], 'with similar names (none here)');
  const noFacts = await call(`${e.url}/api/v1/hosts/nope.ams/facts`, { token: e.read });
  t.equal(noFacts.status, 404, 'facts of a host not in the database: 404');
  t.equal((await call(`${e.url}/api/v1/hosts/web1.ams/facts?history=1&at=1h`, { token: e.read })).status, 400, 'at with history: 400');
  const status = await api('/api/v1/status');
  const cliStatus = await cli(['status']);
  t.same(status, cliStatus, 'status');
  t.ok(Array.isArray(status?.last_runs) && (status?.last_runs as unknown[]).length > 0, 'status lists the ingest runs');
  const hostPage = await call(`${e.url}/api/v1/hosts?limit=2`, { token: e.read });
  t.equal((hostPage.json as unknown as unknown[]).length, 2, 'a list answer is paged too');
  const rest = await call(`${e.url}/api/v1/hosts?limit=2&cursor=${encodeURIComponent(hostPage.headers.get('x-next-cursor') ?? '')}`, { token: e.read });
  t.same([...(hostPage.json as unknown as unknown[]), ...(rest.json as unknown as unknown[])], await api('/api/v1/hosts'), 'its cursor in X-Next-Cursor');
  const missing = await call(`${e.url}/api/v1/changes?since=1h&host=nope.ams`, { token: e.read });
  t.equal(missing.status, 404, 'changes for a host not in the database: 404');
  t.equal((await call(`${e.url}/api/v1/query?type=packages&version_lt=`, { token: e.read })).status, 400, 'a usage error is 400');
  t.equal((await call(`${e.url}/api/v1/changes?since=whenever`, { token: e.read })).status, 400, 'a bad time is 400');
  t.equal((await call(`${e.url}/api/v1/query?type=packages`, { token: e.push })).status, 403, 'a push token cannot read');
  t.equal((await call(`${e.url}/api/v1/query?type=packages`)).status, 401, 'no token cannot read');

  // Paging: limit + cursor walk the whole list, the other fields describe the whole answer.
  const whole = await api('/api/v1/query?type=packages');
  const rows: unknown[] = [];
  let next: string | undefined;
  let pages = 0;
  do {
    const p = await api(`/api/v1/query?type=packages&limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
    rows.push(...(p?.hosts as unknown[]));
    t.equal(p?.count, whole?.count, 'count is the whole answer\'s');
    next = p?.next_cursor as string | undefined;
    pages++;
  } while (next && pages < 10);
  t.same(rows, whole?.hosts, 'the pages put together are the whole list');
  t.equal(pages, Math.ceil((whole?.hosts as unknown[]).length / 2));

  const nd = await call(`${e.url}/api/v1/changes?since=1h&include_new_hosts=1`, { token: e.read, accept: 'application/x-ndjson' });
  t.match(nd.headers.get('content-type'), /application\/x-ndjson/);
  const cliNd = await jf(['changes', '--since', '1h', '--include-new-hosts', '--format', 'ndjson', '-c', 'scheduler.ini'], e.dir);
  t.same(nd.body.trim().split('\n').map((l) => JSON.parse(l)), cliNd.stdout.trim().split('\n').map((l) => JSON.parse(l)), 'NDJSON rows are the CLI\'s --format ndjson');

  const metrics = await call(`${e.url}/metrics`);
  t.match(metrics.body, /jellyfish_api_pushes_total\{answer="200"\} 4/, 'pushes by answer');
  t.match(metrics.body, /jellyfish_store_hosts\{outcome="ok"\} 3/, 'hosts by last outcome');
  t.match(metrics.body, /jellyfish_audit_failing_results\{priority="7"\} 1\n/, 'audit failures by priority (db1.fra fails ssl-min)');
  t.match(metrics.body, /jellyfish_audit_failing_audits\{priority="7"\} 1\n/, 'failing audits by priority');
  t.match(metrics.body, /jellyfish_store_last_run_timestamp_seconds\{mode="ingest",scope=""\}/, 'last run per mode');
  t.match(metrics.body, /jellyfish_api_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/api\/v1\/query",status="200"\}/, 'request durations by route');
  const openapi = (await call(`${e.url}/openapi.json`)).json as { paths: Record<string, unknown> };
  for (const p of ['/api/v1/push', '/sapi/puthostjson/', '/api/v1/query', '/api/v1/changes', '/api/v1/audits', '/api/v1/audits/{name}', '/healthz', '/metrics']) t.ok(openapi.paths[p], `openapi.json describes ${p}`);
});

t.test('SIGTERM: in-flight pushes finish, then exit 0; kill -9 mid-push leaves each document whole or absent', async (t) => {
  const e = await setup(t);
  const types = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${i}`, Object.fromEntries(Array.from({ length: 50 }, (_, j) => [`s${j}`, `v${i}-${j}`]))]));
  const big = (host: string) => JSON.stringify(doc(host, types));
  // Concurrent pushes, then SIGTERM while they are in flight: each gets an answer, none is cut.
  const inflight = Array.from({ length: 20 }, (_, i) => call(`${e.url}/api/v1/push`, { token: e.push, body: big(`term${i}.ams`) }).catch(() => undefined));
  // SIGTERM once the first document is stored: the others are then in flight (queued for the writer).
  for (let i = 0; i < 500 && Array.from({ length: 20 }, (_, k) => factCount(e.db, `term${k}.ams`)).every((n) => n === 0); i++) await new Promise((r) => setTimeout(r, 10));
  e.serve.child.kill('SIGTERM');
  const answers = await Promise.all(inflight);
  const code = await e.serve.exited;
  t.equal(code, 0, 'serve exits 0 after SIGTERM');
  for (const [i, a] of answers.entries()) {
    const n = factCount(e.db, `term${i}.ams`);
    if (a?.status === 200) t.equal(n, 2000, `term${i}: answered 200 and whole`);
    else t.equal(n, 0, `term${i}: answered ${a?.status ?? 'nothing'} and absent`);
  }
  t.ok(answers.filter((a) => a?.status === 200).length >= 2, `pushes in flight at SIGTERM finished: ${answers.map((a) => a?.status ?? '-').join(' ')}`);

  // kill -9 in the middle of pushes: restart at once, every document whole or absent.
  const again = await startServe(e.dir, ['-b', 'server4.csv']);
  const pushes = Array.from({ length: 40 }, (_, i) => call(`${again.url}/api/v1/push`, { token: e.push, body: big(`kill${i}.ams`) }).catch(() => undefined));
  // Killed once some documents are stored and others are on the way.
  for (let i = 0; i < 200 && Array.from({ length: 40 }, (_, k) => factCount(e.db, `kill${k}.ams`)).every((n) => n === 0); i++) await new Promise((r) => setTimeout(r, 10));
  again.child.kill('SIGKILL');
  await Promise.all(pushes);
  await again.exited;
  const counts = Array.from({ length: 40 }, (_, i) => factCount(e.db, `kill${i}.ams`));
  t.ok(counts.every((n) => n === 0 || n === 2000), `each document whole (2000 facts) or absent: ${counts.join(' ')}`);
  t.ok(counts.some((n) => n === 2000) && counts.some((n) => n === 0), 'killed in the middle: some stored, some not');
  const third = await startServe(e.dir, ['-b', 'server4.csv']);
  t.teardown(() => third.stop('SIGKILL'));
  t.equal((await call(`${third.url}/api/v1/push`, { token: e.push, body: big('after.ams') })).status, 200, 'a restarted serve takes pushes at once');
  const integrity = new Database(e.db, { readonly: true });
  t.equal(integrity.pragma('integrity_check', { simple: true }), 'ok', 'the database is intact');
  integrity.close();
});
