#!/usr/bin/env node
// The storage API under load: N concurrent agents (default 64) each pushing its host's full
// document (the ~890-fact Debian profile recorded in fixtures/outputs/debian12, 1 % of values
// changed per push) to `jellyfish serve` for a fixed time; documents/s accepted and latency
// percentiles, beside the only ways an agent could push before: `jellyfish ingest` one process per
// document, and one batch file. SQLite by default; `--engines sqlite,postgresql` adds PostgreSQL
// (a private server, bench/lib/postgres.mjs).
// The database holds --hosts (default 10,000) other hosts first, with a few dozen facts each, and
// --readers (default 2) clients read `/api/v1/hosts?limit=100` and `/api/v1/query` meanwhile:
// their latency is the read side's while pushes run.
//   node bench/serve.mjs [--seconds 60] [--agents 64] [--hosts 10000] [--readers 2] [--rate 300[,R...]] [--engines sqlite] [--no-docs] [--cpu-prof DIR]
// --seconds is per load: a closed loop (the most the server takes), then an open loop at each
// --rate (documents/s offered in all, agents on timers; a list: 250,300; 0 leaves it out).
// Loopback 127.130.250.x only. Prints a markdown table; writes the serve section of docs/benchmarks.md.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from './lib/paths.mjs';
import { replaceSection } from './lib/report.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const SECONDS = Number(opt('seconds', '60'));
const AGENTS = Number(opt('agents', '64'));
const HOSTS = Number(opt('hosts', '10000'));
const READERS = Number(opt('readers', '2'));
/** the open loops' documents a second in all, one loop per rate (0: the closed loop alone) */
const RATES = opt('rate', '300').split(',').map(Number).filter((r) => r > 0);
const ENGINES = opt('engines', 'sqlite').split(',');
/** a folder for a CPU profile of `serve` (node --cpu-prof) */
const CPU_PROF = opt('cpu-prof', undefined);
const BIN = path.join(ROOT, 'bin/jellyfish');
const log = (m) => process.stderr.write(`bench serve: ${m}\n`);

if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) { log('dist/ is missing: npm run build'); process.exit(1); }
const { parseOutput } = await import(path.join(ROOT, 'dist/collections/parse.js'));
const { loadCollections } = await import(path.join(ROOT, 'dist/collections/load.js'));
const { openAnyStore } = await import(path.join(ROOT, 'dist/store/store.js'));

/** The fleet already stored: HOSTS hosts with a release, a kernel and 40 packages each (one run). */
async function fill(database) {
  const store = await openAnyStore(database);
  const at = Date.now() - 3_600_000;
  await store.upsertHosts(Array.from({ length: HOSTS }, (_, i) => ({
    label: `host${i + 1}.fleet`, host: `host${i + 1}.fleet`, srvtype: i % 3 ? 'web' : 'db', pop: ['ams', 'fra', 'lon', 'nyc'][i % 4], status: 'prod', notes: '', isProd: true, line: i + 2,
  })));
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at), pid: process.pid, hostname: os.hostname(), threads: 1, workers: 0 });
  for (let h = 1; h <= HOSTS; h += 500) {
    const batch = [];
    for (let i = h; i < Math.min(HOSTS + 1, h + 500); i++) {
      const packages = Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`pkg${k}`, `1.${k}.${i % 7}-1`]));
      packages.openssl = `3.0.${i % 15}-1~deb12u1`;
      batch.push({
        label: `host${i}.fleet`, outcome: 'ok', startedAt: at - 1000, finishedAt: at, outputBytes: 0,
        collections: [
          { type: 'release', status: 'ok', durationMs: 1, values: { ID: 'debian', VERSION_ID: '12', VERSION_CODENAME: 'bookworm' } },
          { type: 'rkernel', status: 'ok', durationMs: 1, values: { default: `6.1.0-${i % 20}-amd64` } },
          { type: 'packages', status: 'ok', durationMs: 1, values: packages },
        ],
      });
    }
    await store.recordResults(runId, batch);
  }
  await store.finishRun(runId, new Date(at), 0, '{}');
  await store.close();
}

/** The recorded Debian 12 host, parsed by the shipped collections: type -> subtype -> value. */
function profile() {
  const defs = loadCollections(path.join(ROOT, 'config/collector.ini'));
  const data = {};
  for (const d of defs) {
    const f = path.join(ROOT, 'fixtures/outputs/debian12', `${d.type}.txt`);
    if (fs.existsSync(f)) data[d.type] = parseOutput(d, fs.readFileSync(f, 'utf8'));
  }
  return data;
}
const BASE = profile();
const FACTS = Object.values(BASE).reduce((n, v) => n + Object.keys(v).length, 0);
const KEYS = Object.entries(BASE).flatMap(([type, v]) => Object.keys(v).map((s) => [type, s]));

