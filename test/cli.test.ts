// The real binary, as cron runs it: exit codes and the JSON on stdout (dist/ is built by `pretest`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { generateKeyPair, startFleet } from '../fixtures/fleet/fleet.mjs';
import { acquireLock } from '../src/lock/run-lock.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');
const CHECKER = path.resolve('../shared/tools/check-status-json.py');

interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** `killOn`: send the signal once stderr shows this (a point the run has surely reached), not after a guessed time. */
function run(args: string[], opts: { cwd: string; killAfterMs?: number; killOn?: RegExp; signal?: NodeJS.Signals } ): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (opts.killOn && !sent && opts.killOn.test(stderr)) { sent = true; child.kill(opts.signal ?? 'SIGTERM'); }
    });
    if (opts.killAfterMs) setTimeout(() => child.kill(opts.signal ?? 'SIGTERM'), opts.killAfterMs);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('run: success, JSON only on stdout, -V lines on stderr', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 6, base: '127.31.0.1', port: 2222, dir, faults: { '127.31.0.6': { kind: 'refuse' } } });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`) });
  const r = await run(['run', '-c', 'scheduler.ini', '-V'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  t.same(statusProblems(json, labels), []);
  t.equal(json.global_success_hosts, 5);
  t.same(json.global_fail_hosts_list, ['127.31.0.6']);
  t.equal(json.failures['127.31.0.6'].code, 'ECONNREFUSED');
  t.equal(json.mode, 'run');
  t.match(r.stderr, /\[\d+\/6\] 127\.31\.0\.1 ok/);
  if (fs.existsSync(CHECKER)) {
    const check = spawnSync('python3', [CHECKER, path.join(dir, 'server4.csv')], { input: r.stdout });
    t.equal(check.status, 0, `shared checker: ${check.stdout}`);
  }
  const compact = await run(['run', '-c', 'scheduler.ini', '--compact'], { cwd: dir });
  t.equal(compact.stdout.trim().split('\n').length, 1, '--compact prints one line');
  t.equal(compact.stderr, '', 'nothing on stderr in cron mode when all is well apart from failed hosts');
});

t.test('run: the deadline ends a run of hung hosts with exit 2 and Timeout', async (t) => {
  const dir = t.testdir();
  const faults = Object.fromEntries(['127.31.1.1', '127.31.1.2', '127.31.1.3'].map((a) => [a, { kind: 'hang' as const }]));
  faults['127.31.1.4'] = { kind: 'cmd-hang' } as never;
  const fleet = await startFleet({ count: 6, base: '127.31.1.1', port: 2222, dir, faults });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { paramiko: { connect_timeout: '60s' }, collector: { threads: '4', threadtimeout: '3s', host_timeout: '5m' } },
  });
  const r = await run(['run', '-c', 'scheduler.ini', '--order', 'file'], { cwd: dir });
  t.equal(r.code, 2, r.stderr);
  t.ok(r.ms < 3_000 + 5_000 + 2_000, `exited ${r.ms} ms after start (limit 3 s)`);
  const json = JSON.parse(r.stdout);
  t.match(json.Timeout, /^Timeout reached at 3\.0 seconds with 2 items left on the queue\.$/);
  t.same(statusProblems(json, labels), []);
  t.equal(json.not_started_hosts, 2);
  t.same(Object.values(json.failures).map((f) => (f as { code: string }).code), ['DEADLINE', 'DEADLINE', 'DEADLINE', 'DEADLINE']);
  t.notOk(fs.existsSync(path.join(dir, 'var/jf.lock.lock')), 'lock released');
});

t.test('run: SIGTERM prints the JSON, releases the lock, exits 143', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 3, base: '127.31.2.1', port: 2222, dir, faults: { '127.31.2.1': { kind: 'hang' }, '127.31.2.2': { kind: 'cmd-hang' } } });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { paramiko: { connect_timeout: '60s' }, collector: { threadtimeout: '10m', host_timeout: '5m' } },
  });
  // 127.31.2.3 answers: once it has, the run holds the lock and the hung host is in flight.
  const r = await run(['run', '-c', 'scheduler.ini', '-V'], { cwd: dir, killOn: /127\.31\.2\.3 ok/ });
  t.equal(r.code, 143, r.stderr);
  const json = JSON.parse(r.stdout);
  t.match(json.Interrupted, /^SIGTERM at \d+\.\d seconds$/);
  t.same(statusProblems(json, labels), []);
  t.equal(json.failures['127.31.2.1'].code, 'INTERRUPTED');
  t.notOk(fs.existsSync(path.join(dir, 'var/jf.lock.lock')), 'lock released');
});

/**
 * What bin/jellyfish does, with a signal delivered after its trap and before the program has
 * loaded: deterministic, where timing a kill against the module loader is not.
 */
function runSignalledWhileLoading(args: string[], cwd: string, signal: NodeJS.Signals): Promise<Ran> {
  const dist = (f: string) => JSON.stringify(new URL(`../dist/${f}`, import.meta.url).href);
  const script = `
    const early = await import(${dist('app/early-signals.js')});
    early.trapEarlySignals();
    process.kill(process.pid, ${JSON.stringify(signal)});
    await new Promise((r) => setTimeout(r, 50));
    process.argv = [process.argv[0], ${JSON.stringify(BIN)}, ...${JSON.stringify(args)}];
    await import(${dist('cli/main.js')});
  `;
  const started = Date.now();
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
    delete env.NODE_OPTIONS; // tap's preload catches signals itself; cron's node does not
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code, sig) => resolve({ code, signal: sig, stdout, stderr, ms: Date.now() - started }));
  });
}

t.test('a signal while the program is still loading: a run prints its JSON, other commands stop with 143', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 2, base: '127.31.2.11', port: 2222, dir });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`) });
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    const r = await runSignalledWhileLoading(['run', '-c', 'scheduler.ini'], dir, signal);
    t.equal(r.code, code, `${signal}: ${r.stderr}`);
    const json = JSON.parse(r.stdout);
    t.match(json.Interrupted, new RegExp(`^${signal} at \\d+\\.\\d seconds$`));
    t.equal(json.exit_code, code);
    t.same(statusProblems(json, labels), [], 'every host in a list');
    t.notOk(fs.existsSync(path.join(dir, 'var/jf.lock.lock')), 'lock released');
  }
  const hosts = await runSignalledWhileLoading(['hosts', '-c', 'scheduler.ini'], dir, 'SIGTERM');
  t.equal(hosts.code, 143, 'a read command stops before doing anything');
  t.equal(hosts.stdout, '');
  const list = await runSignalledWhileLoading(['gap-fix', '--list', '-c', 'scheduler.ini'], dir, 'SIGTERM');
  t.equal(list.code, 143, 'gap-fix --list answers, then exits 143');
});

