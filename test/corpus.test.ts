// The hostile input corpus (test/corpus/): every CSV and INI file gets its expected exit code and
// a message that names the file and, where there is one, the line. Nothing crashes (exit 70).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateKeyPair } from '../fixtures/fleet/fleet.mjs';

const BIN = path.resolve('bin/jellyfish');
const CORPUS = path.resolve('test/corpus');
const expected = JSON.parse(fs.readFileSync(path.join(CORPUS, 'expected.json'), 'utf8')) as Record<string, { exit: number; stderr?: string }>;

function jf(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1', HOME: cwd } });
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

t.test('corpus', async (t) => {
  const dir = t.testdir({ keydir: {} });
  const key = path.join(dir, 'id_ed25519');
  fs.writeFileSync(key, generateKeyPair().private, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'known_hosts'), '');
  fs.writeFileSync(path.join(dir, 'valid.csv'), '127.39.0.1:1,web,ams,prod\n');
  fs.writeFileSync(path.join(dir, 'bad-collector.ini'), '[packages]\ncollection = dpkg -l\nmulti = sometimes\n');
  const fill = (text: string, csv: string) => text
    .replaceAll('@KEYDIR@', path.join(dir, 'keydir')).replaceAll('@KEY@', key).replaceAll('@KH@', path.join(dir, 'known_hosts'))
    .replaceAll('@CSV@', csv).replaceAll('@BADCOLL@', path.join(dir, 'bad-collector.ini'));
  const baseIni = (csv: string) => fill('[paramiko]\nparamiko_key = @KEY@\nknown_hosts = @KH@\nconnect_timeout = 2s\n[collector]\nservercsv = @CSV@\n[storage]\ndatabase = var/jf.db\n[GLOBAL]\nlockfile = var/jf.lock\n', csv);

  const files = fs.readdirSync(CORPUS).filter((f) => f !== 'expected.json');
  t.ok(files.length >= 30, `${files.length} corpus files`);
  for (const f of files) t.ok(expected[f], `${f} has an expectation`);

  for (const [name, want] of Object.entries(expected)) {
    const src = path.join(CORPUS, name);
    let args: string[];
    if (name.endsWith('.csv')) {
      fs.copyFileSync(src, path.join(dir, name));
      fs.writeFileSync(path.join(dir, 'scheduler.ini'), baseIni(path.join(dir, name)));
      args = ['run', '-c', 'scheduler.ini'];
    } else {
      const text = fs.readFileSync(src, 'latin1');
      fs.writeFileSync(path.join(dir, name), fill(text, path.join(dir, 'valid.csv')), 'latin1');
      args = ['run', '-c', name];
    }
    const r = await jf(args, dir);
    t.equal(r.code, want.exit, `${name}: exit ${want.exit} (stderr: ${r.stderr.slice(0, 300)})`);
    if (want.stderr) t.match(r.stderr, new RegExp(want.stderr), `${name}: message`);
    t.notMatch(r.stderr, /internal error|    at /, `${name}: no crash, no stack`);
    if (want.exit === 1) t.doesNotThrow(() => JSON.parse(r.stdout), `${name}: the status JSON is printed`);
  }
  t.notOk(fs.existsSync('/tmp/jf-pwned'), 'no hostname was ever run as a command or option');
  const unknownKey = await jf(['run', '-c', 'ini-unknown-key.ini'], dir);
  t.notMatch(unknownKey.stderr, /hunter2/, 'a value on a rejected line is not echoed');
});

t.test('generated: a 1 MB line, 100,000 rows, a directory, a missing file', async (t) => {
  const dir = t.testdir({ 'server-dir.csv': {} });
  const key = path.join(dir, 'id_ed25519');
  fs.writeFileSync(key, generateKeyPair().private, { mode: 0o600 });
  const ini = (csv: string) => `[paramiko]\nparamiko_key = ${key}\nknown_hosts = ${path.join(dir, 'kh')}\nconnect_timeout = 2s\n[collector]\nservercsv = ${csv}\n[storage]\ndatabase = var/jf.db\n[GLOBAL]\nlockfile = var/jf.lock\n`;

  fs.writeFileSync(path.join(dir, 'long.csv'), `${'x'.repeat(1024 * 1024)},web,ams,prod\n127.39.0.1:1,web,ams,prod\n`);
  fs.writeFileSync(path.join(dir, 'long.ini'), ini(path.join(dir, 'long.csv')));
  const long = await jf(['run', '-c', 'long.ini'], dir);
  t.equal(long.code, 1);
  t.match(long.stderr, /long\.csv:1: 'x{60}… \(1048576 characters\)' is not a valid hostname/);
  t.ok(long.stderr.length < 10_000, 'the 1 MB field is not echoed whole');

  fs.writeFileSync(path.join(dir, 'big.csv'), Array.from({ length: 100_000 }, (_, i) => `h${i}.example,web,ams,${i % 2 ? 'prod' : 'spare'}`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'big.ini'), ini(path.join(dir, 'big.csv')));
  const big = await jf(['doctor', '-c', 'big.ini', '--json'], dir);
  const inv = JSON.parse(big.stdout).checks.find((c: { name: string }) => c.name === 'inventory');
  t.match(inv.detail, /100000 hosts \(50000 prod\), 0 invalid rows/);

  fs.writeFileSync(path.join(dir, 'dir.ini'), ini(path.join(dir, 'server-dir.csv')));
  const d = await jf(['run', '-c', 'dir.ini'], dir);
  t.equal(d.code, 65);
  t.match(d.stderr, /server-dir\.csv: cannot read the inventory: is a directory/);

  fs.writeFileSync(path.join(dir, 'missing.ini'), ini(path.join(dir, 'nope.csv')));
  const m = await jf(['run', '-c', 'missing.ini'], dir);
  t.equal(m.code, 65);
  t.match(m.stderr, /nope\.csv: cannot read the inventory/);

  const iniDir = await jf(['run', '-c', 'server-dir.csv'], dir);
  t.equal(iniDir.code, 78);
  t.match(iniDir.stderr, /server-dir\.csv: cannot read: is a directory/);
  const iniMissing = await jf(['run', '-c', 'nothing.ini'], dir);
  t.equal(iniMissing.code, 78);
  t.match(iniMissing.stderr, /nothing\.ini: cannot read/);
});
