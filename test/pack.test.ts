// The packed tarball installs with `npm install -g` into a fresh prefix and gives a working
// `jellyfish` on PATH (native modules built, every command's --help, a real run).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { writeEnv } from './helpers/run-env.js';

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('npm pack, npm install -g --prefix, run', { timeout: 600_000 }, async (t) => {
  if (spawnSync('npm', ['--version']).error) {
    t.skip('npm not available');
    return;
  }
  const dir = t.testdir();
  // --ignore-scripts: dist/ is already built by pretest; rebuilding it here would race other test files.
  const pack = await sh('npm', ['pack', '--ignore-scripts', '--pack-destination', dir]);
  t.equal(pack.code, 0, pack.stderr);
  const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
  t.ok(tarball, 'a tarball was written');
  // README links into docs/, and the licence travels with the code.
  const listing = await sh('tar', ['tzf', path.join(dir, tarball as string)]);
  t.match(listing.stdout, /^package\/LICENSE$/m, 'LICENSE is packed');
  t.match(listing.stdout, /^package\/docs\/operators\.md$/m, 'docs/ is packed');
  const prefix = path.join(dir, 'prefix');
  const install = await sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', path.join(dir, tarball as string)]);
  t.equal(install.code, 0, install.stderr.slice(-3000));
  const bin = path.join(prefix, 'bin', 'jellyfish');
  const env = { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}` };
  const version = await sh('jellyfish', ['--version'], { env });
  t.equal(version.stdout.trim(), JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
  for (const cmd of ['run', 'gap-fix', 'doctor']) {
    const help = await sh(bin, [cmd, '--help']);
    t.equal(help.code, 0, `${cmd} --help`);
    t.match(help.stdout, new RegExp(`Usage: jellyfish ${cmd}`));
  }
  const fleet = await startFleet({ count: 2, base: '127.37.3.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: fleet.hosts.map((h) => `${h.address},web,ams,prod`) });
  // The installed copy's own collector.ini, not the checkout's.
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), fs.readFileSync(path.join(dir, 'scheduler.ini'), 'utf8').replace(/^collconfig = .*\n/m, ''));
  const run = await sh('jellyfish', ['run', '-c', 'scheduler.ini'], { cwd: dir, env });
  t.equal(run.code, 0, run.stderr);
  t.equal(JSON.parse(run.stdout).global_success_hosts, 2);
});
