import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, InventoryError } from '../src/core/errors.js';
import { loadConfig } from '../src/config/load.js';
import { parseBool, parseDuration, parseSize } from '../src/config/values.js';
import { parseHostField, parseInventory, readInventory } from '../src/inventory/csv.js';
import type { InventoryHost } from '../src/inventory/host.js';
import { orderHosts } from '../src/inventory/order.js';
import { displayUrl, pgTlsWarning } from '../src/store/database-url.js';
import { trustWarnings } from '../src/app/trust-warnings.js';

t.test('durations, booleans, sizes', async (t) => {
  t.equal(parseDuration('30'), 30_000);
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('5m'), 300_000);
  t.equal(parseDuration('8h'), 28_800_000);
  t.equal(parseDuration('3d'), 259_200_000);
  t.equal(parseDuration('250ms'), 250);
  t.equal(parseDuration('5 minutes'), undefined);
  t.equal(parseDuration('-1s'), undefined);
  for (const w of ['true', 'YES', '1', 'On']) t.equal(parseBool(w), true, w);
  for (const w of ['false', 'No', '0', 'OFF']) t.equal(parseBool(w), false, w);
  t.equal(parseBool('maybe'), undefined);
  t.equal(parseSize('8MB'), 8 * 1024 * 1024);
  t.equal(parseSize('512k'), 512 * 1024);
  t.equal(parseSize('12 parsecs'), undefined);
});

function writeIni(t: Test, text: string): string {
  const dir = t.testdir({ 'scheduler.ini': text });
  return path.join(dir, 'scheduler.ini');
}

t.test('the old layout loads, relative paths resolve against the INI folder', async (t) => {
  const file = writeIni(t, [
    '[GLOBAL]', 'jellyfish_version = 2.3', 'lockfile = run/jf.lock', '',
    '[paramiko]', 'paramiko_user = collector', 'port = 2200', 'host_key_policy = Strict', '',
    '[collector]', 'threads = 64', 'threadtimeout = 2h', 'prod_statuses = prod, Live', '',
    '[storage]', 'storeconfig = /etc/jellyfish/mysql.cnf', 'database = db/jf.db', '',
    '[results]', 'output_json_file = yes', 'result_json = out.json', '',
  ].join('\n'));
  const c = loadConfig({ file });
  const dir = path.dirname(file);
  t.equal(c.lockfile, path.join(dir, 'run/jf.lock'));
  t.equal(c.ssh.user, 'collector');
  t.equal(c.ssh.port, 2200);
  t.equal(c.ssh.hostKeyPolicy, 'strict');
  t.equal(c.collector.threads, 64);
  t.equal(c.collector.threadtimeoutMs, 7_200_000);
  t.same(c.collector.prodStatuses, ['prod', 'live']);
  t.equal(c.storage.database, path.join(dir, 'db/jf.db'));
  t.equal(c.results.outputJsonFile, true);
  t.equal(c.collector.hostTimeoutMs, 300_000, 'default host_timeout 5m');
  t.equal(c.gapfix.threads, 16);
  t.ok(c.warnings.some((w) => w.includes('storeconfig')), 'storeconfig is ignored with a warning');
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.collector));
});

t.test('config errors name file:line, the key and what was expected', async (t) => {
  const cases: [string, RegExp][] = [
    ['[collector]\nthreads = lots\n', /scheduler\.ini:2: \[collector\] threads = 'lots': expected a whole number/],
    ['[collector]\nthreadtimeout = 5 minutes\n', /:2: .*threadtimeout.*expected a duration/],
    ['[results]\noutput_json_file = maybe\n', /:2: .*output_json_file.*expected a boolean/],
    ['[paramiko]\nhost_key_policy = yolo\n', /:2: .*expected one of strict, accept-new, off/],
    ['[collector]\nthreds = 5\n', /:2: unknown key 'threds' in \[collector\]/],
    ['\n[bogus]\nx = 1\n', /:2: unknown section \[bogus\]/],
    ['[collector]\nthreads = 5\nthreads = 6\n', /:3: .*set twice/],
    ['threads = 5\n', /:1: 'threads' is outside any \[section\]/],
    ['[results]\nmax_fail_percent = 150\n', /:2: .*max_fail_percent.*0 to 100/],
  ];
  for (const [text, re] of cases) {
    const file = writeIni(t, text);
    t.throws(() => loadConfig({ file }), re, text.trim());
    try { loadConfig({ file }); } catch (e) { t.equal((e as ConfigError).exitCode, 78); }
  }
  t.throws(() => loadConfig({ file: '/nonexistent/scheduler.ini' }), /cannot read/);
  const dir = t.testdir({ 'a.ini': {} });
  t.throws(() => loadConfig({ file: path.join(dir, 'a.ini') }), /is a directory/);
});

