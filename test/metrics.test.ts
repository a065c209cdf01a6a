// The Prometheus textfile: parsed back after real runs, one series set per mode.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { loadConfig } from '../src/config/load.js';
import { renderMetrics } from '../src/report/metrics.js';
import { writeEnv } from './helpers/run-env.js';

function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z_]+\{[^}]*\}) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

t.test('metrics file after a run and a gap-fix', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 3, base: '127.37.1.1', port: 2222, dir, faults: { '127.37.1.3': { kind: 'refuse' } } });
  t.teardown(() => fleet.close());
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222,
    rows: fleet.hosts.map((h, i) => `${h.address},web,ams,${i === 2 ? 'prod' : 'spare'}`),
    ini: { results: { metrics_file: 'metrics/jellyfish.prom' } },
  });
  const config = loadConfig({ file: env.ini });
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 30_000 });
  const file = path.join(dir, 'metrics/jellyfish.prom');
  const text = fs.readFileSync(file, 'utf8');
  t.equal(fs.statSync(file).mode & 0o777, 0o644, 'readable by the node_exporter user');
  const m = parse(text);
  t.equal(m.get('jellyfish_hosts{mode="run",outcome="ok"}'), 2);
  t.equal(m.get('jellyfish_hosts{mode="run",outcome="unreachable"}'), 1);
  t.equal(m.get('jellyfish_prod_failed_hosts{mode="run"}'), 1);
  t.equal(m.get('jellyfish_exit_code{mode="run"}'), r.exitCode);
  t.equal(m.get('jellyfish_deadline_hit{mode="run"}'), 0);
  t.ok((m.get('jellyfish_run_duration_seconds{mode="run"}') ?? -1) >= 0);
  t.match(text, /^# TYPE jellyfish_hosts gauge$/m);

  // A gap-fix keeps the run's series and adds its own.
  await collectRun({ mode: 'gap-fix', config, inventoryFile: env.csv, log: new Log(false), lockFile: path.join(dir, 'var/gap.lock'), threads: 2, limitMs: 30_000, select: (h) => h.slice(0, 1) });
  const both = parse(fs.readFileSync(file, 'utf8'));
  t.equal(both.get('jellyfish_hosts{mode="run",outcome="ok"}'), 2, 'run series kept');
  t.equal(both.get('jellyfish_hosts{mode="gap-fix",outcome="ok"}'), 1);
});

t.test('last success survives a failing run', async (t) => {
  const base = { mode: 'run', outcomes: { ok: 1 }, notStarted: 0, sapi: 0, failedProd: 0, invalidRows: 0, durationSeconds: 1, deadlineHit: false };
  const first = renderMetrics({ ...base, exitCode: 0, finishedAt: new Date('2026-11-24T02:00:00Z') });
  const second = renderMetrics({ ...base, exitCode: 1, finishedAt: new Date('2026-11-24T10:00:00Z') }, first);
  const m = parse(second);
  t.equal(m.get('jellyfish_last_success_timestamp_seconds{mode="run"}'), Date.parse('2026-11-24T02:00:00Z') / 1000);
  t.equal(m.get('jellyfish_last_run_timestamp_seconds{mode="run"}'), Date.parse('2026-11-24T10:00:00Z') / 1000);
});
