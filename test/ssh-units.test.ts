import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import ssh2 from 'ssh2';
import t from 'tap';
import { FrameReader } from '../src/collections/frames.js';
import { buildScript, decodeScriptHeader, plainArgv, SCRIPT_COMMAND } from '../src/collections/script.js';
import type { CollectionDef } from '../src/collections/types.js';
import { blobKeyType, hostsFieldMatches, KnownHosts, knownHostsName, knownKeyTypes, parseKnownHosts, verifyHostKey } from '../src/ssh/known-hosts.js';
import { HashedNames, sameWords, words } from '../src/ssh/hashed-name.js';
import { keyParser } from '../src/ssh/private-key.js';

function def(type: string, command: string, timeoutMs = 30_000): CollectionDef {
  return { type, command, multi: false, timeoutMs, enabled: true };
}

function decodeAll(nonce: string, chunks: Buffer[]) {
  const steps: Record<number, { out: Buffer[]; code?: number }> = {};
  const r = new FrameReader(nonce, {
    begin: (i) => { steps[i] = { out: [] }; },
    data: (i, c) => { steps[i]?.out.push(Buffer.from(c)); },
    end: (i, code) => { steps[i]!.code = code; },
  });
  for (const c of chunks) r.push(c);
  return Object.fromEntries(Object.entries(steps).map(([i, s]) => [i, { out: Buffer.concat(s.out).toString('latin1'), code: s.code }]));
}

t.test('the generated script runs in a real sh and its frames decode', async (t) => {
  const nonce = crypto.randomBytes(8).toString('hex');
  const steps = [
    def('plain', 'echo hello'),
    def('noeol', "printf 'no newline'"),
    def('fails', 'echo out; exit 3'),
    def('quotes', `echo "it's \\"quoted\\"" '$HOME'`),
    def('fake-marker', `echo "@@${nonce} E 4 0 is not an end"; echo after`),
    def('slow', 'sleep 5; echo late', 1000),
    def('binary', "printf 'a\\000b\\377c'"),
    // Plain commands: run by `timeout` as their argv, without `sh -c`.
    def('argv', 'uname -s'),
    def('argv-slow', 'sleep 5', 1000),
    def('argv-missing', 'no-such-command-jf --x'),
  ].map((d, index) => ({ index, def: d }));
  const script = buildScript(nonce, steps);
  const header = decodeScriptHeader(script);
  t.equal(header?.nonce, nonce);
  t.same(header?.steps.map((s) => s.type), steps.map((s) => s.def.type));
  t.equal(header?.steps[5]?.timeoutSeconds, 1);
  // As on a host: the login shell runs SCRIPT_COMMAND (`$SHELL -c COMMAND`), the script on stdin.
  const out = execFileSync('/bin/sh', ['-c', SCRIPT_COMMAND], { input: script });
  // Feed it back one byte at a time: markers split anywhere must still decode.
  const bytes = [...out].map((b) => Buffer.from([b]));
  for (const chunks of [[out], bytes]) {
    const got = decodeAll(nonce, chunks);
    t.same(got[0], { out: 'hello\n', code: 0 });
    t.same(got[1], { out: 'no newline', code: 0 });
    t.same(got[2], { out: 'out\n', code: 3 });
    t.same(got[3], { out: `it's "quoted" $HOME\n`, code: 0 });
    t.same(got[4], { out: `@@${nonce} E 4 0 is not an end\nafter\n`, code: 0 }, 'a marker not at line start is data');
    t.equal(got[5]?.code, 124, 'the host-side timeout stopped the slow step');
    t.same(got[6], { out: 'a\u0000b\u00ffc', code: 0 });
    t.same(got[7], { out: 'Linux\n', code: 0 }, 'a plain command runs as its argv');
    t.equal(got[8]?.code, 124, 'the host-side timeout stops a plain command too');
    t.equal(got[9]?.code, 127, 'a plain command that is not there: 127, as from sh -c');
  }
  t.match(script, /^p 7 30 uname -s$/m, 'a plain command is written as its words');
  t.match(script, /^s 0 30 'echo hello'$/m, 'echo is a shell builtin: it keeps sh -c');
});

t.test("the main thread's key parser is ssh2's own", async (t) => {
  t.equal(keyParser(), ssh2.utils.parseKey, 'ssh2/lib/protocol/keyParser.js parseKey is ssh2.utils.parseKey');
});