t.test('run: a held lock exits 75 at once with the holder', async (t) => {
  const dir = t.testdir();
  const key = path.join(dir, 'id');
  fs.writeFileSync(key, generateKeyPair().private, { mode: 0o600 });
  writeEnv({ dir, keyPath: key, knownHosts: 'kh', port: 2222, rows: ['127.31.3.1,web,ams,prod'] });
  const lock = await acquireLock(path.join(dir, 'var/jf.lock'), 'run', () => {});
  t.teardown(() => lock.release());
  const r = await run(['run', '-c', 'scheduler.ini'], { cwd: dir });
  t.equal(r.code, 75);
  const json = JSON.parse(r.stdout);
  t.equal(json.locked, true);
  t.equal(json.holder.pid, process.pid);
  t.ok(r.ms < 10_000);
});

t.test('run: config, inventory and usage errors', async (t) => {
  const dir = t.testdir({ 'id': '' });
  fs.chmodSync(path.join(dir, 'id'), 0o600);
  writeEnv({ dir, keyPath: path.join(dir, 'id'), knownHosts: 'kh', port: 2222, rows: ['short,row', ',a,b,c'] });
  const badCsv = await run(['run', '-c', 'scheduler.ini'], { cwd: dir });
  t.equal(badCsv.code, 65, badCsv.stderr);
  t.match(badCsv.stderr, /server4\.csv: no valid host row/);
  t.equal(badCsv.stdout, '');

  const badFlag = await run(['run', '-c', 'scheduler.ini', '--threads', 'lots'], { cwd: dir });
  t.equal(badFlag.code, 64, 'a bad flag value is a usage error, not a config error');
  t.match(badFlag.stderr, /--threads: \[collector\] threads = 'lots': expected a whole number/);

  fs.appendFileSync(path.join(dir, 'scheduler.ini'), '\n[collector]\nthreds = 4\n');
  const badIni = await run(['run', '-c', 'scheduler.ini'], { cwd: dir });
  t.equal(badIni.code, 78);
  t.match(badIni.stderr, /scheduler\.ini:\d+: unknown key 'threds'/);

  const missing = await run(['run', '-c', 'nope.ini'], { cwd: dir });
  t.equal(missing.code, 78);
  t.match(missing.stderr, /nope\.ini: cannot read/);

  const usage = await run(['run', '--bogus'], { cwd: dir });
  t.equal(usage.code, 64);
  t.match(usage.stderr, /unknown option/);
  // One line and a pointer, not the whole help.
  t.match(usage.stderr, /see `jellyfish run --help`/);
  t.notMatch(usage.stderr, /Usage:/);
  t.ok(usage.stderr.trim().split('\n').length <= 3, usage.stderr);

  const version = await run(['--version'], { cwd: dir });
  t.equal(version.code, 0);
  t.match(version.stdout, /^\d+\.\d+\.\d+/);

  const help = await run(['run', '--help'], { cwd: dir });
  t.equal(help.code, 0);
  t.match(help.stdout, /--threadtimeout <duration>/);
  t.match(help.stdout, /Exit codes/);
});

