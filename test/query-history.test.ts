// query's version predicates (--version-lt ... with --scheme), --count-by value, and the output
// formats of the read commands (--format table|json|ndjson|csv, --no-headers, natural host order),
// through the real binary on a database made by a real run against the fixture fleet: Debian and
// RHEL hosts, one whose release names neither family, one with a version dpkg refuses. The same
// questions are then asked of a PostgreSQL copy (when PostgreSQL is installed).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { countByValue, runQuery } from '../src/app/query.js';
import type { HostResult } from '../src/core/results.js';
import { csvField, renderCsv, renderNdjson } from '../src/report/output.js';
import { renderTable } from '../src/report/table.js';
import { openStore } from '../src/store/store.js';
import { postgresSkipReason, startPostgres } from './helpers/postgres.js';
import { writeEnv } from './helpers/run-env.js';

const BIN = path.resolve('bin/jellyfish');
const ESC = '\u001b';

interface Ran { code: number | null; stdout: string; stderr: string }

function jf(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** RFC 4180, enough for the test: quoted fields with doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; } else field += c;
  }
  return rows;
}

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('csv, ndjson, headless tables, counts (pure)', async (t) => {
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('two\nlines'), '"two\nlines"');
  t.equal(csvField('cr\ronly'), '"cr\ronly"');
  t.equal(csvField(' padded '), ' padded ', 'spaces are data (RFC 4180 §2.4)');
  t.equal(csvField(null), '');
  t.equal(csvField(false), 'false');
  t.equal(csvField(['b', 'a']), '"[""b"",""a""]"', 'a list as compact JSON');
  t.equal(renderCsv(['x', 'y'], [{ x: 1, y: 'a,b' }, { x: 2 }]), 'x,y\r\n1,"a,b"\r\n2,\r\n');
  t.equal(renderCsv(['x'], [], false), '', 'no rows, no header: nothing');
  t.equal(renderNdjson([{ b: 1, a: 'x' }]), '{"a":"x","b":1}\n', 'sorted keys, one line');
  t.equal(renderTable(['HOST', 'V'], [['a', '1'], ['longer', '2']], { headers: false }), 'a       1\nlonger  2\n', 'headless: padded to the rows');
  t.equal(renderTable(['HOST'], [], { headers: false }), '');
  const hit = (host: string, value: string) => ({ host, subtype: 's', value, since: '', lastSeen: '' });
  t.same(countByValue([hit('web10', '2'), hit('web2', '2'), hit('web1', '1'), hit('web2', '2')]),
    [{ value: '2', count: 2, hosts: ['web2', 'web10'] }, { value: '1', count: 1, hosts: ['web1'] }], 'distinct hosts, most first, hosts in natural order');
});

t.test('version predicates and count-by on 10,000 hosts', async (t) => {
  const store = openStore(path.join(t.testdir(), 'big.db'));
  t.teardown(() => store.close());
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: process.pid, hostname: 'bench', threads: 1, workers: 0 });
  const now = Date.now();
  const versions = ['3.0.11-1~deb12u2', '3.0.9-1', '3.0.11-1~deb12u1', '1:3.0.7-24.el9'];
  for (let b = 0; b < 10_000; b += 1000) {
    const batch: HostResult[] = [];
    for (let i = b; i < b + 1000; i++) {
      const rpm = i % 4 === 3;
      batch.push({
        label: `web${i}.example`, outcome: 'ok', startedAt: now, finishedAt: now, outputBytes: 0,
        collections: [
          { type: 'packages', status: 'ok', durationMs: 1, values: { openssl: versions[i % 4]!, bash: '5.2.15-2+b8' } },
          { type: 'release', status: 'ok', durationMs: 1, values: rpm ? { ID: 'rhel', ID_LIKE: 'fedora' } : { ID: 'debian' } },
        ],
      });
    }
    store.recordResults(runId, batch);
  }
  const started = process.hrtime.bigint();
  const view = await runQuery(store, { type: 'packages', subtype: 'openssl', versions: [{ op: 'lt', version: '3.0.11-1~deb12u2' }], scheme: 'auto', countBy: 'value' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.same(view.counts?.map((c) => [c.count, c.value]), [[2500, '3.0.9-1'], [2500, '3.0.11-1~deb12u1']], '~deb12u1 < ~deb12u2; the RHEL epoch is newer; ties in natural order');
  t.equal(view.hits[0]?.host, 'web1.example');
  t.equal(view.hits[1]?.host, 'web2.example', 'natural order: web2 before web10');
  // Generous for a loaded CI box; an idle laptop answers in a fraction of it.
  t.ok(ms < 5000, `--version-lt --scheme auto --count-by value on 10,000 hosts: ${ms.toFixed(0)} ms`);
});

