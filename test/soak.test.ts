// Soak: many fixture hosts (fleet in its own process) with 5 % mixed faults from the matrix; the
// JSON adds up exactly to the inventory and the attempts table agrees with it host by host.
// Default 2,000 hosts in `npm test`; the full size: `npm run soak` (JF_SOAK_HOSTS=10000)
import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startFleetProcess } from './helpers/fleet-process.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';

const N = Number(process.env.JF_SOAK_HOSTS ?? 2000);
const KINDS = ['refuse', 'hang', 'banner-hang', 'auth-reject', 'wrong-hostkey', 'channel-refuse', 'cmd-hang', 'step-fail', 'disconnect', 'invalid-utf8', 'slow-output'];

t.test(`soak: ${N} hosts, 5 % faults`, { timeout: 900_000 }, async (t) => {
  const dir = t.testdir();
  const hosts: string[] = [];
  for (let i = 0; hosts.length < N; i++) hosts.push(`127.44.${Math.floor(i / 254)}.${(i % 254) + 1}`);
  const faults: Record<string, { kind: string; type?: string }> = {};
  hosts.forEach((h, i) => { if (i % 20 === 3) faults[h] = { kind: KINDS[(i / 20 | 0) % KINDS.length] as string, type: 'packages' }; });
  const fleet = await startFleetProcess({ dir, count: N, base: '127.44.0.1', faults });
  t.teardown(() => fleet.stop());
  writeEnv({
    dir, keyPath: fleet.userKey, knownHosts: fleet.knownHosts, port: 2222,
    rows: hosts.map((h, i) => `${h},web,ams,${i % 4 ? 'spare' : 'prod'}`),
    ini: { paramiko: { connect_timeout: '3s' }, collector: { threads: '256', workers: 'auto', threadtimeout: '10m', host_timeout: '20s' } },
  });
  const started = Date.now();
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.resolve('bin/jellyfish'), 'run', '-c', 'scheduler.ini'], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const json = JSON.parse(r.stdout);
  t.comment(`${N} hosts in ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${r.code}, ${json.global_success_hosts} ok, ${json.global_fail_hosts} failed, peak RSS ${json.peak_rss_mb} MB`);
  t.same(statusProblems(json, hosts), []);
  t.equal(json.global_success_hosts + json.global_fail_hosts + json.sapi_hosts + json.not_started_hosts, N, 'the counts add up to the inventory');
  const db = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  const rows = db.prepare('SELECT h.name, a.outcome, a.code FROM attempts a JOIN hosts h ON h.id = a.host_id WHERE a.run_id = ?').all(json.run_id) as { name: string; outcome: string; code: string | null }[];
  t.equal(rows.length, N, 'one attempt row per attempted host');
  const failures = json.failures as Record<string, { outcome: string; code: string }>;
  const success = new Set(json.global_success_hosts_list as string[]);
  let disagree = 0;
  for (const row of rows) {
    const ok = row.outcome === 'ok' || row.outcome === 'partial';
    if (ok !== success.has(row.name)) disagree++;
    else if (!ok && (failures[row.name]?.outcome !== row.outcome || failures[row.name]?.code !== row.code)) disagree++;
  }
  t.equal(disagree, 0, 'the attempts table agrees with the JSON host by host');
  const healthy = hosts.filter((h) => !faults[h]);
  const missed = healthy.filter((h) => !success.has(h));
  t.same(missed.slice(0, 10), [], `every one of the ${healthy.length} healthy hosts succeeded (${missed.length} did not)`);
  for (const [h, f] of Object.entries(faults)) {
    if (['refuse', 'hang', 'banner-hang', 'auth-reject', 'wrong-hostkey', 'channel-refuse'].includes(f.kind)) t.ok(failures[h], `${h} (${f.kind}) failed`);
  }
});
