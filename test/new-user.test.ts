// What a new user tripped over, through the built binary: doctor only reads (no database or
// folder made, no migration), a usage error is one line and a pointer to the command's help,
// --compact wherever JSON is printed, the help of prune and gap-fix, `hosts --columns`, and a
// `facts --type` never stored warned about as query does.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { InventoryHost } from '../src/inventory/host.js';
import { LATEST_VERSION, MIGRATIONS } from '../src/store/migrations.js';
import { openStore } from '../src/store/store.js';
import { jf } from './helpers/jellyfish-cli.js';

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

const lines = (s: string) => s.split('\n').filter(Boolean);

t.test('doctor in an empty folder creates nothing; hosts then says there is no database yet', async (t) => {
  const dir = t.testdir();
  const doctor = await jf(['doctor', '--json'], dir);
  t.equal(doctor.code, 1, 'some checks fail here (no inventory), the others still report');
  const db = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'database');
  t.match(db, { ok: true, detail: /^no database yet at .*var\/jellyfish\.db: the first run creates it \(.*var does not exist yet; the first run creates it \(.* is writable\)\)$/ });
  t.same(fs.readdirSync(dir), [], 'no file or folder was made');
  const hosts = await jf(['hosts'], dir);
  t.equal(hosts.code, 74);
  t.match(hosts.stderr, /no database yet at .*var\/jellyfish\.db: run `jellyfish run` first/);
  t.equal(hosts.stdout, '');
});

t.test('doctor never migrates an older database', async (t) => {
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[storage]\ndatabase = jf.db\n[GLOBAL]\nlockfile = jf.lock\n');
  const file = path.join(dir, 'jf.db');
  const old = new Database(file);
  old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version < LATEST_VERSION)) {
    old.exec(m.sql);
    old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-11-01T00:00:00.000Z');
  }
  old.close();
  const r = await jf(['doctor', '--json'], dir);
  const db = (JSON.parse(r.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === 'database');
  t.match(db, { ok: true, detail: new RegExp(`schema is at version ${LATEST_VERSION - 1}, older than this jellyfish's \\(${LATEST_VERSION}\\); the next \`jellyfish run\``) });
  const check = new Database(file, { readonly: true });
  t.equal((check.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v, LATEST_VERSION - 1, 'still at its old version');
  check.close();
  fs.writeFileSync(file, 'not a database at all, but long enough to be read as a header '.repeat(10));
  const bad = await jf(['doctor'], dir);
  t.equal(bad.code, 1);
  t.match(bad.stdout, /FAIL\s+database\s+.*jf\.db/, 'an unreadable file is still a failure');
});

t.test('usage errors are one line and a pointer to the help', async (t) => {
  const dir = t.testdir();
  for (const [args, first, help] of [
    [['hosts', '--bogus'], /^error: unknown option '--bogus'$/, 'see `jellyfish hosts --help`'],
    [['hosts', '--stale', 'soon'], /^jellyfish: error: --stale soon: expected a duration/, 'see `jellyfish hosts --help`'],
    [['query', '--type', 'packages', '--at', 'someday'], /^jellyfish: error: --at "someday": give an ISO 8601 date/, 'see `jellyfish query --help`'],
    [['facts', 'web1', '--at', '1h', '--history'], /^jellyfish: error: --at asks for one instant/, 'see `jellyfish facts --help`'],
    [['facts'], /^error: missing required argument 'host'$/, 'see `jellyfish facts --help`'],
  ] as const) {
    const r = await jf([...args], dir);
    t.equal(r.code, 64, args.join(' '));
    const err = lines(r.stderr);
    t.equal(err.length, 2, `${args.join(' ')}: two lines, no help text`);
    t.match(err[0], first);
    t.equal(err[1], help);
    t.notMatch(r.stderr, /Usage:|Options:/);
  }
});

