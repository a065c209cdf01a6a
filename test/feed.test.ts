// `jellyfish feed`: Debian tracker and OSV feeds (file, folder, zip, ZIP64, stdin) -> audit files in
// the old JSON format; every written file's structure checked; hostile names and archives;
// malformed entries skipped and reported; --releases; unfixed -> fixed; the CLI's exit codes; and
// the collections the audits compare (package-sources, os, release default) through a real run
// over the fixture fleet (127.120.0.0/16).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { makeZip } from '../fixtures/feeds/make-feeds.mjs';
import { runFeed, type FeedRequest } from '../src/app/feed.js';
import { NoInputError } from '../src/core/errors.js';
import { ecosystemTarget, priorityOfWord, type AuditJson } from '../src/feeds/audit.js';
import { cvss3BaseScore } from '../src/feeds/cvss.js';
import { MemberScanError, MemberScanner } from '../src/feeds/json-members.js';
import { fileNames, safeBase } from '../src/feeds/write.js';
import { ZipError, ZipReader } from '../src/feeds/zip.js';
import { compareDpkg, compareRpm } from '../src/versions/index.js';
import { BIN, jf } from './helpers/jellyfish-cli.js';
import { writeEnv } from './helpers/run-env.js';

const FEEDS = path.resolve('fixtures/feeds');
const OUTPUTS = path.resolve('fixtures/outputs');
const AUDIT_KEYS = ['comparisons', 'filters', 'vuln-additional-links', 'vuln-long-description', 'vuln-name', 'vuln-primary-link', 'vuln-priority', 'vuln-short-description'];
const FILTER_KEYS = ['filter-collection-subtype', 'filter-collection-type', 'filter-match', 'filter-match-value'];
const COMPARISON_KEYS = ['comparison-collection-subtype', 'comparison-collection-type', 'comparison-match', 'comparison-match-value'];

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js') || fs.statSync('dist/cli/feed-command.js', { throwIfNoEntry: false }) === undefined) {
    spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  }
});

/** Every way a written audit can differ from the format the audit loader reads; [] when it is right. */
function auditProblems(name: string, a: unknown): string[] {
  const p: string[] = [];
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return [`${name}: not an object`];
  const audit = a as Record<string, unknown>;
  const keys = Object.keys(audit).sort();
  if (JSON.stringify(keys) !== JSON.stringify(AUDIT_KEYS)) p.push(`${name}: keys ${keys.join(',')}`);
  if (audit['vuln-name'] !== name) p.push(`${name}: vuln-name ${String(audit['vuln-name'])} is not its key`);
  for (const k of ['vuln-short-description', 'vuln-long-description']) if (typeof audit[k] !== 'string' || audit[k] === '') p.push(`${name}: ${k} empty`);
  if (typeof audit['vuln-short-description'] === 'string' && (audit['vuln-short-description'].includes('\n') || audit['vuln-short-description'].length > 200)) p.push(`${name}: short description not one short line`);
  const url = (u: unknown) => typeof u === 'string' && /^https?:\/\/[^\s]+$/.test(u);
  if (!url(audit['vuln-primary-link'])) p.push(`${name}: primary link ${String(audit['vuln-primary-link'])}`);
  const links = audit['vuln-additional-links'];
  if (typeof links !== 'object' || links === null || Array.isArray(links)) p.push(`${name}: additional links not an object`);
  else for (const [label, u] of Object.entries(links)) if (!label || !url(u)) p.push(`${name}: link ${label} -> ${String(u)}`);
  const prio = audit['vuln-priority'];
  if (!Number.isInteger(prio) || (prio as number) < 0 || (prio as number) > 10) p.push(`${name}: priority ${String(prio)}`);
  const filters = audit.filters as Record<string, Record<string, unknown>>;
  const comparisons = audit.comparisons as Record<string, Record<string, unknown>>;
  if (typeof filters !== 'object' || typeof comparisons !== 'object' || !filters || !comparisons) return [...p, `${name}: filters/comparisons missing`];
  if (JSON.stringify(Object.keys(filters)) !== JSON.stringify(Object.keys(comparisons))) p.push(`${name}: buckets differ between filters and comparisons`);
  if (Object.keys(filters).length === 0) p.push(`${name}: no bucket`);
  for (const [bucket, f] of Object.entries(filters)) {
    if (JSON.stringify(Object.keys(f).sort()) !== JSON.stringify(FILTER_KEYS)) p.push(`${name} ${bucket}: filter keys`);
    const lists = ['filter-collection-type', 'filter-collection-subtype', 'filter-match-value'].map((k) => f[k]);
    if (!lists.every((l) => Array.isArray(l) && l.length === (lists[0] as unknown[]).length && l.length > 0 && l.every((x) => typeof x === 'string' && x !== ''))) p.push(`${name} ${bucket}: filter lists not of equal length`);
    if (f['filter-match'] !== 'is') p.push(`${name} ${bucket}: filter-match ${String(f['filter-match'])}`);
    const types = f['filter-collection-type'] as string[];
    if (!types.every((x) => x === 'release')) p.push(`${name} ${bucket}: filters on ${types.join(',')}`);
  }
  for (const [bucket, c] of Object.entries(comparisons)) {
    if (JSON.stringify(Object.keys(c).sort()) !== JSON.stringify(COMPARISON_KEYS)) p.push(`${name} ${bucket}: comparison keys`);
    const match = c['comparison-match'];
    if (!['aptge', 'rpmge', 'nematch'].includes(match as string)) p.push(`${name} ${bucket}: match ${String(match)}`);
    if (!['package-sources', 'packages'].includes(c['comparison-collection-type'] as string)) p.push(`${name} ${bucket}: type`);
    if (typeof c['comparison-collection-subtype'] !== 'string' || !/^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/.test(c['comparison-collection-subtype'])) p.push(`${name} ${bucket}: subtype`);
    const v = c['comparison-match-value'];
    if (typeof v !== 'string' || v === '') p.push(`${name} ${bucket}: value`);
    if (match === 'nematch' && v !== '.*') p.push(`${name} ${bucket}: an unfixed comparison must be nematch .*`);
    if (match === 'aptge' && c['comparison-collection-type'] !== 'package-sources') p.push(`${name} ${bucket}: dpkg feeds compare source packages`);
  }
  return p;
}

interface Written { file: string; audits: Record<string, AuditJson> }