/**
 * The documents' JSON text, built once: the text of collection_data and where each value's JSON
 * sits in it, so a push's text is a few slices of it with the changed values spliced in. (Building
 * and serializing a 1,400-value object per push would cost the load generator more CPU than the
 * server spends on many steps of a push; both share the machine's cores.)
 */
const DATA_TEXT = (() => {
  let text = '{';
  const spans = [];
  Object.entries(BASE).forEach(([type, values], t) => {
    text += `${t ? ',' : ''}${JSON.stringify(type)}:{`;
    Object.entries(values).forEach(([sub, v], i) => {
      text += `${i ? ',' : ''}${JSON.stringify(sub)}:`;
      const start = text.length;
      text += JSON.stringify(v);
      spans.push([start, text.length, v]);
    });
    text += '}';
  });
  return { text: `${text}}`, spans };
})();
JSON.parse(DATA_TEXT.text); // a broken splice table would show here, not as 400s

/** Host i's document at push n: 1 % of its values differ from push n-1. */
function documentFor(host, n) {
  const changed = Math.max(1, Math.round(FACTS / 100));
  const at = [...new Set(Array.from({ length: changed }, (_, k) => (n * 7919 + k * 104729) % KEYS.length))].sort((a, b) => a - b);
  let data = '';
  let from = 0;
  for (const i of at) {
    const [start, end, v] = DATA_TEXT.spans[i];
    data += DATA_TEXT.text.slice(from, start) + JSON.stringify(`${v}+p${n}`);
    from = end;
  }
  data += DATA_TEXT.text.slice(from);
  return `{"collection_hostname":${JSON.stringify(host)},"collection_timestamp":"${new Date().toISOString()}","collection_data":${data}}`;
}

/** POST over keep-alive connections with node:http (lighter on the shared CPU than fetch). */
// A socket left idle closes after 4 s, before serve's keep-alive timeout (5 s) would: a request
// sent on a socket the server is closing at that moment fails with ECONNRESET (seen once in an
// open loop, where some sockets of the pool idle between bursts).
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1024, timeout: 4000 });
function get(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: httpAgent, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
/** The answer's status, or the network error's code (ECONNRESET, ...): counted among the answers, never thrown. */
function post(url, headers, body) {
  return new Promise((resolve) => {
    const failed = (e) => resolve(e.code ?? e.message);
    const req = http.request(url, { method: 'POST', agent: httpAgent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode));
      res.on('error', failed);
    });
    req.on('error', failed);
    req.end(body);
  });
}

