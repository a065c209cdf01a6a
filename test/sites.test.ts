import path from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, UsageError } from '../src/core/errors.js';
import { loadConfig } from '../src/config/load.js';
import { parseShard, parseSites } from '../src/config/values.js';
import { parseInventory } from '../src/inventory/csv.js';
import type { InventoryHost } from '../src/inventory/host.js';
import {
  coverageJson, coverageLabel, fmix32, fnv1a32, hostHash, lockScope, selectSites, shardKey, shardOf,
  type SiteCoverage,
} from '../src/inventory/sites.js';

/** A row without a port (rows with ports come from parseInventory below). */
function host(label: string, pop: string, line = 1): InventoryHost {
  return { label, host: label, srvtype: 'web', pop, status: 'prod', notes: '', isProd: true, line };
}

const labels = (hs: InventoryHost[]): string[] => hs.map((h) => h.label);

const FLEET = [
  host('web1.ams', 'ams', 1), host('db1.fra', 'fra', 2), host('web2.ams', 'AMS', 3),
  host('lb1.lon', ' lon ', 4), host('db2.fra', 'Fra', 5), host('web3.ams', 'ams', 6),
];

t.test('filtering by one site or two, case-insensitive, inventory order kept', async (t) => {
  const one = selectSites(FLEET, { sites: ['ams'] });
  t.same(labels(one.hosts), ['web1.ams', 'web2.ams', 'web3.ams'], 'pop AMS matches site ams');
  t.same(one.covered, { sites: ['ams'], unknownSites: [] });
  const two = selectSites(FLEET, { sites: ['FRA', ' ams'] });
  t.same(labels(two.hosts), ['web1.ams', 'db1.fra', 'web2.ams', 'db2.fra', 'web3.ams'], 'file order, not site order');
  t.same(two.covered.sites, ['ams', 'fra'], 'sites lower-cased and sorted');
  t.same(labels(selectSites(FLEET, { sites: ['LON'] }).hosts), ['lb1.lon'], 'a pop with blanks around it is trimmed');
  const all = selectSites(FLEET, { sites: [] });
  t.same(labels(all.hosts), labels(FLEET), 'no site = every host');
  t.equal(all.covered.sites, 'all');
  t.not(all.hosts, FLEET, 'a new array, the inventory is not shared');
  t.same(selectSites(FLEET, { sites: ['ams', 'AMS'] }).covered.sites, ['ams'], 'one site named twice counts once');
});

t.test('sites no inventory row has are reported, not fatal', async (t) => {
  const r = selectSites(FLEET, { sites: ['ams', 'XYZ', 'par'] });
  t.same(labels(r.hosts), ['web1.ams', 'web2.ams', 'web3.ams']);
  t.same(r.covered.unknownSites, ['par', 'xyz']);
  const none = selectSites(FLEET, { sites: ['xyz'] });
  t.same(none.hosts, []);
  t.same(none.covered.unknownSites, ['xyz']);
  // a site whose hosts all fall in other shards is still known
  const sharded = selectSites([host('only.fra', 'fra')], { sites: ['fra'], shard: { index: shardOf(host('only.fra', 'fra'), 2) === 1 ? 2 : 1, count: 2 } });
  t.same(sharded.hosts, []);
  t.same(sharded.covered.unknownSites, []);
});

t.test('the hash is fixed: known values, the same on every machine', async (t) => {
  // FNV-1a 32-bit reference vectors
  t.equal(fnv1a32(''), 0x811c9dc5);
  t.equal(fnv1a32('a'), 0xe40c292c);
  t.equal(fnv1a32('foobar'), 0xbf9cf968);
  t.equal(fmix32(0), 0);
  t.equal(fmix32(fnv1a32('foobar')), 0x0c0da6dc);
  t.equal(hostHash(host('db7.ams', 'ams')), 0xd47f28d3);
  t.equal(hostHash(host('web1.ams', 'ams')), 0xb244f674);
  t.equal(hostHash(host('2001:db8::1', 'ams')), 0xe5777f3a);
  t.equal(shardOf(host('db7.ams', 'ams'), 4), 4);
  t.equal(shardOf(host('web1.ams', 'ams'), 4), 1);
  t.equal(shardOf(host('2001:db8::1', 'ams'), 4), 3);
  t.equal(shardOf(host('db7.ams', 'ams'), 1), 1);
});

t.test('the shard key: no port, lower case, no trailing dot', async (t) => {
  const inv = parseInventory('server4.csv', [
    'db7.ams,db,ams,prod', 'DB7.AMS:2222,db,ams,prod', 'db7.ams.:2200,db,ams,prod', '[2001:DB8::7]:22,db,ams,prod', '2001:db8::7,db,ams,prod',
  ].join('\n'), { prodStatuses: ['prod'] });
  const [a, b, c, d, e] = inv.hosts;
  t.ok(a && b && c && d && e, 'five rows parsed');
  t.equal(shardKey(a!), 'db7.ams');
  t.equal(shardKey(b!), 'db7.ams', 'a port change does not move a host');
  t.equal(shardKey(c!), 'db7.ams');
  t.equal(shardKey(d!), '2001:db8::7');
  t.equal(hostHash(a!), hostHash(b!));
  t.equal(hostHash(d!), hostHash(e!));
});

