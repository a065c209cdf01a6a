// The storage API through the built binary: `jellyfish serve` on a loopback address of this file's
// own range (127.130.0.0/16), tokens made by `jellyfish token`, pushes and reads over real HTTP.
// Every answer code of a push, the hostile requests (each gets its answer, nothing is stored, the
// server stays up), the read routes' JSON equal to the CLI's --format json, and kill -9 in the
// middle of pushes leaving each document whole or absent.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { jf } from './helpers/jellyfish-cli.js';
import { addToken, loopbackListen, startServe, writeServeIni, type Serve } from './helpers/serve-process.js';

const NET = '127.130';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

const nowIso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
const doc = (host: string, data: Record<string, Record<string, string>>, at = nowIso()) =>
  ({ collection_hostname: host, collection_timestamp: at, collection_status: 'ok', collection_data: data });

interface Answer { status: number; body: string; json: Record<string, unknown> | undefined; headers: Headers }

async function call(url: string, opts: { method?: string; token?: string; auth?: string; body?: string; accept?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.auth) headers.authorization = opts.auth;
  if (opts.accept) headers.accept = opts.accept;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(url, { method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'), headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const body = await r.text();
  let json: Record<string, unknown> | undefined;
  try { json = JSON.parse(body) as Record<string, unknown>; } catch { json = undefined; }
  return { status: r.status, body, json, headers: r.headers };
}

function factCount(db: string, host?: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return host === undefined
      ? (d.prepare('SELECT COUNT(*) AS n FROM facts').get() as { n: number }).n
      : (d.prepare('SELECT COUNT(*) AS n FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name = ?').get(host) as { n: number }).n;
  } finally {
    d.close();
  }
}

interface Env { dir: string; db: string; serve: Serve; push: string; read: string; webOnly: string; url: string }

async function setup(t: Tap.Test, extra: Record<string, Record<string, string>> = {}, args: string[] = []): Promise<Env> {
  const dir = t.testdir();
  const { listen } = loopbackListen(NET);
  writeServeIni(dir, listen, extra);
  fs.writeFileSync(path.join(dir, 'server4.csv'), 'web1.ams,web,ams,prod\nweb2.ams,web,ams,prod\ndb1.fra,db,fra,prod\n');
  const push = await addToken(dir, 'agents', 'push');
  const read = await addToken(dir, 'reader', 'read');
  const webOnly = await addToken(dir, 'web-agents', 'push', 'web*.ams');
  const serve = await startServe(dir, ['-b', 'server4.csv', ...args]);
  t.teardown(() => serve.stop('SIGKILL'));
  return { dir, db: path.join(dir, 'var/jf.db'), serve, push, read, webOnly, url: serve.url };
}

t.test('push answers: 200, 400, 401, 403, 409, 429; the old path; unknown hosts flagged', async (t) => {
  const e = await setup(t);
  const push = (body: string, token = e.push, p = '/api/v1/push') => call(`${e.url}${p}`, { token, body });

  const ok = await push(JSON.stringify(doc('web1.ams', { packages: { openssl: '3.0.11-1', curl: '7.88' }, rkernel: { default: '6.1.0' } })));
  t.equal(ok.status, 200, 'a valid document is stored');
  t.same(ok.json, { stored: 1, rejected: [], skipped_types: [], unknown_host: [] }, 'the ingest summary');
  t.equal(factCount(e.db, 'web1.ams'), 3, 'its facts are in the store');

  const stray = await push(JSON.stringify(doc('stray.lon', { rkernel: { default: '6.1.0' } })));
  t.equal(stray.status, 200, 'a host outside the inventory is stored');
  t.same(stray.json?.unknown_host, ['stray.lon'], 'and flagged unknown_host');

  const nd = [doc('web2.ams', { rkernel: { default: '6.1.0' } }), doc('db1.fra', { rkernel: { default: '5.10' } })].map((d) => JSON.stringify(d)).join('\n');
  t.equal((await push(nd)).json?.stored, 2, 'NDJSON: one document a line');
  t.equal((await push(JSON.stringify([doc('web2.ams', { memory: { MemTotal: '1' } })]))).json?.stored, 1, 'an array of documents');

  const bad = await push(`${JSON.stringify(doc('web1.ams', { memory: { MemTotal: '2' } }))}\n{"collection_hostname": "web2.ams", "collection_timestamp": "yesterday", "collection_data": {}}`);
  t.equal(bad.status, 400, 'an invalid document: 400');
  const rejected = bad.json?.rejected as { doc: number; host: string; error: string }[];
  t.equal(rejected.length, 1);
  t.equal(rejected[0]!.doc, 2, 'names the document');
  t.match(rejected[0]!.error, /collection_timestamp/, 'and the field');
  t.equal(bad.json?.stored, 1, 'the valid one of the same body is stored, as ingest does');

  const future = await push(JSON.stringify(doc('web1.ams', { rkernel: { default: 'x' } }, nowIso(3_600_000))));
  t.equal(future.status, 400, '[sapi] max_skew applies');
  t.match(JSON.stringify(future.json), /max_skew/);

  const older = await push(JSON.stringify(doc('web1.ams', { rkernel: { default: '5.0' } }, nowIso(-86_400_000))));
  t.equal(older.status, 409, 'a document older than what is stored: 409');
  t.same((older.json?.skipped_types as { types: string[] }[])[0]?.types, ['rkernel']);

  const before = factCount(e.db);
  t.equal((await push(JSON.stringify(doc('web1.ams', {})), '')).status, 401, 'no token: 401');
  t.equal((await push(JSON.stringify(doc('web1.ams', {})), 'not-a-token')).status, 401, 'a wrong token: 401');
  t.equal((await push(JSON.stringify(doc('web1.ams', { a: { b: 'c' } })), e.read)).status, 403, 'a read token pushing: 403');
  const foreign = await push([doc('web1.ams', { a: { b: 'c' } }), doc('db1.fra', { a: { b: 'c' } })].map((d) => JSON.stringify(d)).join('\n'), e.webOnly);
  t.equal(foreign.status, 403, "a push naming a host outside the token's patterns: 403");
  t.same(foreign.json?.hosts, ['db1.fra'], 'names the host');
  t.equal(factCount(e.db), before, 'nothing of those pushes was stored (not even the allowed host of the same body)');
  t.equal((await push(JSON.stringify(doc('WEB1.AMS', { a: { b: 'c' } })), e.webOnly)).status, 200, 'patterns match any case');

  const old = await call(`${e.url}/sapi/puthostjson/`, { auth: `agents:${e.push}`, body: JSON.stringify(doc('web2.ams', { b: { c: 'd' } })) });
  t.equal(old.status, 200, 'the old path with NAME:TOKEN');
  t.equal((await call(`${e.url}/sapi/puthostjson/`, { auth: `reader:${e.push}`, body: '{}' })).status, 401, 'NAME:TOKEN with another name: 401');

  const revoke = await jf(['token', 'revoke', 'web-agents', '-c', 'scheduler.ini'], e.dir);
  t.equal(revoke.code, 0, 'token revoke');
  t.equal((await push(JSON.stringify(doc('web1.ams', { a: { b: 'c' } })), e.webOnly)).status, 401, 'a revoked token is refused at once');
  const list = await jf(['token', 'list', '--json', '-c', 'scheduler.ini'], e.dir);
  const tokens = (JSON.parse(list.stdout) as { tokens: Record<string, unknown>[] }).tokens;
  t.same(tokens.map((x) => x.name), ['agents', 'reader', 'web-agents']);
  t.notOk(list.stdout.includes(e.push) || /sha256/.test(list.stdout), 'token list never shows a secret or its hash');
  t.ok(tokens.find((x) => x.name === 'agents')?.last_used_at, 'last use recorded');
  t.ok(tokens.find((x) => x.name === 'web-agents')?.revoked_at, 'revocation recorded');
  t.notOk(e.serve.stderr().includes(e.push), 'the request log never holds a token');

  // Failed authentications are counted per address: the 21st in a minute is 429.
  let last = 0;
  for (let i = 0; i < 22; i++) last = (await push('{}', `guess-${i}`)).status;
  t.equal(last, 429, 'too many failed authentications: 429');
  const limited = await push(JSON.stringify(doc('web1.ams', {})));
  t.equal(limited.status, 429, 'even with a good token, from that address, until the window passes');
  t.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After says when');
});

t.test('hostile requests: each gets its answer, nothing is stored, the server stays up', async (t) => {
  const e = await setup(t, { api: { max_body: '2MB' } });
  const push = (body: string) => call(`${e.url}/api/v1/push`, { token: e.push, body });
  const before = () => factCount(e.db);
  const base = before();

  t.equal((await push('{"collection_hostname": "web1.ams", ')).status, 400, 'malformed JSON: 400');
  const deep = `{"collection_hostname":"web1.ams","collection_timestamp":"${nowIso()}","collection_data":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
  const deepAnswer = await push(deep);
  t.equal(deepAnswer.status, 400, 'deep nesting: 400');
  t.match(deepAnswer.body, /collection_data\.x/, 'naming the field');
  t.equal((await push(`{"collection_hostname":"web1.ams","collection_timestamp":"${nowIso()}","collection_data":{"x":{"y":"a\u0000b"}}}`)).status, 400, 'a raw NUL byte inside a JSON string is not JSON: 400');
  t.equal(before(), base, 'nothing stored by those');

  const proto = await push(`{"__proto__": {"polluted": "yes"}, "collection_hostname":"web1.ams","collection_timestamp":"${nowIso()}","collection_data":{"__proto__":{"constructor":"x"},"k":{"__proto__":"v"}}}`);
  t.equal(proto.status, 200, '__proto__ keys are names like any other');
  const facts = await jf(['facts', 'web1.ams', '--json', '-c', 'scheduler.ini'], e.dir);
  t.same((JSON.parse(facts.stdout) as { facts: { type: string; subtype: string; value: string }[] }).facts.map((f) => [f.type, f.subtype, f.value]).sort(),
    [['__proto__', 'constructor', 'x'], ['k', '__proto__', 'v']], 'stored as plain names, no prototype touched');
  const nul = await push(JSON.stringify(doc('web2.ams', { x: { y: 'a\u0000b' } })));
  t.equal(nul.status, 200, 'an escaped NUL in a value is stored');
  const nulFacts = JSON.parse((await jf(['facts', 'web2.ams', '--json', '-c', 'scheduler.ini'], e.dir)).stdout) as { facts: { value: string }[] };
  t.equal(nulFacts.facts[0]?.value, 'a\uFFFDb', 'as U+FFFD, as collected output is');

  // A body announced as 1 GB: refused from its Content-Length, before any of it is read.
  const announced = await new Promise<number>((resolve, reject) => {
    const u = new URL(`${e.url}/api/v1/push`);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${e.push}`, 'content-length': String(1024 ** 3) } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.write('{');
  });
  t.equal(announced, 413, 'Content-Length of 1 GB: 413');
  // A 1 GB body streamed without a length: cut at max_body, never buffered whole.
  const streamed = await new Promise<{ status: number; sent: number }>((resolve) => {
    const u = new URL(`${e.url}/api/v1/push`);
    let sent = 0;
    let status = 0;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${e.push}`, 'transfer-encoding': 'chunked' } }, (res) => { status = res.statusCode ?? 0; res.resume(); res.on('end', () => resolve({ status, sent })); });
    req.on('error', () => resolve({ status, sent }));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (sent < 1024 ** 3 && status === 0) {
        sent += chunk.length;
        if (!req.write(chunk)) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
  t.equal(streamed.status, 413, 'a streamed 1 GB body: 413');
  t.ok(streamed.sent < 256 * 1024 ** 2, `answered after ${Math.round(streamed.sent / 1024 ** 2)} MB of the 1 GB were sent`);

  // Slowloris: headers dribbled one byte a second are cut at headersTimeout (10 s).
  const started = Date.now();
  const cut = await new Promise<number>((resolve) => {
    const u = new URL(e.url);
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const drip = setInterval(() => { if (!s.destroyed) s.write('a'); }, 1000);
      s.on('close', () => { clearInterval(drip); resolve(Date.now() - started); });
    });
    s.on('error', () => undefined);
    s.resume();
  });
  t.ok(cut >= 9_000 && cut < 20_000, `a slowloris connection is closed after ${cut} ms`);

  const cursorUrl = `${e.url}/api/v1/query?type=rkernel&limit=1`;
  const page = await call(cursorUrl, { token: e.read });
  t.equal(page.status, 200);
  const tamper = async (c: string) => (await call(`${cursorUrl}&cursor=${encodeURIComponent(c)}`, { token: e.read }));
  for (const h of ['web1.ams', 'web2.ams']) t.equal((await push(JSON.stringify(doc(h, { rkernel: { default: '6' } })))).status, 200);
  const again = await call(cursorUrl, { token: e.read });
  const cursor = again.json?.next_cursor as string | undefined;
  if (cursor) {
    const [body, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify({ o: 1e9, q: 'x' })).toString('base64url');
    for (const c of [`${body}.${mac!.slice(0, -2)}AA`, `${forged}.${mac}`, 'garbage', `${body}`]) {
      const r = await tamper(c);
      t.equal(r.status, 400, `a tampered cursor (${c.slice(0, 12)}...) is 400`);
      t.match(r.json?.error, /cursor/);
    }
    const other = await call(`${e.url}/api/v1/query?type=packages&limit=1&cursor=${encodeURIComponent(cursor)}`, { token: e.read });
    t.equal(other.status, 400, "another question's cursor is 400");
  } else {
    t.fail('expected a next_cursor with limit=1 over two hosts');
  }
  t.equal((await call(`${e.url}/healthz`)).status, 200, 'still up after all that');
  t.equal(e.serve.child.exitCode, null, 'the server process never died');
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
  t.match(metrics.body, /jellyfish_store_last_run_timestamp_seconds\{mode="ingest",scope=""\}/, 'last run per mode');
  t.match(metrics.body, /jellyfish_api_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/api\/v1\/query",status="200"\}/, 'request durations by route');
  const openapi = (await call(`${e.url}/openapi.json`)).json as { paths: Record<string, unknown> };
  for (const p of ['/api/v1/push', '/sapi/puthostjson/', '/api/v1/query', '/api/v1/changes', '/healthz', '/metrics']) t.ok(openapi.paths[p], `openapi.json describes ${p}`);
});

t.test('SIGTERM: in-flight pushes finish, then exit 0; kill -9 mid-push leaves each document whole or absent', async (t) => {
  const e = await setup(t);
  const types = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${i}`, Object.fromEntries(Array.from({ length: 50 }, (_, j) => [`s${j}`, `v${i}-${j}`]))]));
  const big = (host: string) => JSON.stringify(doc(host, types));
  // Concurrent pushes, then SIGTERM while they are in flight: each gets an answer, none is cut.
  const inflight = Array.from({ length: 20 }, (_, i) => call(`${e.url}/api/v1/push`, { token: e.push, body: big(`term${i}.ams`) }).catch(() => undefined));
  await new Promise((r) => setTimeout(r, 30));
  e.serve.child.kill('SIGTERM');
  const answers = await Promise.all(inflight);
  const code = await e.serve.exited;
  t.equal(code, 0, 'serve exits 0 after SIGTERM');
  for (const [i, a] of answers.entries()) {
    const n = factCount(e.db, `term${i}.ams`);
    if (a?.status === 200) t.equal(n, 2000, `term${i}: answered 200 and whole`);
    else t.equal(n, 0, `term${i}: answered ${a?.status ?? 'nothing'} and absent`);
  }
  t.ok(answers.some((a) => a?.status === 200), 'pushes in flight at SIGTERM finished');

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