/** Every file in `dir`, parsed and checked: names, modes, structure. */
function readAll(t: Test, dir: string): Written[] {
  const out: Written[] = [];
  const problems: string[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, f);
    const st = fs.lstatSync(full);
    if (!st.isFile()) { problems.push(`${f}: not a regular file`); continue; }
    if ((st.mode & 0o777) !== 0o600) problems.push(`${f}: mode ${(st.mode & 0o777).toString(8)}`);
    if (!/^[A-Za-z0-9_+][A-Za-z0-9._+-]*\.json$/.test(f)) problems.push(`${f}: unsafe name`);
    let doc: Record<string, unknown>;
    try { doc = JSON.parse(fs.readFileSync(full, 'utf8')); } catch (e) { problems.push(`${f}: not JSON: ${(e as Error).message}`); continue; }
    const unfixed = Object.values(doc).some((a) => Object.values((a as AuditJson).comparisons ?? {}).some((c) => c['comparison-match'] === 'nematch'));
    if (unfixed !== f.endsWith('.unfixed.json')) problems.push(`${f}: the name says ${f.endsWith('.unfixed.json') ? '' : 'not '}unfixed, the audits say otherwise`);
    for (const [name, a] of Object.entries(doc)) {
      problems.push(...auditProblems(name, a));
      const short = (a as AuditJson)['vuln-short-description'];
      const openIn = Object.values((a as AuditJson).comparisons).some((c) => c['comparison-match'] === 'nematch');
      if (openIn !== /^unfixed( in [a-z0-9, -]+)?: /.test(short)) problems.push(`${name}: short description marks unfixed wrongly: ${short}`);
    }
    out.push({ file: f, audits: doc as Record<string, AuditJson> });
  }
  t.same(problems, [], `${dir}: ${out.length} files, every one in the audit format`);
  const mode = fs.statSync(dir).mode & 0o777;
  t.equal(mode, 0o700, 'the audits folder is 0700');
  return out;
}

function facts(profile: string, type: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(OUTPUTS, profile, `${type}.txt`), 'utf8').split('\n')) {
    const at = line.indexOf(' ');
    if (at > 0) m.set(line.slice(0, at), m.has(line.slice(0, at)) ? `${m.get(line.slice(0, at))}, ${line.slice(at + 1)}` : line.slice(at + 1));
  }
  return m;
}

/**
 * What the comparisons of one bucket say about a host with `have` (subtype -> value), the way
 * SPEC §10 defines the match types: a combined value holds only when each version does.
 */
function verdict(c: AuditJson['comparisons'][string], have: Map<string, string>): 'pass' | 'fail' | 'exempt' {
  const v = have.get(c['comparison-collection-subtype']);
  if (v === undefined) return 'exempt';
  if (c['comparison-match'] === 'nematch') return new RegExp(c['comparison-match-value']).test(v) ? 'fail' : 'pass';
  const cmp = c['comparison-match'] === 'aptge' ? compareDpkg : compareRpm;
  return v.split(', ').every((x) => cmp(x, c['comparison-match-value']) >= 0) ? 'pass' : 'fail';
}

const testDirs = new WeakMap<Test, { dir: string; n: number }>();
/** runFeed into a new folder of this test's own (t.testdir() once per test: a second call would reset it). */
function feed(t: Test, req: Omit<FeedRequest, 'out'> & { out?: string }, stdin?: Buffer) {
  let out = req.out;
  if (out === undefined) {
    const d = testDirs.get(t) ?? { dir: t.testdir(), n: 0 };
    testDirs.set(t, d);
    out = path.join(d.dir, `audits-${++d.n}`);
  }
  return runFeed({ ...req, out }, stdin ? { stdin: Readable.from([stdin]) } : {}).then((r) => ({ ...r, out }));
}

t.test('pure parts: CVSS, ecosystems, priorities, safe names', async (t) => {
  t.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), 9.8);
  t.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H'), 10);
  t.equal(cvss3BaseScore('CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H'), 7.8);
  t.equal(cvss3BaseScore('CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N'), 5.9);
  t.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N'), 6.4, 'scope changed: PR:L weighs 0.68');
  t.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N'), 0, 'no impact, no score');
  for (const bad of ['CVSS:2.0/AV:N', 'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS:3.1/AV:N/AV:N', 'AV:N/AC:L', '']) t.equal(cvss3BaseScore(bad), undefined, `refused: ${bad}`);

  const tgt = (e: string) => { const m = ecosystemTarget(e); return 'target' in m ? [m.target.bucket, m.target.filter['filter-match-value'].join('/'), m.target.scheme, m.target.compareType] : [m.skip]; };
  t.same(tgt('Debian:12'), ['bookworm', 'debian/bookworm', 'dpkg', 'package-sources']);
  t.same(tgt('Debian:11'), ['bullseye', 'debian/bullseye', 'dpkg', 'package-sources']);
  t.same(tgt('Ubuntu:22.04:LTS'), ['jammy', 'ubuntu/jammy', 'dpkg', 'package-sources']);
  t.same(tgt('Ubuntu:24.04:LTS'), ['noble', 'ubuntu/noble', 'dpkg', 'package-sources']);
  t.same(tgt('Ubuntu:Pro:18.04:LTS'), ['bionic', 'ubuntu/bionic', 'dpkg', 'package-sources']);
  t.same(tgt('Ubuntu:24.10'), ['oracular', 'ubuntu/oracular', 'dpkg', 'package-sources']);
  t.same(tgt('Red Hat:enterprise_linux:9::baseos'), ['rhel9', 'rhel/platform:el9', 'rpm', 'packages']);
  t.same(tgt('Rocky Linux:8'), ['rocky8', 'rocky/platform:el8', 'rpm', 'packages']);
  t.same(tgt('AlmaLinux:9'), ['alma9', 'almalinux/platform:el9', 'rpm', 'packages']);
  t.same(tgt('Debian:99'), ['unknown-release']);
  t.same(tgt('Ubuntu:Pro'), ['unknown-release']);
  t.same(tgt('Red Hat'), ['unknown-release']);
  for (const e of ['PyPI', 'npm', 'Alpine:v3.19', 'debian:12', '']) t.same(tgt(e), ['unknown-ecosystem'], `unknown: ${e}`);

  t.same(['unimportant', 'low', 'low**', 'medium', 'HIGH', 'not yet assigned', 'end-of-life', 'critical', 'Important', 'negligible', 'odd', 7].map(priorityOfWord),
    [1, 3, 3, 5, 8, 5, 5, 10, 8, 1, undefined, undefined]);

  t.equal(safeBase('CVE-2024-1234_openssl'), 'CVE-2024-1234_openssl', 'a plain name is kept');
  for (const hostile of ['../../etc/passwd', '/etc/cron.d/x', '..', '.hidden', '', 'a\u0000b', 'x/../../y', 'name.unfixed', '-rf', 'é', 'x'.repeat(500)]) {
    const s = safeBase(hostile);
    t.match(s, /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/, `${JSON.stringify(hostile.slice(0, 20))} -> ${s.slice(0, 40)}`);
    t.ok(s.length <= 161, 'bounded length');
    t.not(fileNames({ base: hostile, unfixed: false }).name, fileNames({ base: hostile, unfixed: true }).name);
  }
  t.not(safeBase('a/b'), safeBase('a_b'), 'two ids never share a file');
  t.not(fileNames({ base: 'X.unfixed', unfixed: false }).name, fileNames({ base: 'X', unfixed: true }).name, 'an id ending in .unfixed cannot pose as an unfixed file');
});