t.test('BOM, CRLF and inline comments in the INI', async (t) => {
  const file = writeIni(t, '\uFEFF[collector]\r\nthreads = 12 ; twelve\r\n');
  t.equal(loadConfig({ file }).collector.threads, 12);
});

t.test('flag overrides win over the INI', async (t) => {
  const file = writeIni(t, '[collector]\nthreads = 12\n');
  const c = loadConfig({ file, overrides: new Map([['collector.threads', '3']]) });
  t.equal(c.collector.threads, 3);
  t.throws(() => loadConfig({ file, overrides: new Map([['collector.threads', 'x']]) }), /--threads/);
});

t.test('host field: names, IPs, ports, brackets', async (t) => {
  t.same(parseHostField('db7.ams'), { host: 'db7.ams' });
  t.same(parseHostField('db7.ams:2222'), { host: 'db7.ams', port: 2222 });
  t.same(parseHostField('[2001:db8::7]:2222'), { host: '2001:db8::7', port: 2222 });
  t.same(parseHostField('2001:db8::7'), { host: '2001:db8::7' });
  t.same(parseHostField('10.1.2.3'), { host: '10.1.2.3' });
  for (const bad of ['-oProxyCommand=x', 'a;rm -rf', 'db7:99999', 'db7:', '[db7]:22', '999.1.1.1', 'a..b', `${'a'.repeat(64)}.com`, 'x y']) {
    t.ok('reason' in parseHostField(bad), `rejects ${bad}`);
  }
});

t.test('inventory rows: bad rows are skipped with their line, never fatal', async (t) => {
  const text = [
    '\uFEFFhostname,srvtype,pop,status,notes',  // 1 header
    'web1.ams,web,ams,prod,front',              // 2
    '# a comment',                              // 3
    '',                                         // 4
    'web2.ams,web,ams,PROD\r',                  // 5 (CRLF, notes missing)
    'short,row',                                // 6
    ',web,ams,prod,',                           // 7
    'bad host!,web,ams,prod,',                  // 8
    'web1.ams,web,ams,spare,dup',               // 9
    '"db1.fra",db,fra,spare,"notes, with comma"', // 10
    '"multi',                                   // 11
    'line",x,y,z',                              // 12
    '[2001:db8::1]:2200,db,fra,prod,',          // 13
  ].join('\n');
  const inv = parseInventory('server4.csv', text, { prodStatuses: ['prod'] });
  t.same(inv.hosts.map((h) => h.label), ['web1.ams', 'web2.ams', 'db1.fra', '[2001:db8::1]:2200']);
  t.same(inv.hosts.map((h) => h.isProd), [true, true, false, true]);
  t.equal(inv.hosts[2]?.notes, 'notes, with comma');
  t.equal(inv.hosts[3]?.port, 2200);
  t.same(inv.invalid.map((r) => r.line), [6, 7, 8, 9, 11]);
  t.match(inv.invalid[0]?.reason, /fewer than 4 fields/);
  t.match(inv.invalid[1]?.reason, /empty hostname/);
  t.match(inv.invalid[3]?.reason, /duplicate of 'web1.ams' on line 2/);
});

t.test('inventory file errors: missing, directory, nothing valid (exit 65)', async (t) => {
  const dir = t.testdir({ 'empty.csv': '', 'junk.csv': 'a,b\n\u0000\u0001\u0002\n', 'sub': {} });
  for (const f of ['missing.csv', 'sub', 'empty.csv', 'junk.csv']) {
    try {
      readInventory(path.join(dir, f), { prodStatuses: ['prod'] });
      t.fail(`${f} should fail`);
    } catch (e) {
      t.ok(e instanceof InventoryError, f);
      t.equal((e as InventoryError).exitCode, 65);
      t.match((e as Error).message, path.join(dir, f));
    }
  }
});

t.test('a 100,000-row inventory parses', async (t) => {
  const rows = Array.from({ length: 100_000 }, (_, i) => `h${i}.example,web,ams,${i % 3 ? 'spare' : 'prod'},`);
  const dir = t.testdir({ 'big.csv': rows.join('\n') });
  const inv = readInventory(path.join(dir, 'big.csv'), { prodStatuses: ['prod'] });
  t.equal(inv.hosts.length, 100_000);
  t.equal(inv.invalid.length, 0);
  t.equal(fs.statSync(path.join(dir, 'big.csv')).isFile(), true);
});

function host(label: string, isProd: boolean, line: number): InventoryHost {
  return { label, host: label, srvtype: '', pop: '', status: isProd ? 'prod' : 'spare', notes: '', isProd, line };
}

