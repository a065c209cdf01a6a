// Security promises: host-key policies, file modes, no secrets in any output, hostile fact values
// stored verbatim and never executed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { PassThrough } from 'node:stream';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { trustWarnings } from '../src/app/trust-warnings.js';
import { loadConfig } from '../src/config/load.js';
import { writeEnv } from './helpers/run-env.js';

/** A stderr stand-in (no TTY) that keeps what was written. */
function logStream() {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => { out += d; });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => out };
}

const BIN = path.resolve('bin/jellyfish');
function jf(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('host key policies', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 2, base: '127.36.6.1', port: 2222, dir, faults: { '127.36.6.2': { kind: 'wrong-hostkey' } } });
  t.teardown(() => fleet.close());
  const rows = fleet.hosts.map((h) => `${h.address},web,ams,prod`);
  const empty = path.join(dir, 'empty_known_hosts');
  fs.writeFileSync(empty, '');
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: empty, port: 2222, rows, ini: { paramiko: { host_key_policy: 'strict', known_hosts: empty } } });
  const strict = JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout);
  t.equal(strict.global_success_hosts, 0, 'strict refuses hosts not in known_hosts');
  t.match(strict.failures['127.36.6.1'].message, /not in .* \(host_key_policy = strict\)/);
  t.equal(fs.readFileSync(empty, 'utf8'), '', 'strict writes nothing');

  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { host_key_policy: 'accept-new' } } });
  const acceptNew = JSON.parse((await jf(['run', '-c', 'scheduler.ini'], dir)).stdout);
  t.same(acceptNew.global_success_hosts_list, ['127.36.6.1']);
  t.equal(acceptNew.failures['127.36.6.2'].code, 'HOSTKEY', 'accept-new refuses a changed key');

  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows, ini: { paramiko: { host_key_policy: 'off' } } });
  for (let i = 0; i < 2; i++) {
    const off = await jf(['run', '-c', 'scheduler.ini'], dir);
    t.match(off.stderr, /host_key_policy = off: host keys are NOT verified/, `off warns on run ${i + 1}`);
    t.equal(JSON.parse(off.stdout).global_success_hosts, 2);
  }
});

t.test('file modes, secrets, hostile values', async (t) => {
  const dir = t.testdir();
  const canary = `/tmp/jf-pwned-${process.pid}`;
  const fleet = await startFleet({
    count: 1, base: '127.36.7.1', port: 2222, dir,
    outputs: { rkernel: `'; DROP TABLE facts; --\n`, memory: `MemTotal $(touch ${canary})\nSwapTotal \`touch ${canary}\`\n` },
  });
  t.teardown(() => fleet.close());
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.36.7.1,web,ams,prod'],
    ini: { GLOBAL: { lockfile: 'state/jf.lock' }, storage: { database: 'state/db/jf.db' }, results: { output_json_file: 'true', result_json: 'state/out/result.json' } },
  });
  const r = await jf(['run', '-c', 'scheduler.ini', '-V'], dir);
  t.equal(r.code, 0, r.stderr);
  const mode = (p: string) => fs.statSync(path.join(dir, p)).mode & 0o777;
  t.equal(mode('state/db/jf.db'), 0o600, 'database 0600');
  t.equal(mode('state/db'), 0o700, 'database folder 0700');
  t.equal(mode('state/out/result.json'), 0o600, 'result JSON 0600');
  t.equal(mode('state/out'), 0o700, 'result folder 0700');
  t.equal(mode('state'), 0o700, 'lock folder 0700');
  for (const side of ['-wal', '-shm']) {
    if (fs.existsSync(path.join(dir, `state/db/jf.db${side}`))) t.equal(mode(`state/db/jf.db${side}`), 0o600, `jf.db${side} 0600`);
  }

  // No key material anywhere we write: stdout, stderr, JSON file, database.
  const keyText = fs.readFileSync(fleet.userKeyPath, 'utf8');
  const body = keyText.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const db = new Database(path.join(dir, 'state/db/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  const dump = JSON.stringify(db.prepare('SELECT * FROM facts').all()) + JSON.stringify(db.prepare('SELECT * FROM runs').all()) + JSON.stringify(db.prepare('SELECT * FROM attempts').all());
  for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['result.json', fs.readFileSync(path.join(dir, 'state/out/result.json'), 'utf8')], ['database', dump]] as const) {
    t.notOk(text.includes('PRIVATE KEY'), `${where}: no PEM header`);
    t.notOk(text.includes(body.slice(0, 40)), `${where}: no key body`);
  }

  const fact = (type: string, subtype: string) => (db.prepare("SELECT value FROM facts f JOIN hosts h ON h.id = f.host_id WHERE f.type = ? AND f.subtype = ? AND f.is_current = 1").get(type, subtype) as { value: string }).value;
  t.equal(fact('rkernel', 'default'), `'; DROP TABLE facts; --`, 'SQL syntax stored verbatim');
  t.equal(fact('memory', 'MemTotal'), `$(touch ${canary})`, 'shell syntax stored verbatim');
  t.equal(fact('memory', 'SwapTotal'), `\`touch ${canary}\``);
  t.notOk(fs.existsSync(canary), 'and never executed');
  const q = await jf(['query', '-c', 'scheduler.ini', '--type', 'rkernel', '--like', "'; DROP%"], dir);
  t.match(q.stdout, /DROP TABLE facts/, 'queried back through parameterised SQL');
  t.ok(db.prepare("SELECT name FROM sqlite_master WHERE name = 'facts'").get(), 'the facts table is still there');
});