t.test('names that differ only in odd digits do not pile into one shard', async (t) => {
  // plain FNV-1a modulo 2 puts every one of these in the same shard
  const hs = ['db1.ams', 'db3.ams', 'db5.ams', 'db7.ams', 'db9.ams'].map((n) => host(n, 'ams'));
  t.same(new Set(hs.map((h) => shardOf(h, 2))).size, 2);
});

const BIG = Array.from({ length: 1000 }, (_, i) => host(`h${i}.${['ams', 'fra', 'lon'][i % 3]}.example.net`, ['ams', 'fra', 'lon'][i % 3]!, i + 1));

t.test('every host is in exactly one of N shards, shards roughly even (N = 1..7)', async (t) => {
  for (let n = 1; n <= 7; n++) {
    const owner = new Map<string, number>();
    const sizes: number[] = [];
    for (let k = 1; k <= n; k++) {
      const r = selectSites(BIG, { sites: [], shard: { index: k, count: n } });
      sizes.push(r.hosts.length);
      t.same(r.hosts.map((h) => h.line), [...r.hosts.map((h) => h.line)].sort((a, b) => a - b), `N=${n} K=${k}: inventory order kept`);
      for (const h of r.hosts) {
        if (owner.has(h.label)) t.fail(`${h.label} is in shard ${owner.get(h.label)} and ${k} of ${n}`);
        owner.set(h.label, k);
      }
      t.equal(r.covered.shard, `${k}/${n}`);
    }
    t.equal(owner.size, 1000, `N=${n}: every host in some shard`);
    const even = 1000 / n;
    for (const [i, s] of sizes.entries()) t.ok(Math.abs(s - even) <= 0.3 * even, `N=${n} shard ${i + 1}: ${s} hosts, ${Math.round(even)} expected`);
  }
});

t.test('a shard of a site: sites first, then the shard of those', async (t) => {
  const ams = selectSites(BIG, { sites: ['ams'] }).hosts;
  const parts = [1, 2].map((k) => selectSites(BIG, { sites: ['ams'], shard: { index: k, count: 2 } }).hosts);
  t.equal((parts[0]?.length ?? 0) + (parts[1]?.length ?? 0), ams.length);
  t.ok(parts.every((p) => p.every((h) => h.pop === 'ams')));
  t.same(parts[0], ams.filter((h) => shardOf(h, 2) === 1));
});

t.test('a shard out of range is refused (the config loader should have caught it)', async (t) => {
  for (const shard of [{ index: 0, count: 2 }, { index: 3, count: 2 }, { index: 1, count: 0 }, { index: 1.5, count: 2 }, { index: 1, count: 5000 }]) {
    t.throws(() => selectSites(FLEET, { sites: [], shard }), RangeError, `${shard.index}/${shard.count}`);
  }
});

t.test('coverage labels, lock scopes and the JSON', async (t) => {
  const cov = (sites: SiteCoverage['sites'], shard?: string): SiteCoverage => ({ sites, ...(shard ? { shard } : {}), unknownSites: [] });
  t.equal(coverageLabel(cov('all')), 'all sites');
  t.equal(coverageLabel(cov(['ams'])), 'site ams');
  t.equal(coverageLabel(cov(['ams', 'fra'])), 'sites ams,fra');
  t.equal(coverageLabel(cov('all', '2/4')), 'all sites, shard 2/4');
  t.equal(coverageLabel(cov(['ams'], '1/2')), 'site ams, shard 1/2');

  t.equal(lockScope(cov('all')), 'all');
  t.equal(lockScope(cov(['ams', 'fra'])), 'site:ams,fra');
  t.equal(lockScope(cov('all', '2/4')), 'shard:2/4');
  t.equal(lockScope(cov(['ams'], '1/2')), 'site:ams/shard:1/2');
  t.equal(lockScope(cov(['FRA', 'ams'])), 'site:ams,fra', 'sorted and lower-cased even when built by hand');
  const a = selectSites(FLEET, { sites: ['FRA', 'ams'], shard: { index: 2, count: 3 } }).covered;
  const b = selectSites(FLEET, { sites: ['ams', 'fra'], shard: { index: 2, count: 3 } }).covered;
  t.equal(lockScope(a), lockScope(b), 'the same scope however the sites were written');
  t.equal(lockScope(a), 'site:ams,fra/shard:2/3');

  t.same(coverageJson(cov('all')), { sites: 'all' });
  t.same(coverageJson(cov(['ams', 'fra'])), { sites: ['ams', 'fra'] });
  t.same(coverageJson(cov('all', '2/4')), { sites: 'all', shard: '2/4' });
  t.same(coverageJson(selectSites(FLEET, { sites: ['xyz'] }).covered), { sites: ['xyz'] }, 'unknown sites stay out of the JSON');
  t.same(JSON.parse(JSON.stringify(coverageJson(b))), { sites: ['ams', 'fra'], shard: '2/3' });
});

