#!/usr/bin/env node
// `npm start`: start the fixture fleet in the background, run a real `jellyfish run` against it
// with the root scheduler.ini and server4.csv, print the status JSON, stop the fleet.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demoDir = path.join(root, 'var', 'demo');
fs.mkdirSync(demoDir, { recursive: true, mode: 0o700 });

// The demo fleet is not all alike, and it changes between nights: on the first `npm start` four
// hosts are held back on older openssl builds and two are RHEL 9 hosts; from the second on (the
// database exists), one of the four was upgraded, one host booted a new kernel, one upgraded curl
// and one removed vim, so `jellyfish changes --since 24h` has something to show.
const second = fs.existsSync(path.join(root, 'var', 'jellyfish.db'));
const profileFile = (profile, type) => path.join(root, 'fixtures/outputs', profile, `${type}.txt`);
/** A profile's `name version` list with some names set to another version (null removes the name). */
function withVersions(profile, type, versions) {
  const file = profileFile(profile, type);
  if (!fs.existsSync(file)) return undefined;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const kept = lines.filter((l) => !(l.split(' ')[0] in versions));
  for (const [name, version] of Object.entries(versions)) if (version !== null && lines.some((l) => l.split(' ')[0] === name)) kept.push(`${name} ${version}`);
  return `${kept.sort().join('\n')}\n`;
}
function debianHost(versions, extra = {}) {
  const out = { ...extra };
  for (const type of ['packages', 'package-sources']) {
    const text = withVersions('debian12', type, versions);
    if (text !== undefined) out[type] = text;
  }
  return out;
}
const rhel9 = Object.fromEntries(fs.readdirSync(path.join(root, 'fixtures/outputs/rhel9'))
  .filter((f) => f.endsWith('.txt')).map((f) => [f.slice(0, -4), fs.readFileSync(path.join(root, 'fixtures/outputs/rhel9', f), 'utf8')]));
const openssl = (v) => ({ openssl: v, libssl3: v });
const overrides = {
  '127.1.0.7': debianHost(openssl(second ? '3.0.19-1~deb12u2' : '3.0.15-1~deb12u1')),
  '127.1.0.11': debianHost(openssl('3.0.11-1~deb12u2')),
  '127.1.0.15': debianHost(openssl('3.0.15-1~deb12u1')),
  '127.1.0.19': debianHost(openssl('3.0.15-1~deb12u1')),
  '127.1.0.17': rhel9,
  '127.1.0.18': rhel9,
  ...(second ? {
    '127.1.0.3': { rkernel: '6.18.45-fc-v671\n' },
    '127.1.0.5': debianHost({ curl: '7.88.1-10+deb12u15', libcurl4: '7.88.1-10+deb12u15' }),
    '127.1.0.9': { packages: withVersions('debian12', 'packages', { vim: null, 'vim-runtime': null }) },
  } : {}),
};
const outputsFile = path.join(demoDir, 'outputs.json');
fs.writeFileSync(outputsFile, JSON.stringify(overrides), { mode: 0o600 });

const fleet = spawn(process.execPath, [
  path.join(root, 'fixtures/fleet/fleet.mjs'),
  '--count', '24', '--base', '127.1.0.1', '--port', '2222',
  '--dir', demoDir, '--faults', path.join(root, 'fixtures/demo-faults.json'), '--outputs', outputsFile,
], { stdio: ['pipe', 'pipe', 'inherit'] });

const ready = await new Promise((resolve) => {
  const rl = readline.createInterface({ input: fleet.stdout });
  rl.once('line', (line) => {
    try { resolve(JSON.parse(line)); } catch { resolve(undefined); }
  });
  fleet.once('exit', () => resolve(undefined));
});
if (!ready?.ready) {
  process.stderr.write('demo: the fixture fleet did not start\n');
  process.exit(70);
}
process.stderr.write(`demo: fixture fleet of ${ready.hosts} hosts on 127.1.0.1-24:2222 is up; running jellyfish run -V\n`);

const run = spawn(process.execPath, [path.join(root, 'bin/jellyfish'), 'run', '-c', 'scheduler.ini', '-b', 'server4.csv', '-V'], {
  cwd: root, stdio: ['ignore', 'inherit', 'inherit'],
});
const code = await new Promise((resolve) => run.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 70))));
fleet.stdin.end();
fleet.kill('SIGTERM');
process.stderr.write(`demo: jellyfish exited ${code}; the database is var/jellyfish.db, the JSON also in var/sched_output.json\n`);
// The demo fleet has broken hosts on purpose; anything but a crash, usage or setup error is a good demo.
process.exit([0, 1, 2].includes(code) ? 0 : code);
