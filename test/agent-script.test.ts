// `jellyfish agent-script`: its awk parser gives what the collector's parser gives (recorded
// outputs and hostile bytes: quotes, backslashes, control characters, non-UTF-8, NUL, repeated
// subtypes in natural order), under dash and mawk as Debian runs it; and for real: the script run
// over ssh on the OpenSSH test host pushes to a `serve` on loopback, `facts` shows what it pushed
// and a following `run` counts the host in sapi_hosts_list.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { AGENT_AWK } from '../src/app/agent-script.js';
import { parseBytes } from '../src/collections/parse.js';
import type { CollectionDef } from '../src/collections/types.js';
import { SHIPPED_COLLCONFIG } from '../src/config/load.js';
import { jf } from './helpers/jellyfish-cli.js';
import { writeEnv } from './helpers/run-env.js';
import { addToken, loopbackListen, startServe } from './helpers/serve-process.js';
import { startSshd } from './helpers/sshd.js';

const NET = '127.130';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

function run(cmd: string, args: string[], input?: Buffer | string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { err += d; });
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(input);
  });
}

/** One collection's output through the agent's awk, as the agent runs it (NUL -> 0xFF, then awk), decoded as the server does. */
async function viaAwk(awk: string, awkFile: string, def: CollectionDef, output: Buffer): Promise<Record<string, string>> {
  const r = await run('dash', ['-c', `tr '\\000' '\\377' | M="$1" TY="$2" S="$3" ${awk} -f "$4"`, 'sh', def.multi ? '1' : '0', def.type, def.separator ?? '', awkFile], output, { LC_ALL: 'C' });
  if (r.code !== 0) throw new Error(`awk failed: ${r.stderr}`);
  return (JSON.parse(`{${r.stdout.toString('utf8')}}`) as Record<string, Record<string, string>>)[def.type]!;
}

const def = (type: string, multi: boolean, separator?: string): CollectionDef => ({ type, command: 'true', multi, timeoutMs: 30_000, enabled: true, ...(separator !== undefined ? { separator } : {}) });

t.test('the agent parses output exactly as the collector does', async (t) => {
  const dir = t.testdir();
  const awkFile = path.join(dir, 'j.awk');
  fs.writeFileSync(awkFile, AGENT_AWK);
  const cases: [string, CollectionDef, Buffer][] = [];
  for (const distro of ['debian12', 'rhel9', 'ubuntu22']) {
    const folder = path.join('fixtures/outputs', distro);
    if (!fs.existsSync(folder)) continue;
    for (const f of fs.readdirSync(folder).filter((x) => x.endsWith('.txt'))) {
      const buf = fs.readFileSync(path.join(folder, f));
      const type = f.replace(/\.txt$/, '');
      cases.push([`${distro}/${f} as multi`, def(type, true), buf], [`${distro}/${f} as one value`, def(type, false), buf]);
    }
  }
  const hostile = Buffer.concat([
    Buffer.from('quote "a" b\nback \\slash\\ x\ntab\tin\tvalue\ncr line\r\n\n   \n'),
    Buffer.from('ctl a\u0001\u001f\u007fb\nnul x'), Buffer.from([0, 0x41, 0]), Buffer.from('\n'),
    Buffer.from('bad x'), Buffer.from([0xc3, 0x28, 0xff, 0xe2, 0x82]), Buffer.from(' end\n'),
    Buffer.from('kernel 5.14.0-362.el9\nkernel 5.14.0-70.el9\nkernel 5.14.0-70.el9\nkernel 5.14.0-1000.el9\nkernel\nv 010\nv 9\nv 10a\nv 10\nv 1.2.10\nv 1.2.9\n'),
    Buffer.from('__proto__ polluted\nconstructor x\nutf8 ünïcødé ✓ 𝄞\n'),
  ]);
  cases.push(['hostile bytes, multi', def('h', true), hostile], ['hostile bytes, one value', def('h', false), hostile]);
  cases.push(['custom separator', def('kv', true, '='), Buffer.from('a=1\nb = 2 = 3\r\nno separator\n=empty name\n  c  =  spaced  \nd=\nd=4\n')]);
  cases.push(['empty output', def('e', false), Buffer.alloc(0)], ['empty multi output', def('e', true), Buffer.alloc(0)]);
  const awks = ['mawk', 'gawk', 'busybox awk', 'original-awk'].filter((a) => spawnSync('sh', ['-c', `command -v ${a.split(' ')[0]}`]).status === 0);
  t.ok(awks.includes('mawk'), `awks found: ${awks.join(', ')}`);
  for (const awk of awks) {
    for (const [name, d, buf] of cases) {
      const want = parseBytes(d, buf);
      // The store refuses an empty subtype name; the agent leaves such a line out (the collector keeps it, the push would fail whole).
      if (want && '' in want) delete want[''];
      t.same(await viaAwk(awk, awkFile, d, buf), want, `${awk}: ${name}`);
    }
  }
});