t.test('a group-readable key is refused like OpenSSH does', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 1, base: '127.31.4.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  fs.chmodSync(fleet.userKeyPath, 0o640);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.31.4.1,web,ams,prod'] });
  const r = await run(['run', '-c', 'scheduler.ini'], { cwd: dir });
  t.equal(r.code, 78);
  t.match(r.stderr, /accessible by group or others \(mode 0640\)/);
  t.notMatch(r.stderr + r.stdout, /PRIVATE KEY/, 'no key material in output');
});

t.test('after kill -9 of a run, the next run takes the lock over and the database is intact', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 4, base: '127.31.5.1', port: 2222, dir, faults: { '127.31.5.1': { kind: 'hang' } } });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { paramiko: { connect_timeout: '60s' }, collector: { threadtimeout: '10m' } },
  });
  const killed = await run(['run', '-c', 'scheduler.ini', '-V'], { cwd: dir, killOn: /127\.31\.5\.\d ok/, signal: 'SIGKILL' });
  t.equal(killed.signal, 'SIGKILL');
  t.ok(fs.existsSync(path.join(dir, 'var/jf.lock.lock')), 'the killed run left its lock behind');
  const started = Date.now();
  const next = await run(['run', '-c', 'scheduler.ini', '--threadtimeout', '3s'], { cwd: dir });
  const json = JSON.parse(next.stdout);
  t.equal(next.code, 2, `${next.stderr} ${JSON.stringify(json.failures)}`);
  t.ok(Date.now() - started < 60_000, 'the next run started within 60 s');
  t.same(statusProblems(json, labels), []);
  const db = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const runs = db.prepare('SELECT id, finished_at FROM runs ORDER BY id').all() as { id: number; finished_at: string | null }[];
  t.equal(runs.length, 2);
  t.equal(runs[0]?.finished_at, null, 'the killed run never finished');
  t.ok(runs[1]?.finished_at);
});
