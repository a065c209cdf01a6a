// Both advisory feed formats end to end, through the built CLI: a real run over the fixture fleet
// (Debian 12 current, Debian 12 held back on openssl, Ubuntu 22.04, RHEL 9), `jellyfish feed`
// from a Debian tracker JSON and from an OSV folder, `jellyfish analyze -a` over both outputs,
// and `jellyfish audits NAME --failing` naming exactly the exposed hosts. Then the held-back host
// is upgraded: the next run and analyze show it fixed.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { jf } from './helpers/jellyfish-cli.js';
import { writeEnv } from './helpers/run-env.js';

const OUTPUTS = path.resolve('fixtures/outputs');
const recorded = (profile: string, type: string) => fs.readFileSync(path.join(OUTPUTS, profile, `${type}.txt`), 'utf8');
/** A recorded `name version` list with one name at another version. */
const withVersion = (profile: string, type: string, name: string, version: string) =>
  recorded(profile, type).split('\n').map((l) => (l.split(' ')[0] === name ? `${name} ${version}` : l)).join('\n');

const TRACKER = {
  openssl: {
    'CVE-2099-0001': { description: 'fixture', releases: { bookworm: { status: 'resolved', fixed_version: '3.0.19-1~deb12u2', urgency: 'high' } } },
  },
  curl: {
    'CVE-2099-0002': { description: 'fixture', releases: { bookworm: { status: 'open', urgency: 'medium' } } },
  },
};
const osv = (id: string, ecosystem: string, name: string, fixed: string) => ({
  schema_version: '1.6.0', id, modified: '2099-01-01T00:00:00Z', published: '2099-01-01T00:00:00Z', summary: `${name} fixture`, details: 'fixture',
  affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }],
});

t.test('feed (tracker and OSV) -> audit files -> analyze -> audits names the failing hosts', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 4, base: '127.121.0.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const [deb, old, ubu, rhel] = fleet.hosts.map((h) => h.address) as [string, string, string, string];
  // deb: the recorded Debian 12 host (openssl 3.0.19-1~deb12u2). old: the same, openssl held back.
  fleet.setOutputs(old, { 'package-sources': withVersion('debian12', 'package-sources', 'openssl', '3.0.15-1~deb12u1') });
  for (const [host, profile] of [[ubu, 'ubuntu22'], [rhel, 'rhel9']] as const) {
    fleet.setOutputs(host, Object.fromEntries(['release', 'os', 'package-sources', 'packages'].map((type) => [type, recorded(profile, type)])));
  }
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222,
    rows: [deb, old, ubu, rhel].map((h) => `${h},web,ams,prod`), collectors: fs.readFileSync('config/collector.ini', 'utf8'),
  });
  const c = ['-c', 'scheduler.ini'];
  const run = await jf(['run', ...c], dir);
  t.equal(run.code, 0, run.stderr);

  fs.writeFileSync(path.join(dir, 'tracker.json'), JSON.stringify(TRACKER));
  fs.mkdirSync(path.join(dir, 'osv'));
  fs.writeFileSync(path.join(dir, 'osv/USN-9001-1.json'), JSON.stringify(osv('USN-9001-1', 'Ubuntu:22.04:LTS', 'openssl', '3.0.2-0ubuntu1.16')));
  fs.writeFileSync(path.join(dir, 'osv/RHSA-2099_1.json'), JSON.stringify(osv('RHSA-2099:1', 'Red Hat:enterprise_linux:9::appstream', 'openssl', '1:3.0.7-27.el9')));
  const tracker = await jf(['feed', 'tracker.json', '--from', 'debian-tracker', '--out', 'feeds/debian', '--compact'], dir);
  t.equal(tracker.code, 0, tracker.stderr);
  t.match(JSON.parse(tracker.stdout), { files_written: 2, unfixed_files: 1 });
  t.same(fs.readdirSync(path.join(dir, 'feeds/debian')).sort(), ['CVE-2099-0001_openssl.json', 'CVE-2099-0002_curl.unfixed.json']);
  const fromOsv = await jf(['feed', 'osv', '--from', 'osv', '--out', 'feeds/osv', '--compact'], dir);
  t.equal(fromOsv.code, 0, fromOsv.stderr);
  t.same(fs.readdirSync(path.join(dir, 'feeds/osv')).sort(), ['RHSA-2099_1.json', 'USN-9001-1.json']);

  const analyze = async () => {
    const r = await jf(['analyze', ...c, '-a', 'feeds/debian', '-a', 'feeds/osv', '--compact'], dir);
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { audits: number; hosts_evaluated: number; errors: unknown[] };
  };
  const failing = async (audit: string) => {
    const r = await jf(['audits', audit, ...c, '--failing', '--json'], dir);
    t.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout).hosts as { host: string }[]).map((h) => h.host);
  };
  const s = await analyze();
  t.match(s, { audits: 4, hosts_evaluated: 4, errors: [] });
  t.same(await failing('CVE-2099-0001 openssl'), [old], 'tracker, fixed: only the Debian host behind the fix (source package, dpkg order with ~)');
  t.same(await failing('CVE-2099-0002 curl'), [deb, old], 'tracker, unfixed: every Debian host with the curl source package');
  t.same(await failing('USN-9001-1 openssl'), [ubu], 'OSV Ubuntu: the jammy host');
  t.same(await failing('RHSA-2099:1 openssl'), [rhel], 'OSV Red Hat: the RHEL 9 host (packages, rpm order with epoch)');
  const list = await jf(['audits', ...c, '--failing', '--json'], dir);
  const byName = Object.fromEntries((JSON.parse(list.stdout).audits as { name: string; fail: number; exempt: number; pass: number }[]).map((a) => [a.name, [a.pass, a.fail, a.exempt]]));
  t.same(byName, {
    'CVE-2099-0001 openssl': [1, 1, 0],
    'CVE-2099-0002 curl': [0, 2, 0],
    'USN-9001-1 openssl': [0, 1, 0],
    'RHSA-2099:1 openssl': [0, 1, 0],
  }, 'hosts of other releases are in no bucket: not counted');

  // The held-back host gets the update: the next run and analyze show it fixed.
  fleet.setOutputs(old, { 'package-sources': recorded('debian12', 'package-sources') });
  t.equal((await jf(['run', ...c], dir)).code, 0);
  await analyze();
  t.same(await failing('CVE-2099-0001 openssl'), [], 'nobody fails the fixed CVE any more');
  const detail = JSON.parse((await jf(['audits', 'CVE-2099-0001 openssl', ...c, '--json'], dir)).stdout) as { hosts: { host: string; result: string; fixed_at: string | null }[] };
  const fixed = detail.hosts.find((h) => h.host === old);
  t.equal(fixed?.result, 'pass');
  t.ok(fixed?.fixed_at, `fixed at ${fixed?.fixed_at}`);
  const facts = JSON.parse((await jf(['facts', old, ...c, '--audits', '--json'], dir)).stdout) as { audits: { audit: string; result: string }[] };
  t.same(facts.audits.map((a) => [a.audit, a.result]).sort(), [['CVE-2099-0001 openssl', 'pass'], ['CVE-2099-0002 curl', 'fail']], 'facts HOST --audits');
});