t.test('agent-script --help, a bad --url', async (t) => {
  const dir = t.testdir();
  const help = await jf(['agent-script', '--help'], dir);
  t.equal(help.code, 0);
  t.match(help.stdout, /sh agent\.sh TOKEN_FILE \[HOSTNAME\]/);
  const bad = await jf(['agent-script', '--url', "http://x'; rm -rf /"], dir);
  t.equal(bad.code, 64, 'a URL that is not http(s)://host:port is a usage error');
  const ok = await jf(['agent-script', '--url', 'https://jf.example.net:8422'], dir);
  t.equal(ok.code, 0);
  t.match(ok.stdout, /^#!\/bin\/sh\n/);
  t.match(ok.stdout, /URL='https:\/\/jf\.example\.net:8422'/);
  const syntax = await run('dash', ['-n'], ok.stdout);
  t.equal(syntax.code, 0, `dash -n accepts it ${syntax.stderr}`);
});

t.test('the agent on the real OpenSSH host pushes to serve; facts shows it; the next run skips the host as sapi', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir, address: loopbackListen(NET).host });
  if ('skip' in sshd) { t.skip(sshd.skip); return; }
  t.teardown(() => sshd.stop());
  const { listen } = loopbackListen(NET);
  const env = writeEnv({
    dir, keyPath: sshd.keyPath, knownHosts: sshd.knownHostsPath, port: sshd.port,
    rows: [`${sshd.address},web,ams,prod`],
    ini: { paramiko: { paramiko_user: sshd.user }, collector: { collconfig: SHIPPED_COLLCONFIG }, api: { listen } },
    collectors: fs.readFileSync(SHIPPED_COLLCONFIG, 'utf8'),
  });
  // First an SSH run: a pushing host counts as sapi only with an SSH attempt within [sapi] verify_every.
  const first = await jf(['run', '-c', env.ini], dir);
  t.same(JSON.parse(first.stdout).global_success_hosts_list, [sshd.address], first.stderr);
  const token = await addToken(dir, 'agents', 'push', sshd.address);
  const serve = await startServe(dir, ['-b', env.csv]);
  t.teardown(() => serve.stop());
  const script = await jf(['agent-script', '-c', env.ini, '--url', serve.url], dir);
  t.equal(script.code, 0, script.stderr);

  const ssh = (command: string, input?: string) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile('ssh', ['-i', sshd.keyPath, '-p', String(sshd.port), '-o', `UserKnownHostsFile=${sshd.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      `${sshd.user}@${sshd.address}`, command], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(input);
  });
  const place = await ssh('umask 077; d=$(mktemp -d); cat > "$d/agent.sh"; echo "$d"', script.stdout);
  t.equal(place.code, 0, place.stderr);
  const remote = place.stdout.trim();
  t.equal((await ssh(`cat > ${remote}/token`, `${token}\n`)).code, 0);
  // The token never appears in a command line: the ssh commands above carry it on stdin.
  const pushed = await ssh(`dash ${remote}/agent.sh ${remote}/token ${sshd.address}`);
  t.equal(pushed.code, 0, `the agent's push was accepted (dash): ${pushed.stderr}`);
  const refused = await ssh(`sh ${remote}/agent.sh ${remote}/token other.example`);
  t.equal(refused.code, 1, 'a host outside the token: non-zero');
  t.match(refused.stderr, /HTTP 403/, "the server's answer on stderr");
  t.equal((await ssh(`sh ${remote}/agent.sh ${remote}/nope`)).code, 66, 'an unreadable token file: 66');
  await ssh(`rm -rf ${remote}`);

  const db = new Database(env.db, { readonly: true });
  t.teardown(() => db.close());
  const attempts = db.prepare("SELECT r.mode, a.outcome FROM attempts a JOIN runs r ON r.id = a.run_id ORDER BY a.id").all() as { mode: string; outcome: string }[];
  t.same(attempts, [{ mode: 'run', outcome: 'ok' }, { mode: 'ingest', outcome: 'ok' }], 'the SSH attempt, then the push');
  // The agent's parse equals the collector's: on the same host, the push reopens no interval of a stable type.
  const opened = db.prepare("SELECT f.type, f.subtype, f.value FROM facts f WHERE f.first_seen > (SELECT MIN(first_seen) FROM facts) AND f.type NOT IN ('listening', 'boottime')").all();
  t.same(opened, [], 'no fact differs between the SSH collection and the push');
  const facts = JSON.parse((await jf(['facts', sshd.address, '--json', '-c', env.ini], dir)).stdout) as { facts: { type: string; subtype: string; value: string; last_seen: string }[] };
  const sapiAt = (db.prepare('SELECT sapi_at FROM hosts WHERE name = ?').get(sshd.address) as { sapi_at: string }).sapi_at;
  t.ok(sapiAt, 'the host has a sapi time');
  t.equal(facts.facts.find((f) => f.type === 'rkernel')?.last_seen, sapiAt, 'facts shows the pushed observation');
  t.equal(facts.facts.find((f) => f.type === 'rkernel')?.value, (await import('node:os')).release());

  const second = await jf(['run', '-c', env.ini], dir);
  const json = JSON.parse(second.stdout) as Record<string, unknown>;
  t.same(json.sapi_hosts_list, [sshd.address], 'the next run lists the host in sapi_hosts_list');
  t.same(json.global_success_hosts_list, []);
});