t.test('plainArgv: only commands a shell would pass to exec as they are', async (t) => {
  t.same(plainArgv('uname -a'), ['uname', '-a']);
  t.same(plainArgv('  cat\t/etc/os-release '), ['cat', '/etc/os-release']);
  t.same(plainArgv('ps -o pid=,comm= -e'), ['ps', '-o', 'pid=,comm=', '-e']);
  for (const c of ['', 'echo hi', 'cd /tmp', 'FOO=1 env', 'cat /etc/*release', 'id; uname', 'a | b', 'cat $HOME/x', "grep 'a b' f", 'ls ~', 'x > f', 'uname\n-a', 'if', 'test -e /x', 'exec id']) {
    t.equal(plainArgv(c), undefined, JSON.stringify(c));
  }
});

t.test('noise before the first frame is ignored', async (t) => {
  const got = decodeAll('abc', [Buffer.from('motd junk\n@@abc B 0\nvalue\n@@abc E 0 0\n')]);
  t.same(got[0], { out: 'value', code: 0 });
});

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const ED2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIB8nKJrA7dJyYkqgKe8JA1y9vRr4J4oGd5R0WcG9mX1c';

t.test('known_hosts: plain, port form, patterns, negation, hashed, revoked', async (t) => {
  const blob = Buffer.from(ED, 'base64');
  t.equal(blobKeyType(blob), 'ssh-ed25519');
  t.equal(knownHostsName('Db7.AMS', 22), 'db7.ams');
  t.equal(knownHostsName('db7.ams', 2222), '[db7.ams]:2222');
  t.ok(hostsFieldMatches('a.example,db7.ams', 'db7.ams'));
  t.ok(hostsFieldMatches('*.ams', 'db7.ams'));
  t.ok(hostsFieldMatches('db?.ams', 'db7.ams'));
  t.notOk(hostsFieldMatches('*.ams,!db7.ams', 'db7.ams'), 'negation vetoes');
  t.ok(hostsFieldMatches('[db7.ams]:2222', '[db7.ams]:2222'));
  t.notOk(hostsFieldMatches('db7.ams', '[db7.ams]:2222'), 'a non-22 port needs the bracket form');

  const salt = crypto.randomBytes(20);
  const hash = crypto.createHmac('sha1', salt).update('[db7.ams]:2222').digest('base64');
  const entries = parseKnownHosts([
    '# comment', '',
    `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${ED}`,
    `web1.ams ssh-ed25519 ${ED}`,
    `changed.ams ssh-ed25519 ${ED2}`,
    `rsaonly.ams ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ`,
    `@revoked * ssh-ed25519 ${ED2}`,
    'garbage-line',
  ].join('\n'));
  t.equal(entries.length, 5);
  t.same(verifyHostKey(entries, '[db7.ams]:2222', blob), { kind: 'ok' }, 'hashed entry');
  t.same(verifyHostKey(entries, 'web1.ams', blob), { kind: 'ok' });
  t.same(verifyHostKey(entries, 'new.ams', blob), { kind: 'unknown' });
  t.match(verifyHostKey(entries, 'changed.ams', blob), { kind: 'mismatch', message: /CHANGED/ });
  t.match(verifyHostKey(entries, 'rsaonly.ams', blob), { kind: 'mismatch', message: /holds only ssh-rsa/ });
  t.match(verifyHostKey(entries, 'anything', Buffer.from(ED2, 'base64')), { kind: 'revoked' });

  // A host known only through a CA: not unknown (accept-new would learn it), but not verifiable by ssh2.
  const ca = parseKnownHosts(`@cert-authority *.corp ssh-ed25519 ${ED2}\nweb1.corp ssh-ed25519 ${ED}\n`);
  t.match(verifyHostKey(ca, 'db1.corp', blob), { kind: 'unsupported', message: /db1\.corp only through a @cert-authority line: host certificates are not supported/ });
  t.same(verifyHostKey(ca, 'web1.corp', blob), { kind: 'ok' }, 'a host with its own line is checked against it');
  t.same(verifyHostKey(ca, 'db1.lan', blob), { kind: 'unknown' }, 'a CA line for other hosts changes nothing');
});

