// `jellyfish serve` on its other footings: PostgreSQL pushes (concurrent, each stored whole), a
// `run` over the fixture fleet writing the same SQLite file while serve takes pushes (both finish,
// every write present), HTTPS with a self-signed certificate, and the [api] checks (TLS pair,
// key mode, ui_auth = none off loopback, the non-loopback warning) in serve and doctor.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { checkApiSettings } from '../src/app/serve-settings.js';
import { loadConfig } from '../src/config/load.js';
import { openAnyStore } from '../src/store/store.js';
import { startFleetProcess } from './helpers/fleet-process.js';
import { jf } from './helpers/jellyfish-cli.js';
import { postgresSkipReason, startPostgres } from './helpers/postgres.js';
import { writeEnv } from './helpers/run-env.js';
import { addToken, loopbackListen, startServe, writeServeIni } from './helpers/serve-process.js';

const NET = '127.130';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

const doc = (host: string, data: Record<string, Record<string, string>>, at = new Date().toISOString()) =>
  JSON.stringify({ collection_hostname: host, collection_timestamp: at, collection_data: data });
const types = (n: number, per: number, tag = '') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, Object.fromEntries(Array.from({ length: per }, (_, j) => [`s${j}`, `v${tag}${i}-${j}`]))]));

async function post(url: string, token: string, body: string): Promise<number> {
  const r = await fetch(`${url}/api/v1/push`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
  await r.text();
  return r.status;
}

t.test('PostgreSQL: concurrent pushes each stored whole, reads answer as the CLI', async (t) => {
  const skip = postgresSkipReason();
  if (skip) { t.skip(`PostgreSQL: ${skip}`); return; }
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  const dir = t.testdir();
  const url = await pgs.createDatabase('serve');
  writeServeIni(dir, loopbackListen(NET).listen, {}, url);
  const token = await addToken(dir, 'agents', 'push', undefined, pgs.env);
  const read = await addToken(dir, 'reader', 'read', undefined, pgs.env);
  const serve = await startServe(dir, [], pgs.env);
  t.teardown(() => serve.stop());
  const codes = await Promise.all(Array.from({ length: 24 }, (_, i) => post(serve.url, token, doc(`pg${i}.ams`, types(10, 30)))));
  t.same([...new Set(codes)], [200], 'every concurrent push answered 200');
  // The same host twice at once: the writer queue keeps their transactions apart.
  const same = await Promise.all([post(serve.url, token, doc('pg0.ams', types(10, 30, 'b'))), post(serve.url, token, doc('pg0.ams', types(10, 30, 'c')))]);
  t.same(same.filter((c) => c === 200).length >= 1, true, `same host concurrently: ${same.join(', ')}`);
  const q = await jf(['query', '--type', 't3', '--subtype', 's7', '--json', '-c', 'scheduler.ini'], dir, pgs.env);
  const cli = JSON.parse(q.stdout) as { count: number; hosts: { host: string; value: string }[] };
  t.equal(cli.count, 24, 'every host stored');
  const api = await fetch(`${serve.url}/api/v1/query?type=t3&subtype=s7`, { headers: { authorization: `Bearer ${read}` } });
  t.same(await api.json(), cli, 'the API answers what the CLI answers, on PostgreSQL too');
  const facts = JSON.parse((await jf(['facts', 'pg5.ams', '--json', '-c', 'scheduler.ini'], dir, pgs.env)).stdout) as { facts: unknown[] };
  t.equal(facts.facts.length, 300, 'each document whole');
  t.equal(await serve.stop(), 0, 'serve exits 0 on SIGTERM');
});

t.test('PostgreSQL: two serve processes take pushes for the same host at once: no interval lost or duplicated', async (t) => {
  const skip = postgresSkipReason();
  if (skip) { t.skip(`PostgreSQL: ${skip}`); return; }
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  const url = await pgs.createDatabase('two');
  const dirs = [t.testdir({ a: {}, b: {} })].flatMap((d) => [path.join(d, 'a'), path.join(d, 'b')]);
  for (const d of dirs) writeServeIni(d, loopbackListen(NET).listen, {}, url);
  const token = await addToken(dirs[0]!, 'agents', 'push', undefined, pgs.env);
  const serves = [await startServe(dirs[0]!, [], pgs.env), await startServe(dirs[1]!, [], pgs.env)];
  t.teardown(() => Promise.all(serves.map((s) => s.stop())));
  // 40 documents of one host, a second apart, `a` changing with each and `b` never; in pairs, one
  // to each server at the same moment, with other hosts' pushes beside them.
  const base = Date.now() - 3_600_000;
  const valueOf = (i: number) => `v${i}`;
  const answers: { i: number; code: number }[] = [];
  for (let i = 0; i < 40; i += 2) {
    const pair = [i, i + 1].map(async (k) => {
      const code = await post(serves[k % 2]!.url, token, doc('shared.ams', { pkg: { a: valueOf(k), b: 'same' } }, new Date(base + k * 1000).toISOString()));
      answers.push({ i: k, code });
    });
    const others = [0, 1].map((k) => post(serves[k]!.url, token, doc(`other${i + k}.ams`, types(3, 20))));
    await Promise.all([...pair, ...others]);
  }
  // Of a pair, the later document may be stored first: the earlier one is then older than what is
  // stored, and answered 409 without storing anything.
  t.same(answers.filter((x) => x.code !== 200 && x.code !== 409), [], 'every push answered 200, or 409 when the other server stored a later one first');
  const stored = answers.filter((x) => x.code === 200).map((x) => x.i).sort((x, y) => x - y);
  t.ok(stored.length >= 20, `${stored.length} of 40 stored`);
  process.env.PGPASSWORD = pgs.password;
  const check = await openAnyStore(url, { readonly: true });
  t.teardown(() => check.close());
  const ref = await check.findHost('shared.ams');
  const history = await check.hostFacts(ref!, { history: true });
  const a = history.filter((f) => f.subtype === 'a');
  const b = history.filter((f) => f.subtype === 'b');
  t.equal(b.length, 1, 'the value that never changed is one interval, never duplicated');
  t.equal(a.filter((f) => f.current).length, 1, 'one current interval of the changing value');
  const byStart = [...a].sort((x, y) => (x.firstSeen < y.firstSeen ? -1 : 1));
  t.same(byStart.map((f) => f.value), stored.map(valueOf), 'one interval for each stored document, in their times\' order: none lost, none twice');
  t.same(byStart.map((f) => f.firstSeen), stored.map((i) => new Date(base + i * 1000).toISOString()), 'each opened at its document\'s time');
  t.ok(byStart.every((f, k) => k === 0 || byStart[k - 1]!.lastSeen < f.firstSeen), 'no two intervals overlap');
});

t.test('a run over the fixture fleet and serve taking pushes on one SQLite file: both finish, every write present', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleetProcess({ dir, count: 30, base: '127.130.200.1', port: 2222 });
  t.teardown(() => fleet.stop());
  const hosts = Array.from({ length: 30 }, (_, i) => `127.130.200.${i + 1}`);
  const { listen } = loopbackListen(NET);
  const env = writeEnv({ dir, keyPath: fleet.userKey, knownHosts: fleet.knownHosts, port: 2222, rows: hosts.map((h) => `${h},web,ams,prod`), ini: { api: { listen } } });
  const token = await addToken(dir, 'agents', 'push');
  const serve = await startServe(dir, ['-b', env.csv]);
  t.teardown(() => serve.stop());
  let pushing = true;
  let sent = 0;
  const codes: number[] = [];
  const pusher = (async () => {
    while (pushing || sent < 100) {
      const batch = Array.from({ length: 8 }, () => post(serve.url, token, doc(`agent${sent++}.lon`, types(20, 40))));
      codes.push(...(await Promise.all(batch)));
    }
  })();
  const run = await jf(['run', '-c', env.ini], dir);
  pushing = false;
  await pusher;
  const json = JSON.parse(run.stdout) as Record<string, unknown>;
  t.equal(run.code, 0, `the run finished: ${run.stderr.slice(0, 500)}`);
  t.same((json.global_success_hosts_list as string[]).length, 30, 'every fleet host collected');
  t.same([...new Set(codes)], [200], `all ${codes.length} pushes answered 200`);
  const db = new Database(env.db, { readonly: true });
  t.teardown(() => db.close());
  const pushed = db.prepare("SELECT COUNT(*) AS n FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name LIKE 'agent%'").get() as { n: number };
  t.equal(pushed.n, codes.length * 800, 'every pushed fact is present');
  const collected = db.prepare("SELECT COUNT(DISTINCT h.name) AS n FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name LIKE '127.130.200.%'").get() as { n: number };
  t.equal(collected.n, 30, "every run host's facts are present");
});