t.test('ordering', async (t) => {
  const hosts = [host('a', false, 1), host('b', true, 2), host('c', true, 3), host('d', false, 4), host('e', true, 5)];
  const last = new Map([['b', 3000], ['c', 1000], ['a', 500]]);
  t.same(orderHosts(hosts, 'file', last).map((h) => h.label), ['a', 'b', 'c', 'd', 'e']);
  // stale-first: prod first; never collected (e) first, then oldest success (c, then b); then non-prod: d (never), a
  t.same(orderHosts(hosts, 'stale-first', last).map((h) => h.label), ['e', 'c', 'b', 'd', 'a']);
  const shuffled = orderHosts(hosts, 'shuffle', last).map((h) => h.label);
  t.same(shuffled.slice(3), ['a', 'd'], 'non-prod keep file order');
  t.same([...shuffled.slice(0, 3)].sort(), ['b', 'c', 'e']);
  // ties are shuffled: over many orders both tied hosts come first sometimes
  const tied = [host('x', true, 1), host('y', true, 2)];
  const firsts = new Set(Array.from({ length: 50 }, () => orderHosts(tied, 'stale-first', new Map())[0]?.label));
  t.same([...firsts].sort(), ['x', 'y']);
});

t.test('the README documents every setting of the settings table', async (t) => {
  const { SETTINGS } = await import('../src/config/settings.js');
  const readme = fs.readFileSync(path.resolve('README.md'), 'utf8');
  for (const s of SETTINGS) t.ok(readme.includes(`\`${s.key}\``), `README mentions ${s.section}.${s.key}`);
});

t.test('a PostgreSQL URL with a secret query parameter is refused (78) without repeating it; the one mask; TLS warning', async (t) => {
  const dir = t.testdir();
  const ini = path.join(dir, 'pg.ini');
  for (const [param, what] of [['password', 'password'], ['sslpassword', 'sslpassword'], ['PassWord', 'PassWord']]) {
    fs.writeFileSync(ini, `[storage]\ndatabase = postgresql://jf@db.example:5432/jf?sslmode=verify-full&${param}=hunter2\n`);
    const e = catchError(() => loadConfig({ file: ini }));
    t.ok(e instanceof ConfigError, `${param}= is a config error`);
    t.equal((e as ConfigError).exitCode, 78);
    t.match((e as Error).message, `${ini}:2: [storage] database: the URL carries a secret in '${what}='`);
    t.notMatch((e as Error).message, /hunter2/, 'the value is not repeated');
  }
  // A URL that does not parse is shown masked in its own error.
  fs.writeFileSync(ini, '[storage]\ndatabase = postgresql://jf:hunter2@[broken/jf\n');
  t.notMatch(catchError(() => loadConfig({ file: ini }))?.message ?? '', /hunter2/);

  t.equal(displayUrl('postgresql://jf:pw@db.example/jf?sslmode=verify-full&password=pw&sslpassword=k'),
    'postgresql://jf:***@db.example/jf?sslmode=verify-full&password=***&sslpassword=***');
  t.equal(displayUrl('postgresql://jf:pw@[bad/jf?password=pw'), 'postgresql://jf:***@[bad/jf?password=***');

  t.match(pgTlsWarning('postgresql://jf@db.example/jf', {}), /db\.example is not on this machine and sslmode is not set/);
  t.match(pgTlsWarning('postgresql://jf@db.example/jf?sslmode=require', {}), /sslmode is require, not verify-full or verify-ca/);
  t.equal(pgTlsWarning('postgresql://jf@db.example/jf?sslmode=verify-full', {}), undefined);
  t.equal(pgTlsWarning('postgresql://jf@db.example/jf', { PGSSLMODE: 'verify-ca' }), undefined, 'PGSSLMODE counts');
  for (const local of ['postgresql://jf@localhost/jf', 'postgresql://jf@127.0.0.1:5433/jf', 'postgresql://jf@[::1]/jf', 'postgresql:///jf?host=/var/run/postgresql']) {
    t.equal(pgTlsWarning(local, {}), undefined, `${local}: this machine`);
  }
  t.match(pgTlsWarning('postgresql:///jf?host=db.example', {}), /db\.example/, 'host= counts too');
  // A run prints it (once) among its warnings.
  fs.writeFileSync(ini, '[storage]\ndatabase = postgresql://jf@db.example/jf\n');
  const saved = process.env.PGSSLMODE;
  delete process.env.PGSSLMODE;
  t.teardown(() => { if (saved !== undefined) process.env.PGSSLMODE = saved; });
  t.match(trustWarnings(loadConfig({ file: ini })), [/^\[storage\] database: the PostgreSQL server db\.example is not on this machine/]);
});

function catchError(fn: () => unknown): Error | undefined {
  try { fn(); } catch (e) { return e as Error; }
  return undefined;
}
