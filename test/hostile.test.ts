// Hosts that attack the collector: they may be compromised, so what they send must not exhaust
// its memory or time, forge another collection's frames, or reach the operator's terminal raw.
// Fixture hosts on 127.70.0.0/16; the nonce check runs on a real OpenSSH sshd.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import ssh2 from 'ssh2';
import { generateKeyPair, startFleet } from '../fixtures/fleet/fleet.mjs';
import { startSshd } from './helpers/sshd.js';
import { writeEnv } from './helpers/run-env.js';
import { jf } from './helpers/jellyfish-cli.js';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

interface Attempt { outcome: string; code: string | null; message: string | null; duration_ms: number; output_bytes: number }

function attempts(db: string): Map<string, Attempt> {
  const d = new Database(db, { readonly: true });
  try {
    const rows = d.prepare('SELECT h.name, a.* FROM attempts a JOIN hosts h ON h.id = a.host_id').all() as (Attempt & { name: string })[];
    return new Map(rows.map((r) => [r.name, r]));
  } finally {
    d.close();
  }
}

t.test('a marker and then endless bytes without a newline: cut at max_output, long before host_timeout', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({
    count: 3, base: '127.70.0.1', port: 2222, dir,
    faults: {
      '127.70.0.1': { kind: 'endless-marker', type: 'packages', marker: 'begin' },
      '127.70.0.2': { kind: 'endless-marker', type: 'packages', marker: 'end' },
    },
  });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  const HOST_S = 20;
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: { collector: { workers: '1', host_timeout: `${HOST_S}s` }, storage: { max_output: '2MB' } },
  });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 0, r.stderr);
  const got = attempts(path.join(dir, 'var/jf.db'));
  for (const label of labels.slice(0, 2)) {
    const a = got.get(label) as Attempt;
    t.equal(a.outcome, 'partial', `${label}: ${a.message}`);
    t.equal(a.code, 'OUTPUT_CAP');
    t.equal(a.output_bytes, 2 * 1024 * 1024, 'every byte counted against max_output, the marker line included');
    t.ok(a.duration_ms < HOST_S * 1000 / 2, `${label} ended in ${a.duration_ms} ms (host_timeout ${HOST_S} s)`);
  }
  t.equal(got.get(labels[2] as string)?.outcome, 'ok', 'the healthy host beside them is unaffected');
  t.equal(fleet.stats().activeExecs, 0, 'nothing left running on the fixture hosts');
});

t.test('the nonce never shows in the host\'s process list (real sshd)', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir, address: '127.70.1.1' });
  if ('skip' in sshd) { t.skip(sshd.skip); return; }
  t.teardown(() => sshd.stop());
  writeEnv({
    dir, keyPath: sshd.keyPath, knownHosts: sshd.knownHostsPath, port: sshd.port, rows: [`${sshd.address},web,ams,prod`],
    ini: { paramiko: { paramiko_user: sshd.user } },
    // Every process's command line, while the collection script runs: ps and /proc, as any local user can.
    collectors: [
      '[ps]', 'collection = ps -eo args', '',
      '[cmdline]', "collection = for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < $f 2>/dev/null; echo; done", '',
      '[self]', 'collection = echo ok', '',
    ].join('\n'),
  });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(r.code, 0, r.stderr);
  const d = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => d.close());
  const value = (type: string) => (d.prepare("SELECT value FROM facts WHERE type = ? AND subtype = 'default'").get(type) as { value: string } | undefined)?.value ?? '';
  t.equal(value('self'), 'ok', 'the collections ran');
  for (const type of ['ps', 'cmdline']) {
    const list = value(type);
    t.match(list, /ps -eo args|cmdline/, `${type}: the listing sees this session's own commands`);
    t.match(list, /\/bin\/sh -s/, `${type}: the script's shell is listed, with nothing but -s`);
    t.notMatch(list, /jellyfish-collect|@@|N=[0-9a-f]{16}/, `${type}: neither the script nor its nonce`);
  }
});

/** What a hostile host says, to be shown to the operator only escaped. */
const HOSTILE = '\x1b[2J\x1b]0;pwned\x07';
const ESC = '\x1b';

/** An SSH binary packet in the clear (before key exchange): length, padding length, payload, padding. */
function plainPacket(payload: Buffer): Buffer {
  let pad = 8 - ((payload.length + 5) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length + pad + 1, 0);
  head[4] = pad;
  return Buffer.concat([head, payload, Buffer.alloc(pad)]);
}

function sshString(text: string): Buffer {
  const b = Buffer.from(text);
  const n = Buffer.alloc(4);
  n.writeUInt32BE(b.length, 0);
  return Buffer.concat([n, b]);
}

function listen(server: net.Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(2222, address, () => resolve());
  });
}