t.test('query predicates, count-by and formats on a real run', async (t) => {
  const dir = t.testdir();
  const base = '127.90.1.';
  const fleet = await startFleet({ count: 12, base: `${base}1`, port: 2222, dir });
  t.teardown(() => fleet.close());
  const h = (n: number) => `${base}${n}`;
  const rhel = (name: string) => fs.readFileSync(`fixtures/outputs/rhel9/${name}.txt`, 'utf8');
  const debPackages = fs.readFileSync('fixtures/outputs/debian12/packages.txt', 'utf8');
  const openssl = (v: string, extra = '') => debPackages.replace(/^openssl .*$/m, `openssl ${v}`) + extra;
  // .1 older, .3 newer (no ~), .4 an epoch, .5 a version dpkg refuses; .9 .10 RHEL; .11 Alpine.
  fleet.setOutputs(h(1), { packages: openssl('3.0.9-1', `hostile 1,"2"${ESC}[31m\n`) });
  fleet.setOutputs(h(3), { packages: openssl('3.0.19-1') });
  fleet.setOutputs(h(4), { packages: openssl('1:1.1.1-1') });
  fleet.setOutputs(h(5), { packages: openssl('3.0.19-') });
  fleet.setOutputs(h(9), { release: rhel('release'), packages: rhel('packages') });
  fleet.setOutputs(h(10), { release: rhel('release'), packages: rhel('packages').replace(/^openssl .*$/m, 'openssl 1:3.0.7-3.el9') });
  fleet.setOutputs(h(11), { release: 'NAME Alpine Linux\nID alpine\nVERSION_ID 3.19.1\n' });
  // The inventory lists them out of natural order: a read without it must not follow it.
  const labels = fleet.hosts.map((x) => x.address);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: [...labels].reverse().map((l) => `${l},web,ams,prod`) });
  const c = ['-c', 'scheduler.ini'];
  t.equal((await jf(['run', ...c], dir)).code, 0, 'the run collects every host');
  const json = async (args: string[]) => {
    const r = await jf([...args, ...c, '--json'], dir);
    t.equal(r.code, 0, `${args.join(' ')}: exit 0`);
    return { ...JSON.parse(r.stdout), stderr: r.stderr };
  };
  const ssl = ['query', '--type', 'packages', '--subtype', 'openssl'];
  const hostsOf = (j: { hosts: { host: string }[] }) => j.hosts.map((x) => x.host);

  await t.test('--version-lt, auto: each host in its own order; unjudgeable ones left out, with a warning', async (t) => {
    const lt = await json([...ssl, '--version-lt', '3.0.19-1~deb12u2']);
    t.same(hostsOf(lt), [h(1)], 'only 3.0.9-1 is older (3.0.19-1 and 1:1.1.1-1 are newer; RHEL epoch 1 is newer)');
    t.same(lt.query, { type: 'packages', subtype: 'openssl', version_lt: '3.0.19-1~deb12u2', scheme: 'auto' });
    t.equal(lt.hosts[0].scheme, 'dpkg');
    t.same(lt.left_out.map((l: { host: string; reason: string }) => [l.host, l.reason]), [
      [h(5), 'dpkg refuses the version (revision number is empty)'],
      [h(11), 'no dpkg or rpm family in its release facts (ID, ID_LIKE)'],
    ]);
    t.match(lt.stderr, new RegExp(`warning: 1 left out of the version comparison, dpkg refuses the version \\(revision number is empty\\): ${h(5)} \\(openssl 3\\.0\\.19-\\)`));
    t.match(lt.stderr, new RegExp(`warning: 1 left out of the version comparison, no dpkg or rpm family .*: ${h(11)} `));

    const gt = await json([...ssl, '--version-gt', '3.0.19-1~deb12u2']);
    t.same(hostsOf(gt), [h(3), h(4), h(9), h(10)], '~ sorts before the release, the epoch wins; natural order (.9 before .10)');
    t.same(gt.hosts.map((x: { scheme: string }) => x.scheme), ['dpkg', 'dpkg', 'rpm', 'rpm']);
    const eq = await json([...ssl, '--version-eq', '3.0.19-1~deb12u2']);
    t.same(hostsOf(eq), [h(2), h(6), h(7), h(8), h(12)]);
    const le = await json([...ssl, '--version-le', '3.0.19-1~deb12u2']);
    t.same(hostsOf(le), [h(1), h(2), h(6), h(7), h(8), h(12)]);
    const ge = await json([...ssl, '--version-ge', '3.0.19-1~deb12u2']);
    t.same(hostsOf(ge), [h(2), h(3), h(4), h(6), h(7), h(8), h(9), h(10), h(12)]);
  });

  await t.test('--scheme rpm applies one order to every host; predicates combine', async (t) => {
    const range = await json([...ssl, '--version-ge', '1:3.0', '--version-lt', '1:3.1', '--scheme', 'rpm']);
    t.same(hostsOf(range), [h(9), h(10)], 'both RHEL hosts, in natural order');
    t.same(range.left_out, [], 'rpm orders every value, Alpine and the dpkg-invalid one too');
    t.equal(range.stderr, '');
    const newer = await json([...ssl, '--version-gt', '1:3.0.7-3.el9', '--scheme', 'rpm']);
    t.same(hostsOf(newer), [h(9)], '24.el9 is newer than 3.el9 (numbers, not text)');
    const deb = await json([...ssl, '--version-lt', '3.0.10', '--scheme', 'dpkg']);
    t.same(hostsOf(deb), [h(1)], 'in dpkg order the RHEL values compare too: their epoch 1 makes them newer');
    t.same(deb.left_out.map((l: { host: string }) => l.host), [h(5)], 'only the value dpkg refuses is left out');
  });

  await t.test('bad predicate values and flags: exit 64 naming the flag', async (t) => {
    for (const [args, why] of [
      [['--version-lt', '1.0-'], /--version-lt "1\.0-": dpkg refuses it \(revision number is empty\)/],
      [['--version-ge', ''], /--version-ge "": dpkg refuses it/],
      [['--version-gt', 'x:1', '--scheme', 'dpkg'], /--version-gt "x:1": dpkg refuses it \(epoch in version is empty\)/],
      [['--version-lt', '1', '--scheme', 'deb'], /--scheme.*'deb' is invalid/],
      [['--count-by', 'host'], /--count-by.*'host' is invalid/],
      [['--format', 'xml'], /--format.*'xml' is invalid\. Allowed choices are table, json, ndjson, csv/],
      [['--json', '--format', 'csv'], /--json is --format json: it cannot go with --format csv/],
    ] as const) {
      const r = await jf([...ssl, ...args, ...c], dir);
      t.equal(r.code, 64, `${args.join(' ')}: exit 64`);
      t.match(r.stderr, why);
      t.equal(r.stdout, '');
    }
    const rpmOnly = await jf([...ssl, '--version-lt', '1.0-', '--scheme', 'rpm', ...c, '--json'], dir);
    t.equal(rpmOnly.code, 0, 'rpm takes an empty release');
  });

  await t.test('--count-by value: the clush -b view', async (t) => {
    const counted = await json([...ssl, '--count-by', 'value']);
    t.same(counted.values.map((v: { value: string; count: number }) => [v.count, v.value]), [
      [6, '3.0.19-1~deb12u2'], [1, '1:1.1.1-1'], [1, '1:3.0.7-3.el9'], [1, '1:3.0.7-24.el9'], [1, '3.0.9-1'], [1, '3.0.19-'], [1, '3.0.19-1'],
    ], 'most hosts first, then by value in natural order');
    t.same(counted.values[0].hosts, [h(2), h(6), h(7), h(8), h(11), h(12)], 'JSON lists the hosts, in natural order');
    t.equal(counted.host_count, 12);
    t.equal(counted.query.count_by, 'value');
    const table = await jf([...ssl, '--count-by', 'value', ...c], dir);
    t.equal(table.code, 0);
    t.match(table.stdout, /^COUNT {2}VALUE\n-{5} {2}-+\n6 {6}3\.0\.19-1~deb12u2\n1 {6}1:1\.1\.1-1\n/);
    const older = await json([...ssl, '--count-by', 'value', '--version-lt', '3.0.19-1']);
    t.same(older.values.map((v: { value: string; count: number }) => [v.count, v.value]), [[5, '3.0.19-1~deb12u2'], [1, '3.0.9-1']],
      'with a predicate: counts of what holds ("5 still run ~deb12u2, 1 runs 3.0.9-1")');
    const csv = await jf([...ssl, '--count-by', 'value', '--format', 'csv', ...c], dir);
    t.equal(csv.stdout.split('\r\n')[0], 'count,value');
    t.equal(csv.stdout.split('\r\n')[1], '6,3.0.19-1~deb12u2');
    const nd = (await jf([...ssl, '--count-by', 'value', '--format', 'ndjson', ...c], dir)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    t.same(nd[0], { count: 6, hosts: [h(2), h(6), h(7), h(8), h(11), h(12)], value: '3.0.19-1~deb12u2' });
  });

  await t.test('formats: csv (RFC 4180), ndjson, --no-headers, table escaping, natural order', async (t) => {
    const q = ['query', '--type', 'packages', '--subtype', 'hostile'];
    const csv = await jf([...q, '--format', 'csv', ...c], dir);
    t.equal(csv.code, 0);
    t.ok(csv.stdout.endsWith('\r\n'), 'CRLF line ends');
    t.equal(csv.stdout.split('\r\n')[0], 'host,subtype,value,since,last_seen');
    t.match(csv.stdout, new RegExp(`^${h(1).replace(/\./g, '\\.')},hostile,"1,""2""${ESC}\\[31m",`, 'm'), 'comma and quotes quoted, the value whole');
    t.same(parseCsv(csv.stdout).map((r) => r.slice(0, 3)), [['host', 'subtype', 'value'], [h(1), 'hostile', `1,"2"${ESC}[31m`]]);
    const bare = await jf([...q, '--format', 'csv', '--no-headers', ...c], dir);
    t.equal(bare.stdout, csv.stdout.slice(csv.stdout.indexOf('\r\n') + 2), '--no-headers drops the header row only');
    const table = await jf(q.concat(c), dir);
    t.notMatch(table.stdout, new RegExp(ESC), 'the table never sends a host\'s escape to the terminal');
    t.match(table.stdout, /hostile\s+1,"2"\\x1b\[31m/);
    const nd = await jf([...q, '--format', 'ndjson', ...c], dir);
    const lines = nd.stdout.trim().split('\n');
    t.equal(lines.length, 1);
    t.match(JSON.parse(lines[0]!), { host: h(1), subtype: 'hostile', value: `1,"2"${ESC}[31m` });
    t.notMatch(nd.stdout, new RegExp(ESC), 'JSON escapes it');

    const kern = (await jf(['query', '--type', 'rkernel', '--format', 'csv', '--no-headers', ...c], dir)).stdout.trim().split('\r\n').map((l) => l.split(',')[0]);
    t.same(kern, labels, `natural order: ${h(2)} before ${h(10)}, whatever the inventory's order`);
    const noHead = await jf(['query', '--type', 'rkernel', '--no-headers', ...c], dir);
    t.equal(noHead.stdout.split('\n')[0]?.split(/\s+/)[0], h(1), 'the table without its header and rule');
    t.equal(noHead.stdout.trimEnd().split('\n').length, 12);

    const hostsCsv = parseCsv((await jf(['hosts', '--format', 'csv', ...c], dir)).stdout);
    t.same(hostsCsv[0], ['host', 'prod', 'status', 'srvtype', 'pop', 'last_attempt_at', 'last_success_at', 'last_outcome', 'last_code', 'last_message', 'sapi_at']);
    t.same(hostsCsv.slice(1).map((r) => r[0]), [...labels].reverse(), 'hosts keeps the inventory order');
    t.same(hostsCsv[1]?.slice(1, 5), ['true', 'prod', 'web', 'ams']);
    const all = (await jf(['hosts', '--all', '--format', 'ndjson', ...c], dir)).stdout.trim().split('\n').map((l) => JSON.parse(l).host);
    t.same(all, labels, 'hosts --all: natural order');
    const facts = parseCsv((await jf(['facts', h(9), '--type', 'release', '--format', 'csv', ...c], dir)).stdout);
    t.same(facts[0], ['host', 'type', 'subtype', 'value', 'first_seen', 'last_seen', 'current']);
    t.ok(facts.slice(1).some((r) => r[0] === h(9) && r[2] === 'ID' && r[3] === 'rhel' && r[6] === 'true'));
    const factsNd = (await jf(['facts', h(9), '--type', 'release', '--format', 'ndjson', ...c], dir)).stdout.trim().split('\n');
    t.equal(factsNd.length, facts.length - 1, 'one ndjson line per csv row');
    const status = parseCsv((await jf(['status', '--format', 'csv', ...c], dir)).stdout);
    t.equal(status[0]?.[0], 'mode');
    t.match(Object.fromEntries(status[0]!.map((k, i) => [k, status[1]?.[i]])), { mode: 'run', run_id: '1', state: 'finished', exit_code: '0', success: '12', failed: '0' });
    const statusNd = JSON.parse((await jf(['status', '--format', 'ndjson', ...c], dir)).stdout.trim());
    t.match(statusNd, { mode: 'run', state: 'finished', success: 12 });
    const compact = await jf(['hosts', '--format', 'json', '--compact', ...c], dir);
    t.equal(compact.stdout.trim().split('\n').length, 1, '--compact with --format json');
    t.equal((await jf(['doctor', '--format', 'csv', ...c], dir)).code, 64, 'doctor has table and json only');
  });

  await t.test('--help: every format flag and an example', async (t) => {
    for (const cmd of ['hosts', 'facts', 'query', 'status']) {
      const r = await jf([cmd, '--help'], dir);
      const flat = r.stdout.replace(/\s+/g, ' ');
      t.match(flat, /--format <format> output format \(default table\) \(choices: "table", "json", "ndjson", "csv"\)/, `${cmd}: --format`);
      t.match(r.stdout, /--no-headers/, `${cmd}: --no-headers`);
      t.match(r.stdout, /--compact/);
      t.match(r.stdout, /Examples:\n {2}jellyfish /);
    }
    const q = (await jf(['query', '--help'], dir)).stdout;
    for (const flag of ['--version-lt', '--version-le', '--version-eq', '--version-ge', '--version-gt', '--scheme', '--count-by']) t.match(q, flag);
    t.match(q, /jellyfish query --type packages --subtype openssl --version-lt 3\.0\.11-1~deb12u2/);
    t.match(q, /--count-by value/);
  });

  const skip = postgresSkipReason();
  await t.test('the same answers from PostgreSQL', { skip: skip ?? false }, async (t) => {
    const pgs = await startPostgres();
    t.teardown(() => pgs.stop());
    const url = await pgs.createDatabase('query');
    const mig = await jf(['migrate', '--to', url, '--from', 'var/jf.db', ...c, '--json'], dir, pgs.env);
    t.equal(mig.code, 0, 'migrated');
    fs.writeFileSync(path.join(dir, 'pg.ini'), fs.readFileSync(path.join(dir, 'scheduler.ini'), 'utf8').replace(/database = .*/, `database = ${url}`));
    for (const args of [
      [...ssl, '--version-lt', '3.0.19-1~deb12u2'],
      [...ssl, '--version-ge', '1:3.0', '--version-lt', '1:3.1', '--scheme', 'rpm'],
      [...ssl, '--count-by', 'value'],
      ['query', '--type', 'rkernel'],
    ]) {
      const lite = await jf([...args, ...c, '--json'], dir);
      const pgr = await jf([...args, '-c', 'pg.ini', '--json'], dir, pgs.env);
      t.equal(pgr.code, 0, `${args.join(' ')}: exit 0 on PostgreSQL`);
      t.same(JSON.parse(pgr.stdout), JSON.parse(lite.stdout), `${args.join(' ')}: the same JSON`);
      t.equal(pgr.stderr, lite.stderr, 'the same warnings');
    }
  });
});
