#!/usr/bin/env node
// `npm run bench`: jellyfish over the fixture fleet (in its own process), side by side for several
// threads/workers settings in one run. Prints a markdown table; each figure is the median of
// --reps runs (default 3) with the min-max spread.
//   node bench/run.mjs [--hosts 1000] [--reps 3] [--delay-ms 0]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const HOSTS = Number(arg('hosts', '1000'));
const REPS = Number(arg('reps', '3'));
const DELAY = Number(arg('delay-ms', '0'));
const BASE = '127.40.0.1';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-bench-'));

function addresses(n) {
  const out = [];
  for (let i = 0; out.length < n; i++) out.push(`127.40.${Math.floor(i / 254)}.${(i % 254) + 1}`);
  return out;
}

async function startFleet() {
  const child = spawn(process.execPath, [path.join(root, 'fixtures/fleet/fleet.mjs'), '--count', String(HOSTS), '--base', BASE, '--port', '2222', '--dir', work, '--delay-ms', String(DELAY)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l))));
  return { child, ...ready };
}

// `db` names the database folder: a fresh one measures a first run (every fact inserted), a
// reused one the steady state of a nightly cron run (almost every fact unchanged).
function runJellyfish(fleet, threads, workers, db) {
  const dir = path.join(work, db);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'server4.csv'), addresses(HOSTS).map((h) => `${h},web,ams,prod`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), `[paramiko]\nparamiko_key = ${fleet.userKey}\nknown_hosts = ${fleet.knownHosts}\nhost_key_policy = strict\nport = 2222\n[collector]\nthreads = ${threads}\nworkers = ${workers}\n`);
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/jellyfish'), 'run', '-c', 'scheduler.ini', '--compact'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('close', () => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const json = JSON.parse(out);
      resolve({ wall, ok: json.global_success_hosts, rss: json.peak_rss_mb, cpu: json.cpu_seconds });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;

const fleet = await startFleet();
const settings = [[64, 0], [256, 0], [256, 1], [256, 2], [1024, 1]];
const rows = [];
for (const [threads, workers] of settings) {
  for (const steady of [false, true]) {
    const runs = [];
    if (steady) await runJellyfish(fleet, threads, workers, `steady-${threads}-${workers}`); // fills the database
    for (let rep = 0; rep < REPS; rep++) {
      runs.push(await runJellyfish(fleet, threads, workers, steady ? `steady-${threads}-${workers}` : `first-${threads}-${workers}-${rep}`));
    }
    const walls = runs.map((r) => r.wall);
    const rates = runs.map((r) => HOSTS / r.wall);
    rows.push({ kind: steady ? 'steady' : 'first', threads, workers, wall: median(walls), wallSpread: spread(walls), rate: median(rates), rateSpread: spread(rates), rss: median(runs.map((r) => r.rss)), cpuPerHost: (median(runs.map((r) => r.cpu)) * 1000) / HOSTS, ok: median(runs.map((r) => r.ok)) });
  }
}
fleet.child.kill('SIGTERM');
const best = Math.max(...rows.map((r) => r.rate));
console.log(`\njellyfish on ${HOSTS} fixture hosts (delay ${DELAY} ms), ${os.cpus().length} cores, Node ${process.version}, median of ${REPS}\n`);
console.log('first = empty database (every fact inserted); steady = the same run again (facts unchanged, the nightly case)\n');
console.log('| run | threads | workers | wall s (spread) | hosts/s (spread) | ratio to best | controller CPU ms/host | peak RSS MB | ok |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.kind} | ${r.threads} | ${r.workers} | ${r.wall.toFixed(2)} (${r.wallSpread}) | ${r.rate.toFixed(0)} (${r.rateSpread}) | ${(r.rate / best).toFixed(2)} | ${r.cpuPerHost.toFixed(2)} | ${r.rss} | ${r.ok}/${HOSTS} |`);
}
fs.rmSync(work, { recursive: true, force: true });