t.test('known_hosts index: the same verdicts as testing every line, in file order', async (t) => {
  const salt = crypto.randomBytes(20);
  const hash = crypto.createHmac('sha1', salt).update('[db7.ams]:2222').digest('base64');
  const lines = [
    `|1|${salt.toString('base64')}|${hash} ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ`,
    `web1.ams,Web2.AMS ssh-ed25519 ${ED}`,
    `*.ams,!web3.ams ecdsa-sha2-nistp256 AAAAE2VjZHNh`,
    `[db7.ams]:2222 ssh-ed25519 ${ED}`,
    `db?.ams ssh-ed25519 ${ED2}`,
    `@revoked * ssh-ed25519 ${ED2}`,
    `@cert-authority *.ams ssh-ed25519 ${ED}`,
  ];
  // Many other hosts, as in a large fleet's file.
  for (let i = 0; i < 5000; i++) lines.push(`host${i}.fra ssh-ed25519 ${ED}`);
  const entries = parseKnownHosts(lines.join('\n'));
  const index = new KnownHosts(entries);
  t.equal(index.size, 5007);
  const names = ['web1.ams', 'web2.ams', 'WEB2.ams', 'web3.ams', '[db7.ams]:2222', 'db7.ams', 'db8.ams', 'host4999.fra', 'new.fra', 'x.ams'];
  for (const name of names) {
    const relevant = index.relevantTo(name);
    t.ok(relevant.length < 10, `${name}: only the lines that can concern it (${relevant.length})`);
    t.same(relevant.filter((e) => !e.marker), entries.filter((e) => !e.marker && hostsFieldMatches(e.hosts, name)), `${name}: same lines, file order`);
    t.same(knownKeyTypes(relevant, name), knownKeyTypes(entries, name), `${name}: same known key types`);
    for (const key of [ED, ED2]) {
      t.same(verifyHostKey(relevant, name, Buffer.from(key, 'base64')), verifyHostKey(entries, name, Buffer.from(key, 'base64')), `${name}: same verdict`);
    }
  }
  const started = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) index.relevantTo(`host${i}.fra`);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.ok(ms < 2000, `2,000 lookups in a 5,007-line file: ${ms.toFixed(1)} ms`);
});

t.test('hashed names: the precomputed HMAC-SHA1 equals node:crypto for every name length and salt size', async (t) => {
  let checked = 0;
  for (const saltLen of [0, 1, 20, 63, 64, 65, 100]) {
    const salt = crypto.randomBytes(saltLen);
    const names = new HashedNames(salt);
    for (let len = 0; len <= 80; len++) {
      const name = crypto.randomBytes(len);
      const want = crypto.createHmac('sha1', salt).update(name).digest();
      if (!sameWords(names.hash(name), words(want))) t.fail(`salt ${saltLen} bytes, name ${len} bytes`);
      checked++;
    }
  }
  t.equal(checked, 7 * 81, 'all agree');
  // In the index: a hashed line is found for its name only, including names over one SHA-1 block.
  const long = `[${'x'.repeat(70)}.example]:2222`;
  const lines = ['db7.ams', long].map((n) => { const s = crypto.randomBytes(20); return `|1|${s.toString('base64')}|${crypto.createHmac('sha1', s).update(n).digest('base64')} ssh-ed25519 ${ED}`; });
  const index = new KnownHosts(parseKnownHosts(lines.join('\n')));
  t.equal(index.hashedLines, 2);
  t.same(index.relevantTo('db7.ams').map((e) => e.hosts), [lines[0]?.split(' ')[0]]);
  t.same(index.relevantTo(long).map((e) => e.hosts), [lines[1]?.split(' ')[0]]);
  t.same(index.relevantTo('db8.ams'), []);
});

t.test('known_hosts hashing agrees with ssh-keygen -F', async (t) => {
  const dir = t.testdir({ kh: `[db7.ams]:2222 ssh-ed25519 ${ED}\n` });
  try {
    execFileSync('ssh-keygen', ['-H', '-f', `${dir}/kh`], { stdio: 'ignore' });
  } catch {
    t.skip('ssh-keygen not available');
    return;
  }
  const { readFileSync } = await import('node:fs');
  const entries = parseKnownHosts(readFileSync(`${dir}/kh`, 'utf8'));
  t.ok(entries[0]?.hosts.startsWith('|1|'), 'ssh-keygen hashed it');
  t.same(verifyHostKey(entries, '[db7.ams]:2222', Buffer.from(ED, 'base64')), { kind: 'ok' });
});
