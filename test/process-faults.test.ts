// Process-level faults: SIGINT mid-run, a tiny open-file limit with many pipelines, a database
// that is not a database or sits where nothing can be written, the lock removed under a live run.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { statusProblems, writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');
/** `killOn`: signal once stderr shows this (a point the run has surely reached), not after a guessed time. */
function jf(args: string[], cwd: string, o: { killAfterMs?: number; killOn?: RegExp; signal?: NodeJS.Signals; onStart?: () => void; shell?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = o.shell
      ? spawn('sh', ['-c', `${o.shell}; exec "$0" "$@"`, process.execPath, BIN, ...args], { cwd, env: { ...process.env, CI: '1' } })
      : spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (o.killOn && !sent && o.killOn.test(stderr)) { sent = true; child.kill(o.signal ?? 'SIGTERM'); }
    });
    if (o.killAfterMs) setTimeout(() => child.kill(o.signal ?? 'SIGTERM'), o.killAfterMs);
    o.onStart?.();
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A tmpfs of `size` for this test, unmounted at its end; undefined (and the test skipped) without
 * root. The mount point lives outside the test folder: tap removes that folder, which a mount blocks.
 */
function mountTmpfs(t: Test, size: string): string | undefined {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-fs-'));
  if (process.getuid?.() !== 0 || spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]).status !== 0) {
    fs.rmSync(mnt, { recursive: true, force: true });
    t.skip('needs root and tmpfs to make a small filesystem');
    return undefined;
  }
  t.teardown(() => {
    spawnSync('umount', ['-l', mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  });
  return mnt;
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('SIGINT mid-run: JSON, lock released, database intact, exit 130', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 6, base: '127.36.2.1', port: 2222, dir, faults: { '127.36.2.1': { kind: 'hang' }, '127.36.2.2': { kind: 'cmd-hang' } } });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`), ini: { paramiko: { connect_timeout: '60s' }, collector: { threadtimeout: '10m' } } });
  // Once the four answering hosts are in: the run holds the lock and the two hung ones are in flight.
  const r = await jf(['run', '-c', 'scheduler.ini', '-V'], dir, { killOn: /\[4\/6\]/, signal: 'SIGINT' });
  t.equal(r.code, 130, r.stderr);
  const json = JSON.parse(r.stdout);
  t.match(json.Interrupted, /^SIGINT at /);
  t.same(statusProblems(json, labels), []);
  t.notOk(fs.existsSync(path.join(dir, 'var/jf.lock.lock')));
  const db = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM attempts').get() as { n: number }).n, 6, 'every host has its attempt row');
});

t.test('ulimit -n 256 with threads = 1024: clamped with a warning, no EMFILE', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 300, base: '127.36.3.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`), ini: { paramiko: { connect_timeout: '30s' }, collector: { threads: '1024', workers: '1', host_timeout: '2m', threadtimeout: '5m' } } });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir, { shell: 'ulimit -n 256' });
  t.equal(r.code, 0, r.stderr.slice(0, 500));
  t.match(r.stderr, /threads = 1024 does not fit the open-file limit \(ulimit -n 256\): using \d+/);
  const json = JSON.parse(r.stdout);
  // Generous timeouts: 150 sessions at once on a loaded 2-core machine are slow, not broken.
  t.equal(json.global_success_hosts, 300, JSON.stringify(json.failures).slice(0, 500));
  t.notMatch(r.stdout + r.stderr, /EMFILE/);
});