t.test('the member scanner: any chunking, bounded members, clear errors', async (t) => {
  const text = Buffer.from('\uFEFF{ "a" : {"x": "}\\"{", "y": [1, {"z": 2}]},\n"b\\u00e9": 3, "c": "s,t" ,"d":null}\n');
  const whole = new MemberScanner(1000).push(text);
  t.same(whole.map((m) => [m.key, JSON.parse(m.value.toString())]), [['a', { x: '}"{', y: [1, { z: 2 }] }], ['bé', 3], ['c', 's,t'], ['d', null]]);
  t.same(whole.map((m) => m.line), [1, 2, 2, 2]);
  for (let size = 1; size <= 7; size++) {
    const s = new MemberScanner(1000);
    const got = [];
    for (let i = 0; i < text.length; i += size) got.push(...s.push(text.subarray(i, i + size)));
    s.end();
    t.same(got.map((m) => [m.key, m.value.toString()]), whole.map((m) => [m.key, m.value.toString()]), `chunks of ${size} bytes`);
  }
  t.same(new MemberScanner(10).push(Buffer.from('{}')), [], 'an empty object');
  const err = (input: string, max = 1000) => {
    const s = new MemberScanner(max);
    try { s.push(Buffer.from(input)); s.end(); return 'no error'; } catch (e) { return e instanceof MemberScanError ? `${e.line}: ${e.message}` : String(e); }
  };
  t.match(err('[1, 2]'), /^1: expected a JSON object \(\{\) at the top, found '\['/);
  t.match(err('<html>'), /found '<'/);
  t.match(err(''), /the input is empty/);
  t.match(err('{"a": {"b": 1'), /the input ends inside the member "a" \(truncated\?\)/);
  t.match(err('{"a": 1,\n\n 5: 2}'), /^3: expected a member name \(a string\), found '5'/);
  t.match(err('{"a" 1}'), /expected ':' after the member name "a"/);
  t.match(err('{"a": 1} x'), /unexpected 'x' after the end/);
  t.match(err(`{"big": "${'x'.repeat(200)}"}`, 100), /the member "big" \(from line 1\) is larger than/);
});

t.test('debian tracker: the fixture feed, every file checked, audits that pass and fail on the demo hosts', async (t) => {
  const r = await feed(t, { input: path.join(FEEDS, 'debian-tracker.json'), from: 'debian-tracker' });
  t.equal(r.exitCode, 65, 'malformed entries make it a data error');
  const written = readAll(t, r.out);
  t.equal(written.length, r.files_written);
  t.equal(r.audits_written, written.length, 'one audit per (CVE, source package) file');
  t.equal(written.filter((w) => w.file.endsWith('.unfixed.json')).length, r.unfixed_files);
  t.ok(r.files_written > 200, `${r.files_written} files`);
  t.same(r.errors.map((e) => e.reason), [
    '"Bad_Name" is not a Debian package name',
    '"1.0-": dpkg refuses it (revision number is empty)',
    'expected "resolved", "open" or "undetermined", got "fixed"',
    'expected an object of releases',
    'expected an object',
  ]);
  t.match(r.errors[1]?.where, /debian-tracker\.json:\d+: \$\["libfixture-broken"\]\["CVE-2024-90001"\]\.releases\.bookworm\.fixed_version$/, 'file:line and JSON path');
  t.equal(r.skipped.malformed, 5);
  t.ok((r.skipped['not-affected'] ?? 0) > 10 && (r.skipped.undetermined ?? 0) > 10 && (r.skipped['unstable-release'] ?? 0) > 100, 'not affected, undetermined and sid entries are skipped and counted');
  t.equal(r.skipped['no-releases'], 1);
  t.ok(fs.existsSync(path.join(r.out, 'CVE-2024-90005_libfixture-broken.json')), 'a good entry beside bad ones is written');

  // On the demo Debian host (fixtures/outputs/debian12): the bookworm buckets decide.
  const host = facts('debian12', 'package-sources');
  const count = { pass: 0, fail: 0, exempt: 0 };
  for (const w of written) {
    for (const a of Object.values(w.audits)) {
      const c = a.comparisons.bookworm;
      if (c) count[verdict(c, host)] += 1;
    }
  }
  t.ok(count.pass > 30 && count.fail > 30 && count.exempt >= 5, `bookworm on the demo host: ${JSON.stringify(count)}`);
  const ssl = host.get('openssl');
  t.equal(ssl, '3.0.19-1~deb12u2');
  // The fixture's tilde and epoch traps: orders a plain string compare would get wrong.
  const all = written.flatMap((w) => Object.values(w.audits));
  const trap = all.filter((a) => {
    const c = a.comparisons.bookworm;
    const v = c && host.get(c['comparison-collection-subtype']);
    return c && v && c['comparison-match'] === 'aptge' && (v.includes('~') && c['comparison-match-value'] === v.replace(/~[^-]*$/, ''));
  });
  t.ok(trap.length > 0 && trap.every((a) => verdict(a.comparisons.bookworm!, host) === 'fail'), `${trap.length} audits: a ~deb12u backport is older than the plain version`);
  const epochs = all.filter((a) => /^1:/.test(a.comparisons.bookworm?.['comparison-match-value'] ?? '') && !/:/.test(host.get(a.comparisons.bookworm!['comparison-collection-subtype']) ?? ':'));
  t.ok(epochs.length > 0 && epochs.every((a) => verdict(a.comparisons.bookworm!, host) === 'fail'), `${epochs.length} audits: an epoch beats any version without one`);

  for (const w of written) {
    const [name, audit] = Object.entries(w.audits)[0]!;
    const [id, pkg] = name.split(' ') as [string, string];
    if (w.file !== `${id}_${pkg}.json` && w.file !== `${id}_${pkg}.unfixed.json`) t.fail(`${w.file}: named after ${name}`);
    if (audit.comparisons.bookworm && audit.comparisons.bookworm['comparison-collection-subtype'] !== pkg) t.fail(`${name}: compares another package`);
    if ('sid' in audit.filters) t.fail(`${name}: a sid bucket`);
    if (audit['vuln-primary-link'] !== `https://security-tracker.debian.org/tracker/${id}`) t.fail(`${name}: primary link`);
  }
  const sample = written.find((w) => Object.values(w.audits)[0]!.filters.bookworm)!;
  t.same(Object.values(sample.audits)[0]!.filters.bookworm, { 'filter-collection-type': ['release', 'release'], 'filter-collection-subtype': ['ID', 'VERSION_CODENAME'], 'filter-match': 'is', 'filter-match-value': ['debian', 'bookworm'] });
});

t.test('debian tracker: --releases, unfixed then fixed, priorities, stdin', async (t) => {
  const doc = (status: Record<string, unknown>) => Buffer.from(JSON.stringify({
    libxml2: { 'CVE-2025-1': { description: 'heap overflow', releases: { bookworm: status, bullseye: { status: 'resolved', fixed_version: '2.9.10+dfsg-6.7+deb11u5', urgency: 'low' }, trixie: { status: 'resolved', fixed_version: '0' } } } },
  }));
  const dir = path.join(t.testdir(), 'audits');
  const open = await feed(t, { input: '-', from: 'debian-tracker', out: dir }, doc({ status: 'open', urgency: 'high' }));
  t.equal(open.exitCode, 0);
  t.same(fs.readdirSync(dir), ['CVE-2025-1_libxml2.unfixed.json']);
  const a1 = JSON.parse(fs.readFileSync(path.join(dir, 'CVE-2025-1_libxml2.unfixed.json'), 'utf8'))['CVE-2025-1 libxml2'] as AuditJson;
  t.equal(a1['vuln-short-description'], 'unfixed in bookworm: CVE-2025-1 in libxml2: heap overflow');
  t.equal(a1['vuln-priority'], 8, 'high -> 8 (the highest urgency of its releases)');
  t.same(a1.comparisons.bookworm, { 'comparison-collection-type': 'package-sources', 'comparison-collection-subtype': 'libxml2', 'comparison-match': 'nematch', 'comparison-match-value': '.*' });
  t.equal(verdict(a1.comparisons.bookworm!, facts('debian12', 'package-sources')), 'fail', 'an unfixed audit fails a host that has the package');
  t.equal(verdict(a1.comparisons.bookworm!, new Map()), 'exempt', 'and exempts one that has not');

  const fixed = await feed(t, { input: '-', from: 'debian-tracker', out: dir }, doc({ status: 'resolved', fixed_version: '2.9.14+dfsg-1.3~deb12u6', urgency: 'medium' }));
  t.same(fs.readdirSync(dir), ['CVE-2025-1_libxml2.json'], 'the fixed audit replaces the unfixed file');
  t.equal(fixed.replaced, 1);
  const a2 = JSON.parse(fs.readFileSync(path.join(dir, 'CVE-2025-1_libxml2.json'), 'utf8'))['CVE-2025-1 libxml2'] as AuditJson;
  t.equal(a2['vuln-name'], a1['vuln-name'], 'same audit name: its history goes on');
  t.equal(a2['vuln-priority'], 5);
  t.notMatch(a2['vuln-short-description'], /unfixed/);
  t.equal(verdict(a2.comparisons.bookworm!, facts('debian12', 'package-sources')), 'fail', 'the demo host (…~deb12u5) is below …~deb12u6');

  const only = await feed(t, { input: '-', from: 'debian-tracker', releases: ['bookworm', 'forky'] }, doc({ status: 'resolved', fixed_version: '2.9.14+dfsg-1.3~deb12u4' }));
  const files = fs.readdirSync(only.out);
  const a3 = JSON.parse(fs.readFileSync(path.join(only.out, files[0]!), 'utf8'))['CVE-2025-1 libxml2'] as AuditJson;
  t.same(Object.keys(a3.filters), ['bookworm'], '--releases keeps only those buckets');
  t.equal(only.skipped['release-not-requested'], 2, 'bullseye and trixie skipped as not requested');
  t.same(only.releases, ['bookworm', 'forky']);
  t.same(only.releases_not_seen, ['forky'], 'a requested release the feed never names is reported');
  t.equal(verdict(a3.comparisons.bookworm!, facts('debian12', 'package-sources')), 'pass', '…~deb12u5 >= …~deb12u4');

  const important = await feed(t, { input: path.join(FEEDS, 'debian-tracker.json'), from: 'debian-tracker', minPriority: 5, releases: ['bookworm'] });
  const kept = readAll(t, important.out).flatMap((w) => Object.values(w.audits));
  t.ok(kept.length > 50 && kept.every((a) => a['vuln-priority'] >= 5), `--min-priority 5: ${kept.length} audits, none below 5`);
  t.ok((important.skipped['below-min-priority'] ?? 0) > 20, 'the others counted');
  t.equal(important.min_priority, 5);
  t.equal(kept.length + (important.skipped['below-min-priority'] ?? 0), 190, 'together: every bookworm audit of the fixture');

  const bullseyeOnly = await feed(t, { input: '-', from: 'debian-tracker', releases: ['trixie'] }, doc({ status: 'open' }));
  t.same(fs.readdirSync(bullseyeOnly.out), [], 'trixie is not affected: nothing to write');
  t.equal(bullseyeOnly.skipped['not-affected'], 1);
  t.equal(bullseyeOnly.exitCode, 0);
});

t.test('OSV: a folder, one file, the zip, a ZIP64 zip, stdin: the same audits', async (t) => {
  const folder = await feed(t, { input: path.join(FEEDS, 'osv'), from: 'osv' });
  const written = readAll(t, folder.out);
  t.equal(folder.exitCode, 65);
  t.same(folder.errors.map((e) => `${path.basename(e.where)}: ${e.reason}`), [
    'DSA-5997-1.json: $.affected[0].ranges[0].events[0]: expected exactly one of introduced, fixed, last_affected, limit',
    'DSA-5998-1.json: $.affected[0].ranges[0].events[1].fixed: "1.0-": dpkg refuses it (revision number is empty)',
    'no-id.json: $.id: expected the advisory id',
    'truncated.json: not JSON: Unexpected end of JSON input',
  ]);
  t.same(folder.skipped, { malformed: 4, 'unknown-ecosystem': 3, withdrawn: 1 }, 'PyPI, npm and Alpine are skipped; the withdrawn record too');
  t.ok(written.length > 80, `${written.length} advisories written`);
  const zip = await feed(t, { input: path.join(FEEDS, 'osv.zip'), from: 'osv' });
  const zipped = readAll(t, zip.out);
  t.same(zipped, written, 'the zip gives the same files as the folder');
  t.same(zip.errors.map((e) => e.reason), folder.errors.map((e) => e.reason));
  t.match(zip.errors[0]?.where, /osv\.zip!DSA-5997-1\.json: \$\.affected/, 'zip entries are named archive!entry');

  const files = fs.readdirSync(path.join(FEEDS, 'osv')).sort();
  const z64 = path.join(t.testdir(), 'all.zip');
  fs.writeFileSync(z64, makeZip(files.map((f) => ({ name: `advisories/${f}`, data: fs.readFileSync(path.join(FEEDS, 'osv', f)) })).concat([{ name: 'advisories/', data: '' }, { name: 'README.txt', data: 'not an advisory' }]), { zip64: true }));
  const big = await feed(t, { input: z64, from: 'osv' });
  t.same(readAll(t, big.out), written, 'ZIP64 records and extra fields are read; folders and non-JSON entries ignored');

  const stdinZip = await feed(t, { input: '-', from: 'osv' }, fs.readFileSync(path.join(FEEDS, 'osv.zip')));
  t.same(readAll(t, stdinZip.out), written, 'a zip on stdin');
  const usn = fs.readFileSync(path.join(FEEDS, 'osv', 'USN-7000-1.json'));
  const single = await feed(t, { input: path.join(FEEDS, 'osv', 'USN-7000-1.json'), from: 'osv' });
  t.equal(single.exitCode, 0);
  const stdinOne = await feed(t, { input: '-', from: 'osv' }, usn);
  t.same(readAll(t, stdinOne.out), readAll(t, single.out), 'one advisory from a file or stdin');
  t.same(readAll(t, single.out).map((w) => w.file), ['USN-7000-1.json']);
  const list = await feed(t, { input: '-', from: 'osv' }, Buffer.from(`[${usn}, ${fs.readFileSync(path.join(FEEDS, 'osv', 'DSA-6000-1.json'))}]`));
  t.same(readAll(t, list.out).map((w) => w.file), ['DSA-6000-1.json', 'USN-7000-1.json'], 'a JSON list of advisories');

  // What the audits say about the demo hosts.
  const byFile = new Map(written.map((w) => [w.file, w.audits]));
  const dsa = byFile.get('DSA-6000-1.json')!;
  const [dsaName, dsaAudit] = Object.entries(dsa)[0]!;
  t.match(dsaName, /^DSA-6000-1 \S+$/);
  t.same(Object.keys(dsaAudit.filters), ['bookworm', 'bullseye'], 'Debian:12 -> bookworm, Debian:11 -> bullseye');
  t.notOk(Object.values(dsaAudit['vuln-additional-links']).some((u) => u.startsWith('javascript')), 'a javascript: reference is dropped');
  t.match(dsaAudit['vuln-primary-link'], /^https:\/\/security-tracker\.debian\.org\/tracker\/DSA-6000-1$/, 'the ADVISORY reference is the primary link');
  t.equal(dsaAudit['vuln-additional-links']['CVE-2025-20000'], 'https://osv.dev/vulnerability/CVE-2025-20000', 'aliases are links');
  t.equal(dsaAudit['vuln-priority'], 10, 'CVSS 9.8 -> 10');

  const ubuHost = facts('ubuntu22', 'package-sources');
  const kernel = byFile.get('USN-7999-1.json')!['USN-7999-1 linux-signed']!;
  t.equal(kernel.comparisons.jammy?.['comparison-match-value'], '5.15.0-100.110');
  t.equal(verdict(kernel.comparisons.jammy!, ubuHost), 'fail', 'two kernels from one source: the older one fails the fix between them');
  const usn7000 = Object.values(byFile.get('USN-7000-1.json')!)[0]!;
  t.same(Object.keys(usn7000.filters), ['jammy', 'noble', 'bionic'], 'Ubuntu:22.04:LTS, Ubuntu:24.04:LTS, Ubuntu:Pro:18.04:LTS');
  t.equal(usn7000['vuln-priority'], 1, 'Ubuntu priority negligible -> 1');

  const rhelHost = facts('rhel9', 'packages');
  const rhsa = written.filter((w) => w.file.startsWith('RHSA-')).flatMap((w) => Object.values(w.audits));
  t.ok(rhsa.length > 5);
  for (const a of rhsa) {
    t.same(a.filters.rhel9?.['filter-match-value'], ['rhel', 'platform:el9']);
    t.equal(a.comparisons.rhel9?.['comparison-collection-type'], 'packages', 'Red Hat records name binary rpms');
  }
  const rhCount = { pass: 0, fail: 0, exempt: 0 };
  for (const a of rhsa) rhCount[verdict(a.comparisons.rhel9!, rhelHost)] += 1;
  t.ok(rhCount.pass > 0 && rhCount.fail > 0, `rhel9 demo host: ${JSON.stringify(rhCount)}`);
  t.equal(byFile.get('RHSA-2025_1999.json')!['RHSA-2025:1999 kernel-core']!['vuln-priority'], 8, 'database_specific severity Important -> 8');
  const last = byFile.get('DEBIAN-CVE-2025-30001.unfixed.json');
  t.ok(last, 'last_affected (no fixed version) is unfixed');
  t.match(Object.values(last!)[0]!['vuln-short-description'], /^unfixed: DEBIAN-CVE-2025-30001 in \S+: Only a last_affected event/, 'no summary: the first sentence of the details');
  const mixed = byFile.get('GHSA-aaaa-bbbb-cccc.json')!;
  t.same(Object.keys(mixed).length, 1, 'only the Debian package of a mixed record');

  const onlyJammy = await feed(t, { input: path.join(FEEDS, 'osv.zip'), from: 'osv', releases: ['jammy'] });
  for (const w of readAll(t, onlyJammy.out)) for (const a of Object.values(w.audits)) t.same(Object.keys(a.filters), ['jammy']);
  t.ok((onlyJammy.skipped['release-not-requested'] ?? 0) > 50);
});

t.test('OSV: several ranges, merges, epochs, hostile ids and packages', async (t) => {
  const adv = (id: unknown, affected: unknown[], extra: Record<string, unknown> = {}) => ({ id, summary: 's', details: 'd', affected, ...extra });
  const deb = (name: unknown, events: unknown[], ecosystem = 'Debian:12') => ({ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events }] });
  const docs = [
    adv('DSA-1-1', [
      { package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'GIT', events: [{ introduced: 'abc' }] }, { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u1' }] }, { type: 'ECOSYSTEM', events: [{ introduced: '3.0.15-1' }, { fixed: '3.0.19-1~deb12u3' }] }] },
      deb('curl', [{ introduced: '0' }, { fixed: '7.88.1-10+deb12u5' }]),
      deb('curl', [{ introduced: '0' }, { fixed: '7.88.1-10+deb12u16' }]),
      deb('git', [{ introduced: '0' }, { fixed: '2.45.0-1' }]),
      deb('perl', [{ introduced: '0' }, { fixed: '5.36.0-7+deb12u1' }, { introduced: '5.38.0-1' }]),
      { package: { ecosystem: 'Debian:12', name: 'bash' }, versions: ['5.2.15-2'] },
    ], { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N' }] }),
    adv('../../../../tmp/evil', [deb('openssl', [{ introduced: '0' }, { fixed: '1-1' }])]),
    adv('DSA-2-1', [deb('../../etc/passwd', [{ introduced: '0' }, { fixed: '1-1' }]), deb('Upper', [{ introduced: '0' }, { fixed: '1-1' }]), deb('ok-pkg', [{ introduced: '0' }, { fixed: '1-1' }])]),
    adv('RHSA-2025:7', [{ package: { ecosystem: 'Red Hat:enterprise_linux:9::appstream', name: 'NetworkManager' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.46.0-1.el9' }] }] }]),
    adv('DSA-3-1', [deb('zlib', [{ introduced: '0' }, { fixed: 'not a version' }]), deb('zlib', [{ fixed: '1:1.2.13.dfsg-2' }], 'Debian:13')]),
    adv('DSA-1-1', [deb('openssl', [{ introduced: '0' }, { fixed: '9-1' }])]),
    adv(42, []),
  ];
  const dir = t.testdir({ feed: Object.fromEntries(docs.map((d, i) => [`${i}.json`, JSON.stringify(d)])) });
  const r = await feed(t, { input: path.join(dir, 'feed'), from: 'osv', out: path.join(dir, 'out') });
  const written = readAll(t, path.join(dir, 'out'));
  t.same(fs.readdirSync(dir).sort(), ['feed', 'out'], 'nothing written beside the audits folder');
  t.same(fs.readdirSync(path.join(dir, 'out')).sort(), ['DSA-1-1.unfixed.json', 'DSA-2-1.json', 'DSA-3-1.json', 'RHSA-2025_7.json'], 'only the good advisories, under their own names');
  t.same(Object.keys(written.find((w) => w.file === 'DSA-3-1.json')!.audits['DSA-3-1 zlib']!.filters), ['trixie'], 'the bad Debian:12 entry skipped, the Debian:13 one kept');
  const host = facts('debian12', 'package-sources');
  const a = written.find((w) => w.file === 'DSA-1-1.unfixed.json')!.audits;
  t.same(Object.keys(a), ['DSA-1-1 openssl', 'DSA-1-1 curl', 'DSA-1-1 git', 'DSA-1-1 perl'], 'one audit per package; a record with only `versions` gives none');
  t.equal(a['DSA-1-1 openssl']!.comparisons.bookworm!['comparison-match-value'], '3.0.19-1~deb12u3', 'several ranges: the highest fixed version');
  t.equal(a['DSA-1-1 curl']!.comparisons.bookworm!['comparison-match-value'], '7.88.1-10+deb12u16', 'two entries for one package: the higher fix');
  t.equal(verdict(a['DSA-1-1 git']!.comparisons.bookworm!, host), 'pass', 'git 1:2.39.5 (epoch 1) is newer than 2.45.0-1 (epoch 0)');
  t.equal(a['DSA-1-1 git']!.comparisons.bookworm!['comparison-match-value'], '2.45.0-1');
  t.equal(compareDpkg('1:2.39.5-0+deb12u3', '2.45.0-1'), 1, 'dpkg: the host with epoch 1 is newer');
  t.equal(verdict(a['DSA-1-1 perl']!.comparisons.bookworm!, host), 'fail', 'a range re-opened at its end: unfixed');
  t.equal(a['DSA-1-1 perl']!.comparisons.bookworm!['comparison-match'], 'nematch');
  t.equal(cvss3BaseScore('CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N'), 2.2);
  t.equal(a['DSA-1-1 openssl']!['vuln-priority'], 2, 'CVSS 2.2 -> 2');
  t.equal(r.skipped['no-ecosystem-range'], 1, 'an entry with only `versions` names no fix (a GIT range beside an ECOSYSTEM one is ignored)');
  t.same(fs.readdirSync(path.join(dir, 'out')).filter((f) => f.startsWith('DSA-1-1')), ['DSA-1-1.unfixed.json'], 'perl is unfixed, so the file is');
  t.same(Object.keys(written.find((w) => w.file === 'DSA-2-1.json')!.audits), ['DSA-2-1 ok-pkg'], 'hostile and invalid package names are refused, the good one kept');
  const rh = written.find((w) => w.file === 'RHSA-2025_7.json')!.audits['RHSA-2025:7 NetworkManager']!;
  t.equal(rh.comparisons.rhel9!['comparison-match'], 'rpmge');
  t.equal(verdict(rh.comparisons.rhel9!, facts('rhel9', 'packages')), 'pass', 'rpm order: epoch 1 of the host wins');
  t.same(r.errors.map((e) => `${path.basename(e.where)} ${e.reason}`), [
    '1.json: $.id "../../../../tmp/evil" is not an advisory id',
    '2.json: $.affected[0].package.name "../../etc/passwd" is not a Debian package name',
    '2.json: $.affected[1].package.name "Upper" is not a Debian package name',
    '4.json: $.affected[0].ranges[0].events[1].fixed "not a version": a version has no spaces or commas',
    'DSA-1-1 a second advisory for the same file DSA-1-1.json (first from DSA-1-1): skipped',
    '6.json: $.id expected the advisory id',
  ], 'every bad entry named with its file and JSON path');
  t.equal(r.skipped.duplicate, 1);
  t.equal(r.exitCode, 65);
});

t.test('zip archives: damaged, hostile and too large', async (t) => {
  const dir = t.testdir();
  const good = { name: 'a.json', data: JSON.stringify({ id: 'DSA-9-1', affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1-1' }] }] }] }) };
  const zipOf = (files: Parameters<typeof makeZip>[0], opts?: Parameters<typeof makeZip>[1]) => makeZip(files, opts);
  const bomb = { name: 'bomb.json', data: Buffer.alloc(4 * 2 ** 20, 0x20) };
  const reader = ZipReader.fromBuffer(zipOf([good, bomb]));
  t.equal(reader.entries.length, 2);
  t.throws(() => reader.read(reader.entries[1]!, 2 ** 20), /4194304 bytes uncompressed, more than the 1 MB allowed per entry/, 'the declared size is checked first');
  const lying = ZipReader.fromBuffer(zipOf([{ ...bomb, size: 100 }]));
  t.throws(() => lying.read(lying.entries[0]!, 2 ** 20), /inflates to more than the 1 MB allowed per entry/, 'a lying size cannot inflate past the bound');
  const badCrc = ZipReader.fromBuffer(zipOf([{ ...good, crc: 1234 }]));
  t.throws(() => badCrc.read(badCrc.entries[0]!, 2 ** 20), /CRC mismatch/);
  const stored = ZipReader.fromBuffer(zipOf([{ ...good, method: 0 }]));
  t.equal(stored.read(stored.entries[0]!, 2 ** 20).toString(), good.data, 'stored entries');
  const odd = zipOf([{ ...good, method: 0 }]);
  odd.writeUInt16LE(12, 8); // local header method
  odd.writeUInt16LE(12, odd.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 10); // central header method: bzip2
  const oddReader = ZipReader.fromBuffer(odd);
  t.throws(() => oddReader.read(oddReader.entries[0]!, 2 ** 20), /compression method 12 is not supported/);
  t.throws(() => ZipReader.fromBuffer(Buffer.from('PK\u0003\u0004 not really a zip')), /not a zip archive/);
  try { ZipReader.fromBuffer(Buffer.from('PK')); t.fail('a 2-byte zip'); } catch (e) { t.ok(e instanceof ZipError, 'a ZipError: the archive as a whole'); }
  t.throws(() => ZipReader.fromBuffer(zipOf([good]).subarray(0, 60)), /no end of central directory/);

  // Through the feed: a hostile entry name is only a label; damaged archives are data errors.
  const hostile = path.join(dir, 'hostile.zip');
  fs.writeFileSync(hostile, zipOf([{ ...good, name: '../../../../tmp/jf-evil.json' }, { name: 'x.json', data: '{', method: 0 }, { ...good, name: 'crc.json', crc: 7 }]));
  const out = path.join(dir, 'out');
  const r = await runFeed({ input: hostile, from: 'osv', out });
  t.same(fs.readdirSync(out), ['DSA-9-1.json']);
  t.same(r.errors.map((e) => e.where.replace(hostile, 'Z')), ['Z!x.json', 'Z!crc.json']);
  t.match(r.errors.map((e) => e.reason), [/^not JSON: /, 'CRC mismatch (damaged archive)']);
  const cut = path.join(dir, 'cut.zip');
  fs.writeFileSync(cut, zipOf([good]).subarray(0, 40));
  const rc = await runFeed({ input: cut, from: 'osv', out: path.join(dir, 'out2') });
  t.equal(rc.exitCode, 65);
  t.match(rc.errors[0]?.reason, /not a zip archive .*; reading stopped there/);
});

t.test('bad input: missing files, folders, not JSON', async (t) => {
  const dir = t.testdir({ 'html.json': '<html>503</html>', empty: {}, 'list.json': '[1,2]' });
  await t.rejects(runFeed({ input: path.join(dir, 'nope.json'), from: 'osv', out: path.join(dir, 'o1') }), NoInputError);
  t.notOk(fs.existsSync(path.join(dir, 'o1')), 'no output folder for a missing input');
  await t.rejects(runFeed({ input: path.join(dir, 'empty'), from: 'debian-tracker', out: path.join(dir, 'o2') }), /is a folder; the tracker feed is one JSON file/);
  const html = await runFeed({ input: path.join(dir, 'html.json'), from: 'debian-tracker', out: path.join(dir, 'o3') });
  t.equal(html.exitCode, 65);
  t.match(html.errors[0], { where: `${path.join(dir, 'html.json')}:1`, reason: /expected a JSON object \(\{\) at the top, found '<'; reading stopped there/ });
  const list = await runFeed({ input: path.join(dir, 'list.json'), from: 'osv', out: path.join(dir, 'o4') });
  t.same(list.errors.map((e) => [path.basename(e.where), e.reason]), [['list.json[0]: $', 'expected an OSV advisory object'], ['list.json[1]: $', 'expected an OSV advisory object']]);
  const none = await runFeed({ input: path.join(dir, 'empty'), from: 'osv', out: path.join(dir, 'o5') });
  t.same(none.errors.map((e) => e.reason), ['no *.json file in the folder']);
  const dupe = await runFeed({ input: '-', from: 'debian-tracker', out: path.join(dir, 'o6') }, { stdin: Readable.from([Buffer.from('{"a1": {}, "a1": {}}')]) });
  t.same(dupe.errors.map((e) => e.reason), ['the source package appears twice: skipped']);
});

/** The built CLI with `input` on its stdin. */
function jfStdin(args: string[], cwd: string, input: Buffer): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

t.test('the CLI: summary JSON, exit codes, help, escaped errors', async (t) => {
  const dir = t.testdir();
  const ok = await jf(['feed', path.join(FEEDS, 'osv', 'USN-7001-1.json'), '--from', 'osv', '--out', 'audits', '--compact'], dir);
  t.equal(ok.code, 0, ok.stderr);
  const summary = JSON.parse(ok.stdout);
  t.equal(summary.files_written, 1);
  t.equal(summary.out, path.join(dir, 'audits'));
  t.equal(ok.stdout.trim().split('\n').length, 1, '--compact: one line');
  t.equal(ok.stderr, '');
  const bad = await jf(['feed', path.join(FEEDS, 'debian-tracker.json'), '--from', 'debian-tracker', '--out', 'd'], dir);
  t.equal(bad.code, 65, 'malformed entries: 65, the others written');
  t.equal(JSON.parse(bad.stdout).errors.length, 5);
  t.match(bad.stderr, /jellyfish: .*debian-tracker\.json:\d+: \$\.Bad_Name: "Bad_Name" is not a Debian package name/);
  // Not JSON inside a member: the parser's message quotes the raw bytes, ESC included.
  const hostile = Buffer.from('{"pkg": {"a": \u001bX}}');
  const esc = await jfStdin(['feed', '-', '--from', 'debian-tracker', '--out', 'e'], dir, hostile);
  t.equal(esc.code, 65);
  t.notMatch(esc.stderr, /\u001b/, 'feed text is escaped before the terminal');
  const missing = await jf(['feed', 'nope.json', '--from', 'osv', '--out', 'f'], dir);
  t.equal(missing.code, 66);
  t.match(missing.stderr, /nope\.json: cannot read: no such file or folder/);
  t.equal(missing.stdout, '');
  const usage: Promise<void>[] = [];
  for (const [args, why] of [
    [['--from', 'nvd', '--out', 'g'], /--from.*'nvd' is invalid\. Allowed choices are debian-tracker, osv/],
    [['--out', 'g'], /required option '--from <kind>'/],
    [['--from', 'osv'], /required option '--out <dir>'/],
    [['--from', 'osv', '--out', 'g', '--releases', 'Bookworm'], /--releases: "Bookworm" is not a release name/],
    [['--from', 'osv', '--out', 'g', '--releases', ','], /--releases: expected a comma list/],
    [['--from', 'osv', '--out', 'g', '--min-priority', '11'], /--min-priority "11": expected a whole number 0-10/],
    [['--from', 'osv', '--out', 'g', '--min-priority', '2.5'], /--min-priority "2\.5": expected a whole number 0-10/],
  ] as const) {
    usage.push(jf(['feed', path.join(FEEDS, 'osv.zip'), ...args], dir).then((r) => {
      t.equal(r.code, 64, `${args.join(' ')}: 64`);
      t.match(r.stderr, why);
    }));
  }
  await Promise.all(usage);
  const blocked = path.join(dir, 'file');
  fs.writeFileSync(blocked, '');
  const cannot = await jf(['feed', path.join(FEEDS, 'osv', 'USN-7001-1.json'), '--from', 'osv', '--out', path.join(blocked, 'sub')], dir);
  t.equal(cannot.code, 73, 'an output folder that cannot be made: 73');
  const zipIn = await jfStdin(['feed', '-', '--from', 'osv', '--out', 'z', '--releases', 'noble'], dir, fs.readFileSync(path.join(FEEDS, 'osv.zip')));
  t.equal(JSON.parse(zipIn.stdout).input, 'stdin');
  t.ok(fs.readdirSync(path.join(dir, 'z')).length > 5, 'noble audits from a zip on stdin');
  const help = await jf(['feed', '--help'], dir);
  t.equal(help.code, 0);
  for (const s of ['--from <kind>', '--out <dir>', '--releases <list>', '--min-priority <n>', 'Examples:', 'Exit codes: 0', '66', 'unfixed']) t.ok(help.stdout.includes(s), `--help mentions ${s}`);
  const top = await jf(['--help'], dir);
  t.match(top.stdout, /feed \[options\] <file>/);
});

t.test('a run over the fixture fleet stores package-sources, os and release default', async (t) => {
  const dir = t.testdir();
  const fleet = await startFleet({ count: 3, base: '127.120.0.1', port: 2222, dir });
  t.teardown(() => fleet.close());
  const [deb, ubu, rhel] = fleet.hosts.map((h) => h.address) as [string, string, string];
  const recorded = (profile: string, type: string) => fs.readFileSync(path.join(OUTPUTS, profile, `${type}.txt`), 'utf8');
  for (const [host, profile] of [[ubu, 'ubuntu22'], [rhel, 'rhel9']] as const) {
    fleet.setOutputs(host, Object.fromEntries(['release', 'os', 'package-sources', 'packages'].map((type) => [type, recorded(profile, type)])));
  }
  writeEnv({
    dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222,
    rows: [deb, ubu, rhel].map((h) => `${h},web,ams,prod`), collectors: fs.readFileSync('config/collector.ini', 'utf8'),
  });
  const run = await jf(['run', '-c', 'scheduler.ini'], dir);
  t.equal(run.code, 0, run.stderr);
  t.equal(JSON.parse(run.stdout).global_success_hosts, 3);
  const query = async (type: string, subtype: string) => {
    const r = await jf(['query', '-c', 'scheduler.ini', '--type', type, '--subtype', subtype, '--json'], dir);
    t.equal(r.code, 0, r.stderr);
    return Object.fromEntries((JSON.parse(r.stdout).hosts as { host: string; value: string }[]).map((h) => [h.host, h.value]));
  };
  t.same(await query('os', 'default'), { [deb]: 'Debian', [ubu]: 'Ubuntu', [rhel]: 'RedHat' });
  t.same(await query('release', 'default'), { [deb]: 'bookworm', [ubu]: 'jammy' }, 'RHEL has no codename');
  t.same(await query('package-sources', 'openssl'), { [deb]: '3.0.19-1~deb12u2', [ubu]: '3.0.2-0ubuntu1.15', [rhel]: '1:3.0.7-24.el9' });
  t.same(await query('package-sources', 'linux-signed'), { [ubu]: '5.15.0-97.107, 5.15.0-101.111' }, 'two versions of one source, combined');
  const facts = await jf(['facts', deb, '-c', 'scheduler.ini', '--type', 'package-sources', '--json'], dir);
  t.equal(facts.code, 0, facts.stderr);
  const stored = JSON.stringify(JSON.parse(facts.stdout));
  t.ok(stored.includes('"glibc"') && stored.includes('2.36-9+deb12u14'), 'the Debian host\'s source packages are stored');

  // The fixture tracker's audits compare source packages these hosts really report.
  const audits = path.join(dir, 'audits');
  const r = await jf(['feed', path.join(FEEDS, 'debian-tracker.json'), '--from', 'debian-tracker', '--out', audits, '--releases', 'bookworm'], dir);
  t.equal(r.code, 65);
  const subtypes = new Set(fs.readdirSync(audits).flatMap((f) => Object.values(JSON.parse(fs.readFileSync(path.join(audits, f), 'utf8')) as Record<string, AuditJson>)
    .map((a) => a.comparisons.bookworm!['comparison-collection-subtype'])));
  const onHost = (await Promise.all([...subtypes].filter((s) => !['bind9', 'exim4', 'apache2', 'redis', 'php8.2', 'ruby3.1', 'mariadb', 'squid', 'libfixture-broken'].includes(s)).slice(0, 12).map((s) => query('package-sources', s)))).filter((m) => deb in m).length;
  t.ok(onHost >= 10, `${onHost} of 12 audited source packages are on the Debian host`);
});