t.test('nothing a host says reaches the terminal raw: -V, doctor --host, query', async (t) => {
  const dir = t.testdir();
  // 127.70.5.1: a server (or anyone on the path) that disconnects before key exchange with escapes in its text.
  const disconnecter = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.write('SSH-2.0-hostile\r\n');
    sock.once('data', () => {
      const disconnect = Buffer.concat([Buffer.from([1, 0, 0, 0, 2]), sshString(`${HOSTILE}bye`), sshString('')]);
      sock.end(plainPacket(disconnect));
    });
  });
  await listen(disconnecter, '127.70.5.1');
  t.teardown(() => disconnecter.close());
  // 127.70.5.2: an SSH server that lets anyone in and refuses every channel with escapes in the reason.
  const hostKey = generateKeyPair('ed25519');
  const refuser = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => ctx.accept());
    client.on('session', (_accept, reject) => {
      const proto = (client as unknown as { _protocol: { channelOpenFail(id: number, reason: number, desc: string): void } })._protocol;
      const fail = proto.channelOpenFail.bind(proto);
      proto.channelOpenFail = (id, reason) => fail(id, reason, `${HOSTILE}no channel for you`);
      reject();
    });
  });
  await new Promise<void>((resolve) => refuser.listen(2222, '127.70.5.2', () => resolve()));
  t.teardown(() => refuser.close());
  // 127.70.5.10: a fixture host whose answers (a fact value, doctor's uname) carry escapes.
  const fleet = await startFleet({ count: 1, base: '127.70.5.10', port: 2222, dir, outputs: { rkernel: `${HOSTILE}6.1.0\n`, doctor: `${HOSTILE}Linux 6.1\n` } });
  t.teardown(() => fleet.close());
  const knownHosts = path.join(dir, 'known_hosts');
  fs.copyFileSync(fleet.knownHostsPath, knownHosts);
  fs.appendFileSync(knownHosts, `[127.70.5.2]:2222 ${hostKey.public}\n`);
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts, port: 2222,
    rows: ['127.70.5.1', '127.70.5.2', '127.70.5.10'].map((l) => `${l},web,ams,prod`),
  });

  const checkEscaped = (what: string, text: string, wanted: RegExp) => {
    t.notOk(text.includes(ESC), `${what}: no raw ESC byte`);
    t.notOk(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text), `${what}: no raw control character at all`);
    t.match(text, wanted, `${what}: the host's words shown, escaped`);
  };
  const run = await jf(['run', '-c', 'scheduler.ini', '-V'], dir);
  checkEscaped('run -V', run.stderr, /127\.70\.5\.1 \S+ .*\\x1b\[2J\\x1b\]0;pwned\\x07bye/);
  checkEscaped('run -V', run.stderr, /127\.70\.5\.2 error .*\\x1b\[2J\\x1b\]0;pwned\\x07no channel for you/);

  for (const host of ['127.70.5.1', '127.70.5.2', '127.70.5.10']) {
    const doctor = await jf(['doctor', '-c', 'scheduler.ini', '--host', `${host}:2222`], dir);
    checkEscaped(`doctor --host ${host}`, doctor.stdout + doctor.stderr, host === '127.70.5.10' ? /\\x1b\[2J\\x1b\]0;pwned\\x07Linux 6\.1/ : /\\x1b\[2J\\x1b\]0;pwned\\x07/);
  }
  const query = await jf(['query', '-c', 'scheduler.ini', '--type', 'rkernel'], dir);
  checkEscaped('query', query.stdout + query.stderr, /127\.70\.5\.10\s+default\s+\\x1b\[2J\\x1b\]0;pwned\\x076\.1\.0/);
});

t.test('a pushed type name with escapes is printed escaped by ingest', async (t) => {
  const dir = t.testdir();
  writeEnv({ dir, keyPath: path.join(dir, 'none'), knownHosts: path.join(dir, 'known_hosts'), port: 2222, rows: ['pushed.example,web,ams,prod'] });
  const doc = (ts: number, data: Record<string, unknown>) => JSON.stringify({ collection_hostname: 'pushed.example', collection_timestamp: ts, collection_status: 'ok', collection_data: data });
  const now = Math.floor(Date.now() / 1000);
  const type = `${HOSTILE}evil`;
  // The newer document first: the older one's types are skipped, and named on stderr.
  fs.writeFileSync(path.join(dir, 'push.json'), [doc(now, { [type]: { a: '1' } }), doc(now - 60, { [type]: { a: '0' } }), doc(now, { [type]: 'not an object' })].join('\n'));
  const r = await jf(['ingest', '-c', 'scheduler.ini', 'push.json'], dir);
  t.notOk(r.stderr.includes(ESC), 'no raw ESC byte');
  t.match(r.stderr, /older than the stored facts of \\x1b\[2J\\x1b\]0;pwned\\x07evil/, 'the skipped type named, escaped');
  t.match(r.stderr, /x1b\[2J\\+x1b\]0;pwned\\+x07evil.*expected an object/, 'the rejected document\'s field named, escaped');
});