t.test('a database that is not SQLite, or cannot be written: exit 74 with the path', async (t) => {
  const dir = t.testdir({ 'not-a-db': 'hello, this is not SQLite\n'.repeat(200), blocker: 'a file where a folder should be' });
  const fleet = await startFleet({ count: 1, base: '127.36.4.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.36.4.1,web,ams,prod'], ini: { storage: { database: path.join(dir, 'not-a-db') } } });
  const r1 = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r1.code, 74);
  t.match(r1.stderr, /not-a-db: cannot open the database: SQLITE_NOTADB/);
  t.notOk(fs.existsSync(path.join(dir, 'var/jf.lock.lock')), 'the lock is released');
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.36.4.1,web,ams,prod'], ini: { storage: { database: path.join(dir, 'blocker', 'jf.db') } } });
  const r2 = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r2.code, 74);
  t.match(r2.stderr, /blocker\/jf\.db: cannot open the database/);
});

t.test('the lock directory removed under a live run: ends cleanly, never a crash', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 3, base: '127.36.5.1', port: 2222, dir, faults: { '127.36.5.1': { kind: 'hang' } } });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`), ini: { paramiko: { connect_timeout: '60s' }, collector: { threadtimeout: '2m' } } });
  const lockDir = path.join(dir, 'var/jf.lock.lock');
  const r = await jf(['run', '-c', 'scheduler.ini'], dir, {
    onStart: () => {
      const poll = setInterval(() => {
        if (fs.existsSync(lockDir)) { clearInterval(poll); setTimeout(() => fs.rmSync(lockDir, { recursive: true, force: true }), 500); }
      }, 50);
    },
  });
  t.equal(r.code, 75, r.stderr);
  t.match(r.stderr, /the lock was lost mid-run/);
  t.notMatch(r.stderr, /internal error/);
  const json = JSON.parse(r.stdout);
  t.match(json.Interrupted, /^run lock lost at /);
  t.same(statusProblems(json, labels), []);
});

t.test('the database on a full filesystem: exit 74, JSON printed, no half-written batch', async (t) => {
  const dir = t.testdir();
  const mnt = mountTmpfs(t, '400k');
  if (!mnt) return;
  const fleet = await startFleet({ count: 30, base: '127.36.8.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  // The shipped collections: ~900 facts per host, far more than 400 KB for 30 hosts.
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { storage: { database: path.join(mnt, 'jf.db') } },
    collectors: fs.readFileSync(path.resolve('config/collector.ini'), 'utf8'),
  });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 74, r.stderr.slice(0, 400));
  t.match(r.stderr, /jf\.db: cannot store a batch of \d+ host results \(nothing of it was written\): SQLITE_FULL/);
  const json = JSON.parse(r.stdout);
  t.equal(json.exit_code, 74);
  t.same(statusProblems(json, labels), []);
  t.notOk(fs.existsSync(path.join(dir, 'var/jf.lock.lock')), 'lock released');
  spawnSync('mount', ['-o', 'remount,size=64m', mnt]);
  const db = new Database(path.join(mnt, 'jf.db'), { readonly: true });
  try {
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the database is intact');
    const attempts = (db.prepare('SELECT COUNT(*) AS n FROM attempts').get() as { n: number }).n;
    const factHosts = (db.prepare('SELECT COUNT(DISTINCT host_id) AS n FROM facts').get() as { n: number }).n;
    t.equal(factHosts, attempts, 'facts exist exactly for the hosts whose attempt rows were committed');
  } finally {
    db.close();
  }
});

t.test('the database on a read-only filesystem: exit 74 naming the file and why, lock released', async (t) => {
  const dir = t.testdir();
  const mnt = mountTmpfs(t, '8m');
  if (!mnt) return;
  const fleet = await startFleet({ count: 2, base: '127.36.9.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { storage: { database: path.join(mnt, 'db', 'jf.db') } },
  });
  const first = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(first.code, 0, first.stderr);
  t.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0, 'remounted read-only');
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 74, r.stderr);
  t.match(r.stderr, /db\/jf\.db: cannot open the database: .*\(.*\/db is on a read-only file system\)/);
  t.notMatch(r.stderr, /internal error|\n\s+at /, 'a message, not a stack');
  t.notOk(fs.existsSync(path.join(dir, 'var/jf.lock.lock')), 'lock released');
});