t.test('every command that prints JSON takes --compact; prune and gap-fix help', async (t) => {
  const dir = t.testdir();
  for (const cmd of ['run', 'gap-fix', 'status', 'hosts', 'facts', 'query', 'changes', 'ingest', 'prune', 'doctor', 'migrate']) {
    t.match((await jf([cmd, '--help'], dir)).stdout, /--compact\s/, `${cmd} --help lists --compact`);
  }
  const prune = (await jf(['prune', '--help'], dir)).stdout;
  t.match(prune, /^Usage: jellyfish prune --older-than <age>/, 'the usage line shows --older-than as required');
  t.match(prune, /--older-than <age>\s+\(required\)/);
  const gap = (await jf(['gap-fix', '--help'], dir)).stdout;
  t.match(gap, /64 usage/);
  t.match(gap, /70 internal error/);
  const readme = fs.readFileSync('README.md', 'utf8');
  const operators = fs.readFileSync('docs/operators.md', 'utf8');
  for (const [name, text] of [['README.md', readme], ['docs/operators.md', operators]]) {
    t.match(text, /a \*sapi host\*.*the old\s+scheduler's (word|name)/s, `${name} explains what a sapi host is`);
  }
});

const host = (label: string, pop: string, srvtype: string, status: string): InventoryHost =>
  ({ label, host: label, srvtype, pop, status, notes: '', isProd: status === 'prod', line: 1 });

t.test('hosts --columns; facts --type never stored warns with the known types', async (t) => {
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[storage]\ndatabase = jf.db\n[GLOBAL]\nlockfile = jf.lock\n[collector]\nservercsv = server4.csv\n');
  fs.writeFileSync(path.join(dir, 'server4.csv'), 'hostname,srvtype,pop,status,notes\nweb1,web,ams,prod,\ndb1,db,fra,spare,\n');
  const store = openStore(path.join(dir, 'jf.db'));
  await store.upsertHosts([host('web1', 'ams', 'web', 'prod'), host('db1', 'fra', 'db', 'spare')]);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  await store.recordResults(runId, [{
    label: 'web1', outcome: 'ok', startedAt: Date.now() - 1000, finishedAt: Date.now(), outputBytes: 0,
    collections: [{ type: 'rkernel', status: 'ok', values: { default: '6.1.0-27-amd64' }, durationMs: 1 }],
  }]);
  store.close();

  const table = await jf(['hosts', '--columns', 'host,pop,srvtype,status,last_outcome'], dir);
  t.equal(table.code, 0, table.stderr);
  t.same(lines(table.stdout).map((l) => l.split(/\s{2,}/)), [
    ['HOST', 'POP', 'SRVTYPE', 'STATUS', 'OUTCOME'],
    ['----', '---', '-------', '------', '-------'],
    ['web1', 'ams', 'web', 'prod', 'ok'],
    ['db1', 'fra', 'db', 'spare', '-'],
  ], 'the columns asked, in that order');
  const dflt = lines((await jf(['hosts'], dir)).stdout)[0]!;
  t.match(dflt, /^HOST\s+PROD\s+LAST ATTEMPT\s+LAST SUCCESS\s+OUTCOME\s+CODE$/, 'the default table is unchanged');
  const csv = await jf(['hosts', '--columns', 'pop,host', '--format', 'csv'], dir);
  t.equal(csv.stdout, 'pop,host\r\nams,web1\r\nfra,db1\r\n', 'csv follows --columns too');
  const nd = lines((await jf(['hosts', '--columns', 'host,status', '--format', 'ndjson'], dir)).stdout).map((l) => JSON.parse(l));
  t.same(nd, [{ host: 'web1', status: 'prod' }, { host: 'db1', status: 'spare' }]);
  const full = JSON.parse((await jf(['hosts', '--columns', 'host', '--json'], dir)).stdout);
  t.match(full[0], { host: 'web1', pop: 'ams', srvtype: 'web', status: 'prod' }, 'json keeps every column');
  const bad = await jf(['hosts', '--columns', 'host,site'], dir);
  t.equal(bad.code, 64);
  t.match(bad.stderr, /--columns: unknown column "site"; the columns are host, prod, status, srvtype, pop,/);

  const typo = await jf(['facts', 'web1', '--type', 'kernel'], dir);
  t.equal(typo.code, 0);
  t.match(typo.stderr, /warning: no fact of type "kernel" was ever stored; known types: rkernel/);
  const sub = JSON.parse((await jf(['facts', 'web1', '--type', 'rkernel', '--subtype', 'default', '--json'], dir)).stdout);
  t.match(sub.facts, [{ type: 'rkernel', subtype: 'default', value: '6.1.0-27-amd64' }], 'facts takes --subtype');
});