function jfSync(args, cwd, env = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1', ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`jellyfish ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

async function startServe(dir, env) {
  const child = spawn(process.execPath, [...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF)}`] : []), BIN, 'serve', '-c', 'scheduler.ini', '--log-format', 'json'], { cwd: dir, env: { ...process.env, CI: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  // A bench that fails half-way must not leave serve running (and taking CPU from the next runs).
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  let err = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => { err += d; for (const l of String(d).split('\n')) if (l.startsWith('WT ') || (l && !l.startsWith('{') && !l.includes('serving the storage API'))) process.stderr.write(`serve: ${l}\n`); const m = /serving the storage API on (\S+)/.exec(err); if (m) resolve(m[1]); if (err.length > 1e6) err = err.slice(-1e5); });
    child.once('exit', (c) => reject(new Error(`serve exited ${c}: ${err}`)));
  });
  /** CPU seconds of the serve process so far (user + system, all its threads), from /proc */
  const cpu = () => {
    try {
      const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch { return NaN; }
  };
  return { url, cpu, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

/**
 * One load for SECONDS, the readers reading meanwhile. rate 0: closed loop, each agent pushing its
 * next document as soon as the last is answered (the most the server takes). rate R: open loop, R
 * documents a second in all, agent i's k-th due at (i + k * AGENTS) / R seconds (an agent on a
 * timer, as a fleet's are): sent when due, or as soon as its last push is answered if that is
 * later, its latency counted from when it was due (a late start is the server's delay too).
 */
async function measure(name, serve, token, readToken, rate, pushNo) {
  const lat = [];
  const codes = new Map();
  const start = performance.now();
  const until = start + SECONDS * 1000;
  const agent = async (i) => {
    for (let k = 0; performance.now() < until; k++) {
      let t0 = performance.now();
      if (rate > 0) {
        const due = start + ((i + k * AGENTS) / rate) * 1000;
        if (due >= until) break;
        if (due > t0) await new Promise((r) => setTimeout(r, due - t0));
        t0 = due;
      }
      const body = documentFor(`agent${i}.bench`, ++pushNo[i]);
      const status = await post(`${serve.url}/api/v1/push`, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body);
      lat.push(performance.now() - t0);
      codes.set(status, (codes.get(status) ?? 0) + 1);
    }
  };
  const reads = [];
  const readsBy = [[], []];
  const readCodes = new Map();
  const reader = async (i) => {
    const paths = ['/api/v1/hosts?limit=100', '/api/v1/query?type=packages&subtype=openssl&limit=100'];
    for (let n = i; performance.now() < until; n++) {
      const t0 = performance.now();
      const status = await get(`${serve.url}${paths[n % paths.length]}`, { authorization: `Bearer ${readToken}` });
      reads.push(performance.now() - t0);
      readsBy[n % paths.length].push(performance.now() - t0);
      readCodes.set(status, (readCodes.get(status) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const serveCpu0 = serve.cpu();
  const ownCpu0 = process.cpuUsage();
  await Promise.all([...Array.from({ length: AGENTS }, (_, i) => agent(i)), ...Array.from({ length: READERS }, (_, i) => reader(i))]);
  const wall = (performance.now() - start) / 1000;
  const serveCpu = serve.cpu() - serveCpu0;
  const own = process.cpuUsage(ownCpu0);
  const loadCpu = (own.user + own.system) / 1e6;
  lat.sort((a, b) => a - b);
  reads.sort((a, b) => a - b);
  const accepted = codes.get(200) ?? 0;
  const load = rate > 0 ? `open loop, ${rate}/s offered` : 'closed loop';
  const api = { load, rate, docsPerSecond: accepted / wall, p50: pct(lat, 50), p99: pct(lat, 99), accepted, answers: Object.fromEntries(codes), serveCpuMs: (1000 * serveCpu) / lat.length, loadCpuMs: (1000 * loadCpu) / lat.length,
    reads: reads.length, readP50: pct(reads, 50), readP99: pct(reads, 99), readAnswers: Object.fromEntries(readCodes),
    readP99By: readsBy.map((l) => pct([...l].sort((a, b) => a - b), 99)) };
  log(`${name}, ${load}: ${accepted} documents accepted in ${wall.toFixed(1)} s (${api.docsPerSecond.toFixed(1)}/s), p50 ${api.p50.toFixed(1)} ms, p99 ${api.p99.toFixed(1)} ms`);
  for (const [k, p] of ['/api/v1/hosts?limit=100', '/api/v1/query?type=packages&subtype=openssl&limit=100'].entries()) {
    const l = readsBy[k].sort((a, b) => a - b);
    if (l.length) log(`${name}, ${load}: ${p}: ${l.length} reads, p50 ${pct(l, 50).toFixed(1)} ms, p99 ${pct(l, 99).toFixed(1)} ms`);
  }
  log(`${name}, ${load}: serve used ${serveCpu.toFixed(1)} s of CPU in ${wall.toFixed(1)} s (${api.serveCpuMs.toFixed(2)} ms a push); the load generator ${loadCpu.toFixed(1)} s (${api.loadCpuMs.toFixed(2)} ms a push)`);
  return api;
}

async function engine(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `jf-bench-serve-${name}-`));
  let database = 'var/jf.db';
  let env = {};
  let stopPg = async () => {};
  if (name === 'postgresql') {
    const { startPostgresServer } = await import('./lib/postgres.mjs');
    const pg = await startPostgresServer({ databases: ['serve'], log });
    database = pg.databases?.serve ?? pg.url;
    env = pg.env;
    stopPg = () => pg.stop();
  }
  const listen = `127.130.250.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), `[storage]\ndatabase = ${database}\n[api]\nlisten = ${listen}\n`);
  const token = JSON.parse(jfSync(['token', 'add', 'bench', '--scope', 'push', '-c', 'scheduler.ini'], dir, env)).token;
  const readToken = JSON.parse(jfSync(['token', 'add', 'reader', '--scope', 'read', '-c', 'scheduler.ini'], dir, env)).token;
  if (HOSTS > 0) {
    const t = performance.now();
    Object.assign(process.env, env);
    await fill(name === 'postgresql' ? database : path.join(dir, database));
    log(`${name}: ${HOSTS} hosts stored in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const serve = await startServe(dir, env);
  log(`${name}: ${AGENTS} agents against ${serve.url} (${FACTS} facts a document)`);
  // Steady state: each agent's first document (every fact new to the database) is pushed before
  // the clock starts, as a fleet's agents did long before any minute measured.
  const w0 = performance.now();
  const firsts = await Promise.all(Array.from({ length: AGENTS }, (_, i) => post(`${serve.url}/api/v1/push`, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, documentFor(`agent${i}.bench`, 0))));
  if (firsts.some((s) => s !== 200)) throw new Error(`the first documents were answered ${[...new Set(firsts)].join(', ')}`);
  log(`${name}: ${AGENTS} first documents (every fact new) stored in ${((performance.now() - w0) / 1000).toFixed(1)} s, before the clock starts`);
  const pushNo = new Array(AGENTS).fill(0);
  const loads = [];
  for (const rate of [0, ...RATES]) loads.push(await measure(name, serve, token, readToken, rate, pushNo));
  await serve.stop();

  // Baselines: one `jellyfish ingest` process per document, and one batch file.
  const perDoc = 10;
  const t1 = performance.now();
  for (let n = 0; n < perDoc; n++) {
    const f = path.join(dir, 'one.json');
    fs.writeFileSync(f, documentFor(`ingest${n}.bench`, 1));
    jfSync(['ingest', f, '-c', 'scheduler.ini'], dir, env);
  }
  const ingestOne = perDoc / ((performance.now() - t1) / 1000);
  const batchDocs = 200;
  const batch = path.join(dir, 'batch.ndjson');
  fs.writeFileSync(batch, Array.from({ length: batchDocs }, (_, n) => documentFor(`batch${n}.bench`, 1)).join('\n'));
  const t2 = performance.now();
  jfSync(['ingest', batch, '-c', 'scheduler.ini'], dir, env);
  const ingestBatch = batchDocs / ((performance.now() - t2) / 1000);
  await stopPg();
  fs.rmSync(dir, { recursive: true, force: true });
  return { engine: name, loads, ingestOne, ingestBatch };
}

const results = [];
for (const e of ENGINES) results.push(await engine(e));
const f1 = (x) => x.toFixed(1);
/** The issue's targets, for a SQLite row: which of them the row misses. */
function missed(a) {
  const out = [];
  if (a.docsPerSecond < 300) out.push('< 300 documents/s');
  if (a.p99 > 250) out.push('push p99 > 250 ms');
  if (a.readP99 > 50) out.push('read p99 > 50 ms');
  return out;
}
const answers = (m) => Object.entries(m).map(([k, v]) => `${k}: ${v}`).join(', ');
const table = [
  `${AGENTS} agents pushing full documents (${FACTS} facts, 1 % changed per push) into a database of ${HOSTS} other hosts, after each agent's first document (not counted); ${READERS} clients reading meanwhile (\`/api/v1/hosts?limit=100\` and \`/api/v1/query?type=packages&subtype=openssl&limit=100\` in turn, 20 ms apart); ${SECONDS} s per load: a closed loop (each agent pushes again as soon as it is answered: the most the server takes; its latency is then the agents' number over the rate, Little's law), ${RATES.length ? `then an open loop at ${RATES.join(', then ')} documents/s offered (each agent on a timer, pushing every ${RATES.map((r) => `${(AGENTS / r * 1000).toFixed(0)} ms`).join(' or ')}; latency counted from when a push was due)` : 'no open loop (--rate 0)'}; Node ${process.version}, ${os.cpus().length} cores; ${new Date().toISOString().slice(0, 10)}.`,
  'Targets (SQLite): >= 300 documents/s accepted, p99 <= 250 ms; reads p99 <= 50 ms.',
  '',
  '| engine | load | serve: documents/s accepted | p50 ms | p99 ms | answers | reads p50 / p99 ms (answers) | hosts / query reads p99 ms | serve CPU ms a push | load generator CPU ms a push | targets (SQLite) | `ingest`, one process per document: docs/s | `ingest`, one batch file: docs/s |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.flatMap((r) => r.loads.map((a) => `| ${r.engine} | ${a.load} | ${f1(a.docsPerSecond)}${a.rate > 0 ? ` of ${a.rate} offered` : ''} | ${f1(a.p50)} | ${f1(a.p99)} | ${answers(a.answers)} | ${f1(a.readP50)} / ${f1(a.readP99)} (${answers(a.readAnswers)}) | ${a.readP99By.map(f1).join(' / ')} | ${a.serveCpuMs.toFixed(2)} | ${a.loadCpuMs.toFixed(2)} | ${r.engine !== 'sqlite' ? '–' : missed(a).length ? `**not met**: ${missed(a).join(', ')}` : 'met'} | ${f1(r.ingestOne)} | ${f1(r.ingestBatch)} |`)),
].join('\n');
process.stdout.write(`${table}\n`);
if (!argv.includes('--no-docs')) {
  const docs = path.join(ROOT, 'docs/benchmarks.md');
  replaceSection(docs, 'serve', `### The storage API (\`node bench/serve.mjs\`)\n\n${table}\n`);
  log('docs/benchmarks.md updated (serve section)');
}
