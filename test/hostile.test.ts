// Hosts that attack the collector: they may be compromised, so what they send must not exhaust
// its memory or time, forge another collection's frames, or reach the operator's terminal raw.
// Fixture hosts on 127.70.0.0/16; the nonce check runs on a real OpenSSH sshd.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { startSshd } from './helpers/sshd.js';
import { writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');

interface Ran { code: number | null; stdout: string; stderr: string; ms: number }

function jf(args: string[], cwd: string): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

interface Attempt { outcome: string; code: string | null; message: string | null; duration_ms: number; output_bytes: number }

function attempts(db: string): Map<string, Attempt> {
  const d = new Database(db, { readonly: true });
  try {
    const rows = d.prepare('SELECT h.name, a.* FROM attempts a JOIN hosts h ON h.id = a.host_id').all() as (Attempt & { name: string })[];
    return new Map(rows.map((r) => [r.name, r]));
  } finally {
    d.close();
  }
}

t.test('a marker and then endless bytes without a newline: cut at max_output, long before host_timeout', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({
    count: 3, base: '127.70.0.1', port: 2222, dir,
    faults: {
      '127.70.0.1': { kind: 'endless-marker', type: 'packages', marker: 'begin' },
      '127.70.0.2': { kind: 'endless-marker', type: 'packages', marker: 'end' },
    },
  });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  const HOST_S = 20;
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { collector: { workers: '1', host_timeout: `${HOST_S}s` }, storage: { max_output: '2MB' } },
  });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 0, r.stderr);
  const got = attempts(path.join(dir, 'var/jf.db'));
  for (const label of labels.slice(0, 2)) {
    const a = got.get(label) as Attempt;
    t.equal(a.outcome, 'partial', `${label}: ${a.message}`);
    t.equal(a.code, 'OUTPUT_CAP');
    t.equal(a.output_bytes, 2 * 1024 * 1024, 'every byte counted against max_output, the marker line included');
    t.ok(a.duration_ms < HOST_S * 1000 / 2, `${label} ended in ${a.duration_ms} ms (host_timeout ${HOST_S} s)`);
  }
  t.equal(got.get(labels[2] as string)?.outcome, 'ok', 'the healthy host beside them is unaffected');
  t.equal(fleet.stats().activeExecs, 0, 'nothing left running on the fixture hosts');
});

t.test('the nonce never shows in the host\'s process list (real sshd)', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir, address: '127.70.1.1' });
  if ('skip' in sshd) { t.skip(sshd.skip); return; }
  t.teardown(() => sshd.stop());
  writeEnv({
    dir, keyPath: sshd.keyPath, knownHosts: sshd.knownHostsPath, port: sshd.port, rows: [`${sshd.address},web,ams,prod`],
    ini: { paramiko: { paramiko_user: sshd.user } },
    // Every process's command line, while the collection script runs: ps and /proc, as any local user can.
    collectors: [
      '[ps]', 'collection = ps -eo args', '',
      '[cmdline]', "collection = for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < $f 2>/dev/null; echo; done", '',
      '[self]', 'collection = echo ok', '',
    ].join('\n'),
  });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 0, r.stderr);
  const d = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => d.close());
  const value = (type: string) => (d.prepare("SELECT value FROM facts WHERE type = ? AND subtype = 'default'").get(type) as { value: string } | undefined)?.value ?? '';
  t.equal(value('self'), 'ok', 'the collections ran');
  for (const type of ['ps', 'cmdline']) {
    const list = value(type);
    t.match(list, /ps -eo args|cmdline/, `${type}: the listing sees this session's own commands`);
    t.match(list, /\/bin\/sh -s/, `${type}: the script's shell is listed, with nothing but -s`);
    t.notMatch(list, /jellyfish-collect|@@|N=[0-9a-f]{16}/, `${type}: neither the script nor its nonce`);
  }
});
