// OpenSSH client config + ProxyJump: targets behind a fixture jump host, one jump connection
// shared by all of them, and a broken jump host reported with its own code.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { Log } from '../src/app/log.js';
import { collectRun } from '../src/app/run.js';
import { loadConfig } from '../src/config/load.js';
import { writeEnv } from './helpers/run-env.js';

t.test('targets through a jump host', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 6, base: '127.38.0.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const sshConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(sshConfig, [
    'Host 127.38.0.1',
    '  ProxyJump none',
    'Host 127.38.0.6',
    '  ProxyJump jumper@127.38.0.99:2222',
    'Host 127.38.0.*',
    '  ProxyJump 127.38.0.1:2222',
    '  User collector',
    '',
  ].join('\n'));
  const targets = fleet.hosts.slice(1).map((h) => h.address);
  const env = writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222,
    rows: targets.map((a) => `${a},web,ams,prod`),
    ini: { paramiko: { ssh_config: sshConfig }, collector: { workers: '1' } },
  });
  // The INI sets paramiko_user (writeEnv does): it wins over the config's User, as documented.
  const before = fleet.stats();
  const config = loadConfig({ file: env.ini });
  const r = await collectRun({ mode: 'run', config, inventoryFile: env.csv, log: new Log(false), lockFile: config.lockfile, threads: 8, limitMs: 60_000 });
  t.same(r.json.global_success_hosts_list, targets.slice(0, 4), 'the four hosts behind the good jump host');
  const failures = r.json.failures as Record<string, { code: string; message: string }>;
  t.equal(failures['127.38.0.6']?.code, 'JUMP');
  t.match(failures['127.38.0.6']?.message, /jump host jumper@127\.38\.0\.99:2222/);
  const after = fleet.stats();
  t.equal(after.tcpip - before.tcpip, 4, 'one forwarded channel per target');
  t.equal(after.sshConnections - before.sshConnections, 5, 'one shared jump connection plus the four targets');
});
