// Authentication through a real ssh-agent: no key file configured, SSH_AUTH_SOCK set.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { writeEnv } from './helpers/run-env.js';

function jf(cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve('bin/jellyfish'), 'run', '-c', 'scheduler.ini'], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('a run authenticated by ssh-agent', async (t) => {
  if (spawnSync('ssh-agent', ['-h']).error) {
    t.skip('ssh-agent is not installed');
    return;
  }
  const dir = t.testdir({ home: {} });
  const sock = path.join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  t.teardown(() => { agent.kill(); });
  for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  const fleet = await startFleet({ count: 2, base: '127.37.2.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const add = spawnSync('ssh-add', [fleet.userKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8' });
  t.equal(add.status, 0, add.stderr);
  writeEnv({ dir, keyPath: 'unused', knownHosts: fleet.knownHostsPath, port: 2222, rows: fleet.hosts.map((h) => `${h.address},web,ams,prod`) });
  // No paramiko_key: the agent is used (HOME points at an empty folder so no ~/.ssh/id_* is found).
  const ini = fs.readFileSync(path.join(dir, 'scheduler.ini'), 'utf8').replace(/^paramiko_key = .*\n/m, '');
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), ini);
  const env = { ...process.env, SSH_AUTH_SOCK: sock, HOME: path.join(dir, 'home'), CI: '1' };
  // Asynchronous spawn: the fixture fleet lives in this process and must keep answering.
  const run = await jf(dir, env);
  t.equal(run.status, 0, run.stderr);
  t.same(JSON.parse(run.stdout).global_success_hosts_list, fleet.hosts.map((h) => h.address));

  // Without the agent and without keys the run refuses to start, naming what is missing.
  const none = await jf(dir, { ...env, SSH_AUTH_SOCK: '' });
  t.equal(none.status, 78);
  t.match(none.stderr, /no SSH credentials/);
});
