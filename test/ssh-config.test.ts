// The ssh_config reader against OpenSSH itself: for a corpus of configs and hosts, our computed
// values must equal what `ssh -G -F FILE HOST` prints.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SshConfig } from '../src/ssh/ssh-config.js';

const dir = path.resolve('test/ssh-config');
const hosts = JSON.parse(fs.readFileSync(path.resolve('test/ssh-config-hosts.json'), 'utf8')) as Record<string, string[]>;
const home = os.homedir();

function sshG(file: string, host: string): Map<string, string[]> | undefined {
  const r = spawnSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const out = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const k = line.slice(0, sp).toLowerCase();
    out.set(k, [...(out.get(k) ?? []), line.slice(sp + 1)]);
  }
  return out;
}

t.test('matches ssh -G', async (t) => {
  if (spawnSync('ssh', ['-V']).error) {
    t.skip('OpenSSH client not installed');
    return;
  }
  // include.conf reads ~/.ssh/jf-test-included.d/*.conf, as a user's config would.
  const incDir = path.join(home, '.ssh', 'jf-test-included.d');
  fs.mkdirSync(incDir, { recursive: true });
  fs.writeFileSync(path.join(incDir, 'a.conf'), 'Host inc1\n  Port 2401\n  User incuser\nHost *.lan\n  ProxyJump j1,j2:2200\n');
  fs.writeFileSync(path.join(incDir, 'b.conf'), 'Port 2402\n');
  t.teardown(() => fs.rmSync(incDir, { recursive: true, force: true }));

  for (const [name, list] of Object.entries(hosts)) {
    const file = path.join(dir, name);
    const cfg = SshConfig.parseFile(file, home);
    for (const host of list) {
      const g = sshG(file, host);
      if (!g) { t.fail(`ssh -G failed for ${name} ${host}`); continue; }
      const ours = cfg.compute(host);
      const one = (k: string) => g.get(k)?.[0];
      const where = `${name} ${host}`;
      t.equal(ours.hostname, one('hostname'), `${where}: hostname`);
      t.equal(ours.user, one('user'), `${where}: user`);
      t.equal(String(ours.port), one('port'), `${where}: port`);
      t.same(ours.identityFiles, g.get('identityfile'), `${where}: identityfile`);
      t.equal(ours.identitiesOnly ? 'yes' : 'no', one('identitiesonly'), `${where}: identitiesonly`);
      t.equal(ours.proxyJump, one('proxyjump'), `${where}: proxyjump`);
      t.equal(ours.connectTimeoutSeconds === undefined ? 'none' : String(ours.connectTimeoutSeconds), one('connecttimeout'), `${where}: connecttimeout`);
      t.equal(ours.strictHostKeyChecking, one('stricthostkeychecking'), `${where}: stricthostkeychecking`);
      t.equal(ours.userKnownHostsFiles.join(' '), one('userknownhostsfile'), `${where}: userknownhostsfile`);
      t.equal(ours.hostKeyAlias, one('hostkeyalias'), `${where}: hostkeyalias`);
    }
  }
});