t.test('HTTPS with a self-signed certificate; the [api] checks', async (t) => {
  const dir = t.testdir();
  const { host, listen } = loopbackListen(NET);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=jellyfish-test', '-addext', `subjectAltName=IP:${host}`], { stdio: 'ignore' });
  fs.chmodSync(key, 0o644);
  writeServeIni(dir, listen, { api: { tls_cert: cert, tls_key: key } });
  const token = await addToken(dir, 'agents', 'push');
  const loose = await jf(['serve', '-c', 'scheduler.ini'], dir);
  t.equal(loose.code, 78, 'a group/world-readable TLS key is a config error');
  t.match(loose.stderr, /tls_key .*readable by group or others/);
  fs.chmodSync(key, 0o600);
  const serve = await startServe(dir);
  t.teardown(() => serve.stop());
  t.match(serve.url, /^https:\/\//, 'HTTPS when tls_cert and tls_key are set');
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(`${serve.url}/api/v1/push`);
    const req = https.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', ca: fs.readFileSync(cert), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(doc('tls.ams', { a: { b: 'c' } }));
  });
  t.equal(answer.status, 200, `a push over HTTPS, the certificate verified: ${answer.body}`);
  const plain = await fetch(serve.url.replace('https:', 'http:') + '/healthz').then(() => 'answered', () => 'refused');
  t.equal(plain, 'refused', 'no plain HTTP on the TLS port');

  // The [api] checks, without listening anywhere but loopback.
  const ini = (api: string) => { const f = path.join(dir, `c${Math.random()}.ini`); fs.writeFileSync(f, `[api]\n${api}\n`); return loadConfig({ file: f }); };
  t.match(checkApiSettings(ini('listen = 0.0.0.0:8422')).warnings.join(), /not loopback and TLS is off/, 'a non-loopback listen without TLS warns');
  t.same(checkApiSettings(ini('listen = 127.0.0.1:8422')).warnings, [], 'a loopback one does not');
  t.throws(() => checkApiSettings(ini('listen = 0.0.0.0:8422\nui_auth = none')), /ui_auth = none is allowed on a loopback listen only/);
  t.throws(() => checkApiSettings(ini(`tls_cert = ${cert}`)), /tls_cert is set without \[api\] tls_key/);
  const doctor = await jf(['doctor', '--json', '-c', 'scheduler.ini'], dir);
  const api = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'api');
  t.ok(api?.ok, `doctor checks [api]: ${api?.detail}`);
  t.match(api?.detail, /https:\/\//);
});
