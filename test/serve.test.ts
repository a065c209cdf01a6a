// The storage API through the built binary: `jellyfish serve` on a loopback address of this file's
// own range (127.130.0.0/16), tokens made by `jellyfish token`, pushes over real HTTP: every answer
// code of a push, and the hostile requests (each gets its answer, nothing is stored, the server
// stays up).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { jf } from './helpers/jellyfish-cli.js';
import { call, doc, factCount, nowIso, setup } from './helpers/serve-api.js';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

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
