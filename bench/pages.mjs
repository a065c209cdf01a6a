// The fleet pages on a big database: a simulated month of 10,000 hosts (bench/lib/history.mjs:
// ~880 facts a host, 1 % of packages changing a night, one run and one gap-fix a day with their
// final JSON, one attempt per host per run), on SQLite and on PostgreSQL. Times each page
// server-side: the request injected into the Fastify instance that carries the pages plugin
// (light-my-request: routing, the store's queries, rendering; no socket), median of --reps.
//
//   npm run build && node bench/pages.mjs [--hosts 10000] [--reps 5] [--engines sqlite,postgresql] [--keep] [--no-docs]
//   (also `npm run bench -- --only pages`)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fillPostgres, fillSqlite } from './lib/history.mjs';
import { postgresUnavailable, postgresVersion, startPostgresServer } from './lib/postgres.mjs';
import { ROOT } from './lib/paths.mjs';
import { replaceSection } from './lib/report.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const HOSTS = Number(opt('hosts', 10_000));
const REPS = Number(opt('reps', 5));
const ENGINES = opt('engines', 'sqlite,postgresql').split(',');
const KEEP = args.includes('--keep');
/** The issue's target for `/` and `/hosts/:host`, server-side. */
const TARGET_MS = 300;
const log = (s) => process.stderr.write(`${s}\n`);

const dist = (p) => path.join(ROOT, 'dist', p);
const { openAnyStore } = await import(dist('store/store.js'));
const { loadConfig } = await import(dist('config/load.js'));
const { pagesPlugin } = await import(dist('pages/plugin.js'));
const { default: Fastify } = await import('fastify');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function pagesApp(database) {
  const config = loadConfig({});
  const store = await openAnyStore(database, { readonly: true });
  const app = Fastify({ logger: false });
  await app.register(pagesPlugin, { store, config: { ...config, storage: { ...config.storage, database } } });
  await app.ready();
  return { app, close: async () => { await app.close(); await store.close(); } };
}

export async function benchPages() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-bench-pages-'));
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
  const results = { hosts: HOSTS, reps: REPS, targetMs: TARGET_MS, loadAverageAtStart: load(), engines: {} };
  let pgServer;
  const stores = [];
  try {
    const now = Date.now();
    if (ENGINES.includes('sqlite')) {
      const t0 = performance.now();
      const file = path.join(work, 'month.db');
      const filled = await fillSqlite(file, { hosts: HOSTS, now });
      log(`sqlite: ${JSON.stringify(filled.counts)} loaded and indexed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      stores.push({ engine: 'SQLite', database: file, filled });
    }
    const noPg = ENGINES.includes('postgresql') ? postgresUnavailable() : 'not asked for (--engines)';
    if (noPg) log(`PostgreSQL skipped: ${noPg}`);
    else {
      pgServer = await startPostgresServer({ databases: ['pages'], log });
      process.env.PGPASSWORD = pgServer.password;
      const t0 = performance.now();
      const filled = await fillPostgres(pgServer.databases.pages, { hosts: HOSTS, now }, pgServer.password);
      log(`postgresql: ${JSON.stringify(filled.counts)} loaded and indexed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      stores.push({ engine: 'PostgreSQL', database: pgServer.databases.pages, filled });
      results.postgres = postgresVersion();
    }
    for (const s of stores) {
      const names = s.filled.names;
      // A host in the middle of the fleet with changed facts (every host has some over a month).
      const host = names[Math.floor(names.length / 2)];
      const pages = [
        { id: 'fleet', url: '/', label: '/', target: TARGET_MS },
        { id: 'fleet-paged', url: '/?page=3&stale_page=2', label: '/?page=3&stale_page=2', target: TARGET_MS },
        { id: 'host', url: `/hosts/${encodeURIComponent(host)}`, label: '/hosts/H', target: TARGET_MS },
        { id: 'host-search', url: `/hosts/${encodeURIComponent(host)}?q=lib&type=packages`, label: '/hosts/H?q=lib&type=packages', target: TARGET_MS },
        { id: 'unknown-host', url: '/hosts/nosuch.example', label: '/hosts/nosuch.example (404, similar names)', target: TARGET_MS },
        { id: 'changes-host', url: `/changes?host=${encodeURIComponent(host)}&since=30d`, label: '/changes?host=H&since=30d', target: undefined },
        { id: 'changes-day', url: '/changes', label: '/changes (the last 24 h, fleet-wide)', target: undefined },
      ];
      const { app, close } = await pagesApp(s.database);
      const slot = (results.engines[s.engine] = { counts: s.filled.counts, pages: {} });
      try {
        // One warm-up request per page (prepared statements, JIT), then the reps, pages taking turns.
        for (const p of pages) await app.inject({ method: 'GET', url: p.url });
        for (let rep = 1; rep <= REPS; rep++) {
          for (const p of pages) {
            const t0 = performance.now();
            const res = await app.inject({ method: 'GET', url: p.url });
            const ms = performance.now() - t0;
            const r = (slot.pages[p.id] ??= { url: p.url, label: p.label, target: p.target, ms: [], status: res.statusCode, bytes: res.body.length });
            r.ms.push(Math.round(ms * 10) / 10);
            log(`  ${s.engine} ${p.url}: ${ms.toFixed(0)} ms, ${res.statusCode}, ${(res.body.length / 1024).toFixed(0)} KiB (rep ${rep})`);
          }
        }
      } finally {
        await close();
      }
    }
    const lines = [
      `**Fleet pages, ${HOSTS.toLocaleString('en')} hosts, a simulated month** (\`node bench/pages.mjs\`; server-side time of one request injected into the Fastify instance with the pages plugin, routing + queries + rendering, no socket; median of ${REPS} after one warm-up, min–max in parentheses)`,
      '',
      '| page | engine | status | size | ms | target ms |',
      '|---|---|---|---|---|---|',
    ];
    for (const [engine, e] of Object.entries(results.engines)) {
      for (const p of Object.values(e.pages)) {
        lines.push(`| \`${p.label}\` | ${engine} | ${p.status} | ${(p.bytes / 1024).toFixed(0)} KiB | ${median(p.ms)} (${Math.min(...p.ms)}–${Math.max(...p.ms)}) | ${p.target ?? '-'} |`);
      }
    }
    const c = Object.values(results.engines)[0]?.counts ?? {};
    lines.push('', `Rows: ${Object.entries(c).map(([t, n]) => `${t} ${n.toLocaleString('en')}`).join(', ')}. H is a host in the middle of the fleet. The run summaries hold every host name (about ${Math.round((HOSTS * 14) / 1024)} KiB each), as a run writes them.`);
    results.loadAverageAtEnd = load();
    lines.push('', `Load average ${results.loadAverageAtStart} at the start, ${results.loadAverageAtEnd} at the end (${os.cpus().length} cores, shared: figures vary with it).`);
    results.table = lines.join('\n');
    process.stdout.write(`\n${results.table}\n`);
    return results;
  } finally {
    await pgServer?.stop();
    if (!KEEP) fs.rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchPages();
  const day = new Date().toISOString().slice(0, 10);
  const file = path.join(ROOT, 'bench/results', `pages-${day}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(r, null, 1) + '\n');
  log(`wrote ${path.relative(ROOT, file)}`);
  if (!args.includes('--no-docs') && HOSTS >= 10_000) {
    replaceSection(path.join(ROOT, 'docs/benchmarks.md'), 'pages', `### ${day}, ${os.cpus().length} cores (\`node bench/pages.mjs\`)\n\n${r.table}`);
    log('docs/benchmarks.md (pages section) written');
  }
}