t.test('site and shard syntax', async (t) => {
  t.same(parseSites(''), []);
  t.same(parseSites('  '), []);
  t.same(parseSites('ams'), ['ams']);
  t.same(parseSites(' AMS , fra,ams'), ['ams', 'fra']);
  for (const bad of ['ams,,fra', 'ams,', 'new york', 'ams/1', ',']) t.equal(parseSites(bad), undefined, bad);
  t.same(parseShard('2/4'), { index: 2, count: 4 });
  t.same(parseShard(' 1 / 1 '), { index: 1, count: 1 });
  t.same(parseShard('4096/4096'), { index: 4096, count: 4096 });
  for (const bad of ['0/4', '5/4', '1/0', '1/4097', '2', '2/', '/4', 'a/b', '-1/4', '1.5/4', '2/4/8', '1e3/2000']) t.equal(parseShard(bad), undefined, bad);
});

function writeIni(t: Test, text: string): string {
  const dir = t.testdir({ 'scheduler.ini': text });
  return path.join(dir, 'scheduler.ini');
}

t.test('[collector] sites and shard from the INI', async (t) => {
  const dflt = loadConfig({ file: writeIni(t, '[collector]\nthreads = 4\n') });
  t.same(dflt.collector.sites, [], 'default: all sites');
  t.equal(dflt.collector.shard, undefined, 'default: no shard');
  const c = loadConfig({ file: writeIni(t, '[collector]\nsites = AMS, fra\nshard = 2/4\n') });
  t.same(c.collector.sites, ['ams', 'fra']);
  t.same(c.collector.shard, { index: 2, count: 4 });
  const empty = loadConfig({ file: writeIni(t, '[collector]\nsites =\nshard =\n') });
  t.same(empty.collector.sites, []);
  t.equal(empty.collector.shard, undefined);
  t.ok(empty.explicit.has('collector.sites'));
});

t.test('bad sites and shard in the INI: file:line and what is expected (exit 78)', async (t) => {
  const cases: [string, RegExp][] = [
    ['[collector]\nsites = new york\n', /scheduler\.ini:2: \[collector\] sites = 'new york': expected a comma-separated list of site names/],
    ['[collector]\nsites = ams,,fra\n', /scheduler\.ini:2: \[collector\] sites = 'ams,,fra'/],
    ['[collector]\nthreads = 4\nshard = 5/4\n', /scheduler\.ini:3: \[collector\] shard = '5\/4': expected K\/N with whole numbers 1 <= K <= N <= 4096/],
    ['[collector]\nshard = 0/4\n', /scheduler\.ini:2: .*shard.*expected K\/N/],
    ['[collector]\nshard = 1/5000\n', /scheduler\.ini:2: .*shard.*4096/],
    ['[collector]\nshard = half\n', /scheduler\.ini:2: .*shard = 'half'/],
  ];
  for (const [text, re] of cases) {
    const file = writeIni(t, text);
    t.throws(() => loadConfig({ file }), re, text.trim());
    try { loadConfig({ file }); } catch (e) { t.ok(e instanceof ConfigError); t.equal((e as ConfigError).exitCode, 78); }
  }
});

t.test('--site and --shard override the INI; a bad flag value is a usage error (64)', async (t) => {
  const file = writeIni(t, '[collector]\nsites = ams\nshard = 1/2\n');
  const c = loadConfig({ file, overrides: new Map([['collector.sites', 'fra,LON'], ['collector.shard', '3/3']]) });
  t.same(c.collector.sites, ['fra', 'lon']);
  t.same(c.collector.shard, { index: 3, count: 3 });
  t.same(loadConfig({ file, overrides: new Map([['collector.sites', 'ams']]) }).collector.sites, ['ams'], '--site ams');
  for (const [id, value, re] of [
    ['collector.shard', '3/2', /--shard: \[collector\] shard = '3\/2': expected K\/N/],
    ['collector.sites', 'a b', /--site: \[collector\] sites = 'a b'/],
  ] as const) {
    try {
      loadConfig({ file, overrides: new Map([[id, value]]) });
      t.fail(`${value} should fail`);
    } catch (e) {
      t.ok(e instanceof UsageError, value);
      t.equal((e as UsageError).exitCode, 64);
      t.match((e as Error).message, re);
    }
  }
});

t.test('the flags come from the settings table', async (t) => {
  const { Command } = await import('commander');
  const { addOverrideFlags, overridesFrom } = await import('../src/cli/options.js');
  const cmd = addOverrideFlags(new Command('run').exitOverride());
  cmd.parse(['--site', 'ams,fra', '--shard', '2/4'], { from: 'user' });
  const over = overridesFrom(cmd.opts());
  t.equal(over.get('collector.sites'), 'ams,fra');
  t.equal(over.get('collector.shard'), '2/4');
  t.match(cmd.helpInformation(), /--site <list>/);
  t.match(cmd.helpInformation(), /--shard <K\/N>/);
});
