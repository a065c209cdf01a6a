// 1,000 fixture hosts, 5 % of them accept and never answer, threadtimeout 20 s: the run must end
// with exit 2 within 25 s, Timeout in the JSON, and every host in exactly one list.
import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { statusProblems, writeEnv } from './helpers/run-env.js';
import { startFleetProcess } from './helpers/fleet-process.js';

function addresses(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const x = Math.floor(i / 254);
    const y = (i % 254) + 1;
    out.push(`127.32.${x}.${y}`);
  }
  return out;
}

t.test('deadline at scale', { timeout: 120_000 }, async (t) => {
  const dir = t.testdir();
  const hosts = addresses(1000);
  const faults: Record<string, { kind: string }> = {};
  hosts.forEach((h, i) => { if (i % 20 === 7) faults[h] = { kind: 'hang' }; });
  const fleet = await startFleetProcess({ dir, count: 1000, base: '127.32.0.1', faults });
  t.teardown(() => fleet.stop());
  writeEnv({
    dir, keyPath: fleet.userKey, knownHosts: fleet.knownHosts, port: 2222,
    rows: hosts.map((h, i) => `${h},web,ams,${i % 3 ? 'spare' : 'prod'}`),
    // connect_timeout above the deadline: the hung hosts are still hanging when it hits.
    ini: { paramiko: { connect_timeout: '60s' }, collector: { threads: '256', workers: 'auto', threadtimeout: '20s', host_timeout: '5m' } },
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
  const took = Date.now() - started;
  t.equal(r.code, 2, r.stderr.slice(0, 2000));
  t.ok(took < 25_000, `exited after ${took} ms (limit 20 s + 5 s)`);
  const json = JSON.parse(r.stdout);
  t.match(json.Timeout, /^Timeout reached at 20\.0 seconds with \d+ items left on the queue\.$/);
  t.same(statusProblems(json, hosts), []);
  t.equal(json.global_success_hosts + json.global_fail_hosts + json.not_started_hosts + json.sapi_hosts, 1000);
  const failures = json.failures as Record<string, { code: string }>;
  for (const h of Object.keys(faults)) {
    if (failures[h]) t.equal(failures[h]?.code, 'DEADLINE', `${h} hung until the deadline`);
  }
  t.ok(json.global_success_hosts >= 900, `${json.global_success_hosts} hosts collected before the deadline`);
});
