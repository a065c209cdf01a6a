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

const fleet = spawn(process.execPath, [
  path.join(root, 'fixtures/fleet/fleet.mjs'),
  '--count', '24', '--base', '127.1.0.1', '--port', '2222',
  '--dir', demoDir, '--faults', path.join(root, 'fixtures/demo-faults.json'),
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
