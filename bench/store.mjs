#!/usr/bin/env node
// The storage stage alone, without SSH: what recording one run's results costs the main thread.
// Builds every host's result from the fixture fleet's recorded outputs (the same facts a run over
// the fixture fleet stores: ~890 per host), then records them in batches as a run does, into a
// fresh database (first run: every fact inserted) and again (steady state: every fact unchanged,
// only last_seen moves). Prints one JSON line: ms per host for each pass, and the batch times.
//   node bench/store.mjs [--hosts 2000] [--batch 100] [--db FILE|postgresql://...] [--pragma 'cache_size = -65536' ...]
// With --postgres it starts a private PostgreSQL server (the test suite's) and measures that
// backend too (run it as `node --import tsx bench/store.mjs --postgres`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './lib/paths.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? process.argv[i + 1] : dflt; };
const HOSTS = Number(arg('hosts', '2000'));
/** A run at ~200 hosts/s flushes every 500 ms: ~100 results a batch. */
const BATCH = Number(arg('batch', '100'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-store-bench-'));
const dbFile = arg('db', path.join(work, 'jellyfish.db'));

const { loadCollections } = await import(path.join(ROOT, 'dist/collections/load.js'));
const { parseOutput } = await import(path.join(ROOT, 'dist/collections/parse.js'));
const { openAnyStore } = await import(path.join(ROOT, 'dist/store/store.js'));
const { isDatabaseFile } = await import(path.join(ROOT, 'dist/store/database.js'));

const defs = loadCollections(path.join(ROOT, 'config/collector.ini')).filter((c) => c.enabled);
const outputs = path.join(ROOT, 'fixtures/outputs/debian12');
const collections = defs.map((def) => {
  let text = '';
  try { text = fs.readFileSync(path.join(outputs, `${def.type}.txt`), 'utf8'); } catch { /* no recording: empty */ }
  return { type: def.type, status: 'ok', exitCode: 0, durationMs: 1, values: parseOutput(def, text) };
});
const facts = collections.reduce((n, c) => n + Object.keys(c.values).length, 0);
const hosts = Array.from({ length: HOSTS }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

async function pass(store, runId) {
  const batches = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < hosts.length; i += BATCH) {
    const now = Date.now();
    const results = hosts.slice(i, i + BATCH).map((label) => ({ label, outcome: 'ok', startedAt: now - 50, finishedAt: now, collections, outputBytes: 80_000 }));
    const b0 = process.hrtime.bigint();
    await store.recordResults(runId, results);
    batches.push(Number(process.hrtime.bigint() - b0) / 1e6);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  batches.sort((a, b) => a - b);
  return { msPerHost: Math.round((ms / hosts.length) * 1000) / 1000, batchP50Ms: Math.round(batches[batches.length >> 1]), batchMaxMs: Math.round(batches.at(-1)) };
}

async function measure(db) {
  const store = await openAnyStore(db);
  // Extra pragmas to try (repeatable): what a change to the store's settings would bring.
  for (let i = 0; i < process.argv.length; i++) if (process.argv[i] === '--pragma' && store.dialect === 'sqlite') store.database.pragma(process.argv[i + 1]);
  const inventory = hosts.map((label) => ({ host: label, label, srvtype: 'bench', pop: 'lo', status: 'prod', isProd: true }));
  await store.upsertHosts(inventory);
  const run = () => store.beginRun({ mode: 'run', startedAt: new Date(), pid: process.pid, hostname: os.hostname(), threads: 256, workers: 1 });
  const cpu0 = process.cpuUsage();
  const first = await pass(store, await run());
  const steady = await pass(store, await run());
  const cpu = process.cpuUsage(cpu0);
  await store.close();
  return { backend: store.dialect, hosts: HOSTS, factsPerHost: facts, batch: BATCH, first, steady, clientCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    ...(!isDatabaseFile(db) ? {} : { dbMb: Math.round(fs.statSync(db).size / 2 ** 20) }) };
}

if (process.argv.includes('--postgres')) {
  const { startPostgres } = await import(path.join(ROOT, 'test/helpers/postgres.ts'));
  const server = await startPostgres();
  try {
    process.env.PGPASSWORD = server.password;
    process.stdout.write(`${JSON.stringify(await measure(dbFile))}\n`);
    process.stdout.write(`${JSON.stringify(await measure(await server.createDatabase('bench')))}\n`);
  } finally {
    await server.stop();
  }
} else {
  process.stdout.write(`${JSON.stringify(await measure(dbFile))}\n`);
}