t.test('result JSON and metrics never follow a planted link; a folder others can write warns once', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 1, base: '127.80.0.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const shared = path.join(dir, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o777);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: ['127.80.0.1,web,ams,prod'],
    ini: { GLOBAL: { lockfile: 'shared/jf.lock' }, storage: { database: 'shared/jf.db' }, results: { output_json_file: 'true', result_json: 'out/result.json', metrics_file: 'out/jf.prom' } },
  });
  const config = loadConfig({ file: env.ini });
  fs.mkdirSync(path.join(dir, 'out'), { mode: 0o700 });
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious\n');
  // The names the old code wrote through: `${file}.${pid}.tmp` of this very process.
  for (const f of ['out/result.json', 'out/jf.prom']) fs.symlinkSync(victim, path.join(dir, `${f}.${process.pid}.tmp`));
  const f = logStream();
  const run = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false, f.stream), lockFile: config.lockfile, threads: 4, limitMs: 30_000 });
  t.equal(run.exitCode, 0, f.text());
  t.equal(fs.readFileSync(victim, 'utf8'), 'precious\n', 'the link target is untouched');
  t.equal(JSON.parse(fs.readFileSync(path.join(dir, 'out/result.json'), 'utf8')).run_id, run.json.run_id, 'the result JSON is written');
  t.match(fs.readFileSync(path.join(dir, 'out/jf.prom'), 'utf8'), /jellyfish_/, 'the metrics file is written');
  t.equal(fs.statSync(path.join(dir, 'out/result.json')).mode & 0o777, 0o600);
  t.same(fs.readdirSync(path.join(dir, 'out')).filter((n) => n.endsWith('.tmp') && !n.includes(`.${process.pid}.`)), [], 'no temp file left');
  const warned = f.text().split('\n').filter((l) => l.includes('writable by other users'));
  t.equal(warned.length, 1, `one warning for the one folder: ${f.text()}`);
  t.match(warned[0], `${shared}: the folder of the database, the lock file is writable by other users without the sticky bit (mode 0777)`);
  t.same(trustWarnings(config), warned.map((l) => l.replace('jellyfish: warning: ', '')), 'the same lines, from one function');

  fs.chmodSync(shared, 0o1777);
  t.same(trustWarnings(config), [], 'the sticky bit (as on /tmp) makes it safe');
  fs.chmodSync(shared, 0o775);
  t.same(trustWarnings(config), [], 'not writable by others: no warning');
});
