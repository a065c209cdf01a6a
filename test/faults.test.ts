// The host fault matrix: one fixture fleet with one faulty host per case beside healthy ones, run
// through the real binary. Each case checks the host's outcome and code, that the host ended
// within the bound its timeouts set, and that the healthy hosts beside it are unaffected.
// Cases the fixture fleet cannot produce run on their own: a SYN nobody answers and a DNS server
// nobody answers (inside a network namespace this file makes), and commands that never end or
// ignore SIGTERM (on a real OpenSSH sshd, so the host-side `timeout -k` is what stops them).
// The matrix runs once per store backend: SQLite, and PostgreSQL when it can be started here.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { generateKeyPair, startFleet, type FaultSpec } from '../fixtures/fleet/fleet.mjs';
import pg from 'pg';
import { postgresSkipReason, startPostgres, type PgServer } from './helpers/postgres.js';
import { startSshd } from './helpers/sshd.js';
import { statusProblems, writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');

interface Ran { code: number | null; stdout: string; stderr: string; ms: number }

function jf(args: string[], cwd: string, prefix: string[] = [], env: Record<string, string> = {}): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve) => {
    const argv = [...prefix, process.execPath, BIN, ...args];
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env: { ...process.env, CI: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

// The timeouts of the matrix run (small, so the file stays quick).
const CONNECT_MS = 2_000;
const COLLECTION_MS = 2_000;
const HOST_MS = 10_000;
/** The client's watchdog on a step: its timeout plus the host's TERM->KILL grace and 3 s (src/ssh/run-script.ts). */
const WATCHDOG_MS = COLLECTION_MS + 2_000 + 3_000;
/** What a loaded 2-core machine may add to a bound. */
const SLACK_MS = 4_000;
const MAX_OUTPUT = 2 * 1024 * 1024;

interface Case {
  name: string;
  fault?: FaultSpec;
  /** an inventory row of its own instead of a fleet address */
  label?: string;
  outcome: string;
  code?: string | null;
  /** the host must have ended within this */
  withinMs: number;
  /** collection type -> status, for the cases that fail one collection */
  collections?: Record<string, string>;
}

const CASES: Case[] = [
  { name: 'connection refused', fault: { kind: 'refuse' }, outcome: 'unreachable', code: 'ECONNREFUSED', withinMs: SLACK_MS },
  { name: 'connection reset at once (RST)', fault: { kind: 'reset' }, outcome: 'unreachable', code: 'ECONNRESET', withinMs: SLACK_MS },
  { name: 'accepts, never sends a banner', fault: { kind: 'hang' }, outcome: 'unreachable', code: 'ETIMEDOUT', withinMs: CONNECT_MS + SLACK_MS },
  { name: 'banner, then silence in key exchange', fault: { kind: 'banner-hang' }, outcome: 'unreachable', code: 'ETIMEDOUT', withinMs: CONNECT_MS + SLACK_MS },
  { name: 'another protocol on the port', fault: { kind: 'not-ssh' }, outcome: 'error', code: 'PROTOCOL', withinMs: CONNECT_MS + SLACK_MS },
  { name: 'auth rejected', fault: { kind: 'auth-reject' }, outcome: 'auth_failed', code: 'AUTH', withinMs: CONNECT_MS + SLACK_MS },
  { name: 'host key changed', fault: { kind: 'wrong-hostkey' }, outcome: 'hostkey_mismatch', code: 'HOSTKEY', withinMs: CONNECT_MS + SLACK_MS },
  { name: 'host key of a type known_hosts does not hold (ecdsa)', fault: { kind: 'hostkey-type', keyType: 'ecdsa' }, outcome: 'hostkey_mismatch', code: 'HOSTKEY', withinMs: CONNECT_MS + SLACK_MS },
  { name: 'host key of a type jellyfish does not accept (ssh-dss)', fault: { kind: 'hostkey-type', keyType: 'dss' }, outcome: 'error', code: 'PROTOCOL', withinMs: CONNECT_MS + SLACK_MS },
  { name: 'server refuses every channel open', fault: { kind: 'channel-refuse' }, outcome: 'error', code: 'CHANNEL', withinMs: CONNECT_MS + SLACK_MS },
  {
    name: 'a command that never ends (and ignores every signal)', fault: { kind: 'cmd-hang', type: 'packages' }, outcome: 'partial', code: null,
    withinMs: WATCHDOG_MS + SLACK_MS, collections: { release: 'ok', rkernel: 'ok', packages: 'timeout', memory: 'ok' },
  },
  {
    name: 'a command that exits non-zero', fault: { kind: 'step-fail', type: 'rkernel', code: 3 }, outcome: 'partial', code: null,
    withinMs: CONNECT_MS + SLACK_MS, collections: { release: 'ok', rkernel: 'failed', packages: 'ok', memory: 'ok' },
  },
  {
    name: 'output dripping one byte a second', fault: { kind: 'slow-output', type: 'rkernel', intervalMs: 1000 }, outcome: 'partial', code: null,
    withinMs: WATCHDOG_MS + SLACK_MS, collections: { release: 'ok', rkernel: 'timeout', packages: 'ok', memory: 'ok' },
  },
  {
    name: 'output that never stops', fault: { kind: 'endless-output', type: 'packages' }, outcome: 'partial', code: 'OUTPUT_CAP',
    withinMs: CONNECT_MS + SLACK_MS * 2, collections: { release: 'ok', rkernel: 'ok', packages: 'failed', memory: 'skipped' },
  },
  {
    name: '100 MB of output', fault: { kind: 'huge-output', type: 'packages', bytes: 100 * 1024 * 1024 }, outcome: 'partial', code: 'OUTPUT_CAP',
    withinMs: CONNECT_MS + SLACK_MS * 2, collections: { release: 'ok', rkernel: 'ok', packages: 'failed', memory: 'skipped' },
  },
  { name: 'invalid UTF-8 and NUL bytes', fault: { kind: 'invalid-utf8', type: 'rkernel' }, outcome: 'ok', code: null, withinMs: CONNECT_MS + SLACK_MS },
  {
    name: 'disconnect in the middle of output', fault: { kind: 'disconnect', type: 'packages' }, outcome: 'partial', code: 'DISCONNECTED',
    withinMs: CONNECT_MS + SLACK_MS, collections: { release: 'ok', rkernel: 'ok', packages: 'failed', memory: 'failed' },
  },
  { name: 'a host slower than host_timeout', fault: { kind: 'delay', ms: 120_000 }, outcome: 'timeout', code: 'HOST_TIMEOUT', withinMs: HOST_MS + SLACK_MS },
  { name: 'a hostname that does not resolve', label: 'no-such-host.invalid', outcome: 'unreachable', code: 'ENOTFOUND', withinMs: SLACK_MS },
];
const HEALTHY = 6;

interface Attempt { id: number; outcome: string; code: string | null; message: string | null; duration_ms: number; output_bytes: number; finished_at: string }

/** The rows the matrix checks, read straight from either backend's tables (the same SQL, each dialect's placeholders). */
interface Rows {
  attempt(label: string, runId: number): Promise<Attempt>;
  collections(id: number): Promise<Record<string, string>>;
  facts(label: string, type?: string): Promise<{ type: string; subtype: string; value: string }[]>;
  close(): Promise<void>;
}

const ATTEMPT_SQL = 'SELECT a.* FROM attempts a JOIN hosts h ON h.id = a.host_id WHERE h.name = ? AND a.run_id = ?';
const COLLECTIONS_SQL = 'SELECT type, status FROM attempt_collections WHERE attempt_id = ?';
const factsSql = (type?: string) => `SELECT f.type, f.subtype, f.value FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name = ? AND f.is_current = 1 ${type ? 'AND f.type = ?' : ''} ORDER BY f.type, f.subtype`;

function sqliteRows(file: string): Rows {
  const db = new Database(file, { readonly: true });
  return {
    attempt: async (label, runId) => db.prepare(ATTEMPT_SQL).get(label, runId) as Attempt,
    collections: async (id) => Object.fromEntries((db.prepare(COLLECTIONS_SQL).all(id) as { type: string; status: string }[]).map((c) => [c.type, c.status])),
    facts: async (label, type) => db.prepare(factsSql(type)).all(...(type ? [label, type] : [label])) as never,
    close: async () => { db.close(); },
  };
}

async function pgRows(url: string, password: string): Promise<Rows> {
  const u = new URL(url);
  const client = new pg.Client({ host: u.hostname, port: Number(u.port), user: u.username, database: u.pathname.slice(1), password });
  await client.connect();
  const dollar = (sql: string) => { let n = 0; return sql.replace(/\?/g, () => `$${++n}`); };
  return {
    attempt: async (label, runId) => {
      const r = (await client.query(dollar(ATTEMPT_SQL), [label, runId])).rows[0];
      return r ? { ...r, id: Number(r.id), output_bytes: Number(r.output_bytes) } as Attempt : (undefined as unknown as Attempt);
    },
    collections: async (id) => Object.fromEntries((await client.query(dollar(COLLECTIONS_SQL), [id])).rows.map((c) => [c.type, c.status])),
    facts: async (label, type) => (await client.query(dollar(factsSql(type)), type ? [label, type] : [label])).rows,
    close: async () => { await client.end(); },
  };
}

const pgSkip = postgresSkipReason();
let pgServer: PgServer | undefined;
t.teardown(async () => { await pgServer?.stop(); });

for (const backend of ['sqlite', 'postgresql'] as const) t.test(`the host fault matrix (${backend} store): every fault its outcome, on time, healthy hosts unaffected`, { skip: backend === 'postgresql' ? pgSkip ?? false : false }, async (t) => {
  const dir = t.testdir();
  let database = 'var/jf.db';
  let env: Record<string, string> = {};
  if (backend === 'postgresql') {
    pgServer ??= await startPostgres();
    database = await pgServer.createDatabase('faults');
    env = pgServer.env;
  }
  const fleetCases = CASES.filter((c) => c.fault);
  const faults: Record<string, FaultSpec> = {};
  fleetCases.forEach((c, i) => { faults[`127.36.0.${i + 1}`] = c.fault as FaultSpec; });
  const fleet = await startFleet({ count: fleetCases.length + HEALTHY, base: '127.36.0.1', port: 2222, dir, faults });
  t.teardown(() => fleet.close());
  const labelOf = new Map<Case, string>();
  fleetCases.forEach((c, i) => labelOf.set(c, `127.36.0.${i + 1}`));
  for (const c of CASES) if (c.label) labelOf.set(c, c.label);
  const healthy = fleet.hosts.slice(fleetCases.length).map((h) => h.address);
  // Healthy hosts first and last in the file, faulty ones between them.
  const labels = [...healthy.slice(0, HEALTHY / 2), ...CASES.map((c) => labelOf.get(c) as string), ...healthy.slice(HEALTHY / 2)];
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,prod`),
    ini: {
      paramiko: { connect_timeout: `${CONNECT_MS / 1000}s` },
      collector: { threads: '64', workers: 'auto', order: 'file', host_timeout: `${HOST_MS / 1000}s`, threadtimeout: '2m' },
      storage: { max_output: '2MB', database },
    },
  });

  const r = await jf(['run', '-c', 'scheduler.ini'], dir, [], env);
  t.equal(r.code, 0, `exit 0: failures are within max_fail_percent 100 (${r.stderr.slice(0, 500)})`);
  t.notMatch(r.stderr, /internal error|    at /, 'no crash, no stack');
  t.ok(r.ms < HOST_MS + 5_000 + SLACK_MS, `the run ended ${r.ms} ms after its start: bounded by host_timeout, not by any fault`);
  const json = JSON.parse(r.stdout);
  t.same(statusProblems(json, labels), [], 'every host in exactly one list');

  const rows = backend === 'sqlite' ? sqliteRows(path.join(dir, 'var/jf.db')) : await pgRows(database, pgServer!.password);
  t.teardown(() => rows.close());
  const attempt = (label: string) => rows.attempt(label, json.run_id as number);
  const { collections, facts } = rows;
  const failures = json.failures as Record<string, { outcome: string; code: string }>;
  const success = new Set(json.global_success_hosts_list as string[]);

  for (const c of CASES) {
    const label = labelOf.get(c) as string;
    t.test(c.name, async (t) => {
      const a = await attempt(label);
      t.ok(a, 'one attempt row');
      t.equal(a.outcome, c.outcome, `outcome ${c.outcome} (${a.message})`);
      if (c.code !== undefined) t.equal(a.code, c.code, `code ${c.code}`);
      t.ok(a.duration_ms <= c.withinMs, `ended in ${a.duration_ms} ms (bound ${c.withinMs} ms)`);
      if (c.outcome === 'ok' || c.outcome === 'partial') {
        t.ok(success.has(label), 'counted as a success in the JSON');
      } else {
        t.same({ outcome: failures[label]?.outcome, code: failures[label]?.code }, { outcome: a.outcome, code: a.code }, 'the JSON agrees with the attempts table');
        if (c.fault?.kind !== 'delay') t.same(await facts(label), [], 'nothing stored for a host that never ran a collection');
      }
      if (c.collections) t.same(await collections(a.id), c.collections, 'each collection its own status');
    });
  }

  t.test('what the faulty hosts left behind', async (t) => {
    const cut = await attempt(labelOf.get(CASES.find((c) => c.fault?.kind === 'huge-output') as Case) as string);
    t.equal(cut.output_bytes, MAX_OUTPUT, '100 MB stopped at max_output exactly');
    t.equal((await attempt(labelOf.get(CASES.find((c) => c.fault?.kind === 'endless-output') as Case) as string)).output_bytes, MAX_OUTPUT, 'endless output stopped at max_output exactly');
    const utf = (await facts(labelOf.get(CASES.find((c) => c.fault?.kind === 'invalid-utf8') as Case) as string, 'rkernel'))[0]?.value ?? '';
    t.notOk(utf.includes('\u0000'), 'no NUL stored');
    t.match(utf, /^before \uFFFD\uFFFD nul \uFFFD lone continuation \uFFFD truncated \uFFFD after$/, 'bad bytes stored as U+FFFD, the rest verbatim');
    const dropped = labelOf.get(CASES.find((c) => c.fault?.kind === 'disconnect') as Case) as string;
    t.same((await facts(dropped)).map((f) => f.type).filter((v, i, all) => all.indexOf(v) === i), ['release', 'rkernel'], 'a dropped connection keeps the collections that finished before it');
    const changed = labelOf.get(CASES.find((c) => c.fault?.kind === 'wrong-hostkey') as Case) as string;
    t.match((await attempt(changed)).message, /host key for \[127\.36\.0\.\d+\]:2222 has CHANGED/);
    const ecdsa = labelOf.get(CASES.find((c) => c.fault?.kind === 'hostkey-type' && c.fault.keyType === 'ecdsa') as Case) as string;
    t.match((await attempt(ecdsa)).message, /presented a ecdsa-sha2-nistp256 key .* but known_hosts holds only ssh-ed25519/);
    const dss = labelOf.get(CASES.find((c) => c.fault?.kind === 'hostkey-type' && c.fault.keyType === 'dss') as Case) as string;
    t.match((await attempt(dss)).message, /no matching host key format/);
    t.equal(fleet.stats().activeExecs, 0, 'no command is left running on any fixture host');
  });

  t.test('healthy hosts are unaffected', async (t) => {
    const reference = (await facts(healthy[0] as string)).map((f) => `${f.type}/${f.subtype}=${f.value}`);
    t.ok(reference.length > 20, `a healthy host has its facts (${reference.length})`);
    const slowest = Math.max(...await Promise.all(CASES.map(async (c) => Date.parse((await attempt(labelOf.get(c) as string)).finished_at))));
    for (const h of healthy) {
      const a = await attempt(h);
      t.equal(a.outcome, 'ok', `${h} ok`);
      t.equal(a.code, null);
      t.same(await collections(a.id), { release: 'ok', rkernel: 'ok', packages: 'ok', memory: 'ok' });
      t.same((await facts(h)).map((f) => `${f.type}/${f.subtype}=${f.value}`), reference, `${h}: the same facts as every healthy host`);
      t.ok(Date.parse(a.finished_at) < slowest, `${h} did not wait for the faulty hosts`);
    }
  });
});

t.test('a SYN nobody answers, and a DNS server nobody answers (inside a test network namespace)', async (t) => {
  const ns = `jf-faults-${process.pid}`;
  const ip = (...args: string[]) => spawnSync('ip', ['netns', 'exec', ns, 'ip', ...args], { encoding: 'utf8' });
  if (process.getuid?.() !== 0 || spawnSync('ip', ['netns', 'add', ns]).status !== 0) {
    t.skip('needs root and iproute2 to make a network namespace');
    return;
  }
  // `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf for the command.
  const etc = path.join('/etc/netns', ns);
  t.teardown(() => { spawnSync('ip', ['netns', 'del', ns]); fs.rmSync(etc, { recursive: true, force: true }); });
  // Inside our own namespace: 192.0.2.2 and .53 (TEST-NET) have neighbour entries but nobody
  // answers, so SYNs and DNS queries go out on a veth pair and are never answered. Nothing leaves
  // the namespace.
  ip('link', 'set', 'lo', 'up');
  const veth = ip('link', 'add', 'jfv0', 'type', 'veth', 'peer', 'name', 'jfv1');
  if (veth.status !== 0) { t.skip(`no veth in this kernel: ${veth.stderr.trim()}`); return; }
  ip('addr', 'add', '192.0.2.1/24', 'dev', 'jfv0');
  ip('link', 'set', 'jfv0', 'up');
  ip('link', 'set', 'jfv1', 'up');
  for (const host of ['192.0.2.2', '192.0.2.53']) ip('neigh', 'add', host, 'lladdr', '02:00:00:00:00:02', 'dev', 'jfv0', 'nud', 'permanent');
  fs.mkdirSync(etc, { recursive: true });
  fs.writeFileSync(path.join(etc, 'resolv.conf'), 'nameserver 192.0.2.53\noptions timeout:1 attempts:1\n');
  fs.writeFileSync(path.join(etc, 'hosts'), '127.0.0.1 localhost\n');

  const dir = t.testdir();
  const key = path.join(dir, 'id');
  fs.writeFileSync(key, generateKeyPair().private, { mode: 0o600 });
  const rows = ['192.0.2.2,web,ams,prod', '127.0.0.1:1,web,ams,prod', 'unanswered-dns.example,web,ams,prod'];
  writeEnv({ dir, keyPath: key, knownHosts: path.join(dir, 'kh'), port: 22, rows, ini: { paramiko: { connect_timeout: '2s', host_key_policy: 'accept-new' }, collector: { host_timeout: '8s' } } });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir, ['ip', 'netns', 'exec', ns]);
  const json = JSON.parse(r.stdout);
  t.same(statusProblems(json, rows.map((row) => row.split(',')[0] as string)), []);
  t.equal(json.failures['192.0.2.2'].code, 'ETIMEDOUT', 'the unanswered SYN ends at connect_timeout');
  t.equal(json.failures['127.0.0.1:1'].code, 'ECONNREFUSED', 'the other host failed fast, on its own');
  t.equal(json.failures['unanswered-dns.example'].outcome, 'unreachable');
  t.equal(json.failures['unanswered-dns.example'].code, 'ENOTFOUND', json.failures['unanswered-dns.example'].message);
  t.ok(r.ms < 8_000 + SLACK_MS, `ended in ${r.ms} ms: at connect_timeout, not later`);
});

t.test('on a real sshd: a command that never ends, and one that ignores SIGTERM, are stopped on the host', async (t) => {
  const dir = t.testdir();
  const sshd = await startSshd({ dir });
  if ('skip' in sshd) { t.skip(sshd.skip); return; }
  t.teardown(() => sshd.stop());
  // The markers are in the command lines, so pgrep can tell whether anything is left on the host:
  // a sleep of a duration no other process uses (GNU sleep takes fractions; an extra word would
  // make it fail at once instead of hanging).
  const marker = `sleep 3600\\.${process.pid}[12]`;
  const collectors = `
[rkernel]
collection = uname -r
timeout = 2s

[forever]
collection = exec sleep 3600.${process.pid}1
timeout = 2s

[noterm]
collection = trap '' TERM; sleep 3600.${process.pid}2; echo survived
timeout = 2s

[memory]
multi = true
collection = grep -E '^(MemTotal|SwapTotal):' /proc/meminfo
timeout = 2s
`;
  writeEnv({
    dir, keyPath: sshd.keyPath, knownHosts: sshd.knownHostsPath, port: sshd.port, rows: [`${sshd.address},web,ams,prod`],
    ini: { paramiko: { paramiko_user: sshd.user }, collector: { host_timeout: '30s' } }, collectors,
  });
  const r = await jf(['run', '-c', 'scheduler.ini'], dir);
  const json = JSON.parse(r.stdout);
  t.same(json.global_success_hosts_list, [sshd.address], JSON.stringify(json.failures));
  const db = new Database(path.join(dir, 'var/jf.db'), { readonly: true });
  t.teardown(() => db.close());
  const a = db.prepare('SELECT id, outcome, duration_ms FROM attempts').get() as { id: number; outcome: string; duration_ms: number };
  t.equal(a.outcome, 'partial');
  const cols = Object.fromEntries((db.prepare('SELECT type, status, exit_code FROM attempt_collections WHERE attempt_id = ?').all(a.id) as { type: string; status: string; exit_code: number | null }[]).map((c) => [c.type, [c.status, c.exit_code]]));
  t.same(cols.forever, ['timeout', 124], 'TERM at its 2 s timeout (timeout(1) exits 124)');
  t.same(cols.noterm, ['timeout', 137], 'ignored TERM, so KILL after the grace (137)');
  t.same(cols.rkernel, ['ok', 0]);
  t.same(cols.memory, ['ok', 0], 'the collection after them still ran');
  t.ok(a.duration_ms < 2 * (2_000 + 2_000) + SLACK_MS, `host done in ${a.duration_ms} ms: each stuck command cost its timeout plus the grace, no more`);
  const left = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  t.equal(left.stdout.trim(), '', 'nothing is left running on the host');
});
