// A fleet whose every host answers 8 MB of one-line facts: each collection stops at max_facts
// (FACT_CAP, the host partial), and the collector's memory stays bounded (peak RSS of the
// bin/jellyfish process, read from /proc while it runs). Fixture hosts on 127.70.8.0/23.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');
const HOSTS = 256;
const LIMIT_MB = 1536;

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

/** 8 MB of `key value` lines, every key distinct. */
function oneLineFacts(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i += 1) {
    const line = `k${i} v${i}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('').slice(0, bytes));
}

/** Run bin/jellyfish, sampling its peak RSS (VmHWM) from /proc until it exits. */
function runMeasured(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string; peakMb: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    const sample = () => {
      try {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch { /* exited */ }
    };
    const timer = setInterval(sample, 100);
    child.stdout.on('data', (d: Buffer) => { stdout += d; sample(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => { clearInterval(timer); resolve({ code, stdout, stderr, peakMb: Math.round(peakKb / 1024) }); });
  });
}

t.test(`${HOSTS} hosts x 8 MB of one-line facts: FACT_CAP on each, collector under ${LIMIT_MB} MB RSS`, async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: HOSTS, base: '127.70.8.1', port: 2222, dir, outputs: { facts: oneLineFacts(8_000_000) } });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { paramiko: { connect_timeout: '2m' }, collector: { threads: String(HOSTS), workers: 'auto', host_timeout: '5m', threadtimeout: '10m' } },
    collectors: '[facts]\nmulti = true\ncollection = cat facts\ntimeout = 5m\n\n[rkernel]\ncollection = uname -r\n',
  });
  const r = await runMeasured(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 0, r.stderr.slice(0, 500));
  const json = JSON.parse(r.stdout);
  t.equal(json.global_success_hosts, HOSTS, 'every host counted a success (partial)');
  t.ok(r.peakMb > 0 && r.peakMb < LIMIT_MB, `peak RSS ${r.peakMb} MB (JSON peak_rss_mb ${json.peak_rss_mb}), limit ${LIMIT_MB} MB`);
  const db = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  const outcomes = db.prepare('SELECT outcome, code, COUNT(*) AS n FROM attempts GROUP BY outcome, code').all();
  t.same(outcomes, [{ outcome: 'partial', code: 'FACT_CAP', n: HOSTS }], 'each host partial with FACT_CAP');
  const statuses = db.prepare('SELECT type, status, message, COUNT(*) AS n FROM attempt_collections GROUP BY type, status, message ORDER BY type').all();
  t.same(statuses, [
    { type: 'facts', status: 'failed', message: 'more than max_facts (100000) facts', n: HOSTS },
    { type: 'rkernel', status: 'ok', message: null, n: HOSTS },
  ], 'the capped collection failed, the other stored');
  t.equal((db.prepare("SELECT COUNT(*) AS n FROM facts WHERE type = 'facts'").get() as { n: number }).n, 0, 'no fact of a capped collection is stored');
});
