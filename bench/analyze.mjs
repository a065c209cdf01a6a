// analyze at scale (SPEC §10): 10,000 hosts on three releases (Debian 12, Ubuntu 22.04, RHEL 9,
// 600 packages each) and 1,000 generated audits (one per advisory and release, one to three
// package-version comparisons each, as feed generators write them), on SQLite and PostgreSQL.
// Times the real binary, spawn to exit, with its peak RSS: the first analyze (every result
// written) and a second one where nothing changed (the steady state).
//
//   npm run build && node bench/analyze.mjs [--hosts 10000] [--audits 1000] [--engines sqlite,postgresql] [--keep]
//   (also `npm run bench -- --only analyze`)
//
// The facts are written through the store's own recordResults (as runs write them).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { postgresUnavailable, postgresVersion, startPostgresServer } from './lib/postgres.mjs';
import { ROOT } from './lib/paths.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const HOSTS = Number(opt('hosts', 10_000));
const AUDITS = Number(opt('audits', 1000));
const KEEP = args.includes('--keep');
const ENGINES = opt('engines', 'sqlite,postgresql').split(',');
const PACKAGES = 600;
const log = (s) => process.stderr.write(`${s}\n`);

const { openAnyStore } = await import(path.join(ROOT, 'dist/store/store.js'));

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RELEASES = [
  { release: { ID: 'debian', VERSION_CODENAME: 'bookworm', VERSION_ID: '12' }, match: 'aptge', version: (r, k) => `${1 + (k % 5)}.${Math.floor(r() * 4)}.${k % 9}-${1 + Math.floor(r() * 3)}+deb12u${Math.floor(r() * 4)}` },
  { release: { ID: 'ubuntu', VERSION_CODENAME: 'jammy', VERSION_ID: '22.04' }, match: 'aptge', version: (r, k) => `${1 + (k % 5)}.${Math.floor(r() * 4)}.${k % 9}-0ubuntu${Math.floor(r() * 3)}.${Math.floor(r() * 20)}` },
  { release: { ID: 'rhel', VERSION_CODENAME: '', VERSION_ID: '9.3' }, match: 'rpmge', version: (r, k) => `${k % 3 === 0 ? '1:' : ''}${1 + (k % 5)}.${Math.floor(r() * 4)}.${k % 9}-${10 + Math.floor(r() * 20)}.el9` },
];

/** Host h's facts: a release and 600 packages, versions drawn per host (so they vary across the fleet). */
function hostFacts(h) {
  const r = rng(h);
  const rel = RELEASES[h % 3];
  const packages = {};
  for (let k = 0; k < PACKAGES; k++) packages[`pkg${k}`] = rel.version(r, k);
  return [{ type: 'release', status: 'ok', values: rel.release, durationMs: 1 }, { type: 'packages', status: 'ok', values: packages, durationMs: 1 }];
}

function writeAudits(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const r = rng(424242);
  for (let a = 0; a < AUDITS; a++) {
    const rel = RELEASES[a % 3];
    const n = 1 + (a % 3);
    const subtypes = Array.from({ length: n }, (_, i) => `pkg${(a * 7 + i * 13) % PACKAGES}`);
    const filter = rel.release.ID === 'rhel'
      ? { 'filter-match': 'match', 'filter-collection-type': ['release', 'release'], 'filter-collection-subtype': ['ID', 'VERSION_ID'], 'filter-match-value': ['^rhel$', '^9'] }
      : { 'filter-match': 'is', 'filter-collection-type': ['release', 'release'], 'filter-collection-subtype': ['ID', 'VERSION_CODENAME'], 'filter-match-value': [rel.release.ID, rel.release.VERSION_CODENAME] };
    const name = `ADV-${String(a).padStart(5, '0')}`;
    const audit = {
      [name]: {
        'vuln-name': name, 'vuln-short-description': `generated advisory ${a}`, 'vuln-long-description': '', 'vuln-primary-link': `https://advisories.invalid/${name}`,
        'vuln-additional-links': {}, 'vuln-priority': a % 11,
        filters: { [rel.release.ID]: filter },
        comparisons: {
          [rel.release.ID]: {
            'comparison-match': rel.match, 'comparison-collection-type': subtypes.map(() => 'packages'),
            'comparison-collection-subtype': subtypes, 'comparison-match-value': subtypes.map((_, i) => rel.version(r, (a * 7 + i * 13) % PACKAGES)),
          },
        },
      },
    };
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(audit, null, 1));
  }
}

