// The ssh_config reader against OpenSSH itself: for a corpus of configs and hosts, our computed
// values must equal what `ssh -G -F FILE HOST` prints.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { expandProxyCommand, SshConfig } from '../src/ssh/ssh-config.js';

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
      t.equal(ours.proxyCommand?.command, one('proxycommand'), `${where}: proxycommand`);
      t.equal(ours.globalKnownHostsFiles.join(' '), one('globalknownhostsfile'), `${where}: globalknownhostsfile`);
    }
  }
});

t.test('the system-wide file is read after the user file; relative Includes there are under its folder', async (t) => {
  const dir = t.testdir({
    'user.conf': 'Host web1\n  Port 2201\n',
    etc: {
      'ssh_config': 'Include conf.d/*.conf\nHost *\n  Port 2299\n  User sysuser\n',
      'conf.d': { 'a.conf': 'Host web1\n  User fromdropin\n' },
    },
  });
  const cfg = SshConfig.parseFile(path.join(dir, 'user.conf'), home, path.join(dir, 'etc', 'ssh_config'));
  t.equal(cfg.compute('web1').port, 2201, "the user's value wins");
  t.equal(cfg.compute('web1').user, 'fromdropin', 'the Include under the system folder is read');
  t.equal(cfg.compute('web2').port, 2299, 'the system file fills in the rest');
  t.equal(SshConfig.parseFile(undefined, home, path.join(dir, 'etc', 'ssh_config')).compute('web2').user, 'sysuser', 'read without a user file too');
});

t.test('keywords jellyfish does not implement are reported with file:line, once each', async (t) => {
  const file = 'cfg';
  const cfg = SshConfig.parseText([
    'Host a',
    '  CertificateFile ~/.ssh/id_ed25519-cert.pub',
    '  KexAlgorithms curve25519-sha256',
    '  CanonicalizeHostname no',
    '  VerifyHostKeyDNS yes',
    'Match exec "test -f /tmp/x"',
    '  User other',
    'Host b',
    '  SendEnv LANG',
    '  ProxyUseFdpass yes',
  ].join('\n'), file);
  t.same(cfg.warnings.map((w) => [w.line, w.keyword]), [[2, 'CertificateFile'], [3, 'KexAlgorithms'], [5, 'VerifyHostKeyDNS'], [6, 'Match exec'], [10, 'ProxyUseFdpass']],
    'defaults (CanonicalizeHostname no) and keywords that do not change the connection (SendEnv) are quiet');
  t.match(cfg.warnings[0]?.text, /^cfg:2: CertificateFile is not implemented by jellyfish/);
  t.equal(cfg.compute('a').user, os.userInfo().username, 'a Match exec block never applies');
});

t.test('ProxyCommand tokens, and substituted values the shell would split are refused', async (t) => {
  const cmd = { command: 'ssh -W %h:%p -l %r %n %%', file: 'cfg', line: 3 };
  const tokens = { h: 'db1.example', p: '2222', r: 'collector', n: 'db1', u: 'me', d: '/home/me' };
  t.equal(expandProxyCommand(cmd, tokens), 'ssh -W db1.example:2222 -l collector db1 %');
  t.match(expandProxyCommand(cmd, { ...tokens, h: 'x;touch /tmp/pwned' }), { reason: /cfg:3: ProxyCommand: %h would be "x;touch \/tmp\/pwned"/ });
  t.match(expandProxyCommand({ ...cmd, command: 'nc %h %k' }, tokens), { reason: /unknown token %k/ });
});