async function fill(database) {
  const store = await openAnyStore(database);
  const at = Date.now() - 3_600_000;
  await store.upsertHosts(Array.from({ length: HOSTS }, (_, i) => ({
    label: `host${i + 1}`, host: `host${i + 1}`, srvtype: i % 3 ? 'web' : 'db', pop: ['ams', 'fra', 'lon', 'nyc'][i % 4], status: 'prod', notes: '', isProd: i % 5 !== 0, line: i + 2,
  })));
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(at), pid: process.pid, hostname: os.hostname(), threads: 1, workers: 0 });
  for (let h = 1; h <= HOSTS; h += 250) {
    const batch = [];
    for (let i = h; i < Math.min(HOSTS + 1, h + 250); i++) {
      batch.push({ label: `host${i}`, outcome: 'ok', startedAt: at - 1000, finishedAt: at, collections: hostFacts(i), outputBytes: 0 });
    }
    await store.recordResults(runId, batch);
  }
  await store.finishRun(runId, new Date(at), 0, '{}');
  await store.close();
}

function timeAnalyze(dir, env) {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.join(ROOT, 'bin/jellyfish'), 'analyze', '-c', 'scheduler.ini', '--compact'],
    { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`analyze: exit ${r.status}: ${r.stderr.slice(-2000)}`);
  const summary = JSON.parse(r.stdout);
  const rssKb = Number(r.stderr.trim().split('\n').pop());
  return { seconds: Math.round(ms / 100) / 10, peakRssMb: Math.round(rssKb / 1024), pass: summary.pass, fail: summary.fail, exempt: summary.exempt, hosts: summary.hosts_evaluated, hostsReevaluated: summary.hosts_reevaluated, auditsReevaluated: summary.audits_reevaluated, jobtime: summary.jobtime, phases: summary.phases };
}

export async function benchAnalyze() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-bench-analyze-'));
  const audits = path.join(work, 'audits');
  writeAudits(audits);
  const results = { hosts: HOSTS, audits: AUDITS, packagesPerHost: PACKAGES, engines: {} };
  let pgServer;
  try {
    const targets = [];
    if (ENGINES.includes('sqlite')) {
      const dir = path.join(work, 'sqlite');
      fs.mkdirSync(dir);
      targets.push({ engine: 'SQLite', dir, database: path.join(dir, 'jf.db'), env: {} });
    }
    const noPg = ENGINES.includes('postgresql') ? postgresUnavailable() : 'not asked for (--engines)';
    if (noPg) log(`PostgreSQL skipped: ${noPg}`);
    else {
      pgServer = await startPostgresServer({ databases: ['analyze'], log });
      process.env.PGPASSWORD = pgServer.password;
      const dir = path.join(work, 'pg');
      fs.mkdirSync(dir);
      targets.push({ engine: 'PostgreSQL', dir, database: pgServer.databases.analyze, env: pgServer.env ?? { PGPASSWORD: pgServer.password } });
      results.postgres = postgresVersion();
    }
    for (const tgt of targets) {
      let t0 = performance.now();
      await fill(tgt.database);
      log(`${tgt.engine}: ${HOSTS} hosts x ${PACKAGES + 3} facts stored in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      fs.writeFileSync(path.join(tgt.dir, 'scheduler.ini'), `[GLOBAL]\nlockfile = jf.lock\n[storage]\ndatabase = ${tgt.database}\n[analyze]\naudits = ${audits}\n`);
      t0 = performance.now();
      const first = timeAnalyze(tgt.dir, tgt.env);
      log(`${tgt.engine}: first analyze ${first.seconds} s (peak RSS ${first.peakRssMb} MB): ${first.pass} pass, ${first.fail} fail, ${first.exempt} exempt on ${first.hosts} hosts, phases ${JSON.stringify(first.phases)}`);
      const steady = timeAnalyze(tgt.dir, tgt.env);
      log(`${tgt.engine}: unchanged analyze ${steady.seconds} s (peak RSS ${steady.peakRssMb} MB), ${steady.hostsReevaluated} hosts and ${steady.auditsReevaluated} audits evaluated again, phases ${JSON.stringify(steady.phases)}`);
      results.engines[tgt.engine] = { first, steady };
    }
  } finally {
    if (pgServer) await pgServer.stop();
    if (!KEEP) fs.rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchAnalyze();
  const out = path.join(ROOT, 'bench/results', `analyze-${new Date().toISOString().slice(0, 10)}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}
