// Audit files and their evaluation, pure: the Python-literal reader, the INI form (continuation
// lines, single-quoted dicts, interpolation, comments) and the JSON form, every problem with
// file:line, and every match type including the original's faults (substring `is`, PEP 440 for
// dpkg versions, a regex that backtracks for ever).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { compilePattern } from '../src/audits/compile.js';
import { checkHolds, comparisonResult, evaluateAudit, factsNeeded, mapFacts, type HostFacts } from '../src/audits/evaluate.js';
import { timeDefaults } from '../src/audits/ini-audits.js';
import { LiteralError, parsePythonLiteral } from '../src/audits/literal.js';
import { jsonKeyLines, loadAudits } from '../src/audits/load.js';
import type { Audit, Check } from '../src/audits/types.js';
import { SHIPPED_AUDITS } from '../src/config/load.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');

t.test('Python literals', async (t) => {
  t.same(parsePythonLiteral(`{'a': "b", "c": [1, -2, 3.5, True, False, None], 'd': ('x',), }`), { a: 'b', c: [1, -2, 3.5, true, false, null], d: ['x'] });
  t.equal(parsePythonLiteral(String.raw`'it\'s \x41\u00e9\n\t\\ \q'`), "it's Aé\n\t\\ \\q", 'escapes; an unknown one is kept as written');
  t.equal(parsePythonLiteral(String.raw`r'^\d+\.x$'`), String.raw`^\d+\.x$`, 'raw strings');
  t.equal(parsePythonLiteral(`'''one\ntwo'''`), 'one\ntwo', 'triple quotes');
  t.equal(parsePythonLiteral(`'ab' "cd"`), 'abcd', 'adjacent strings join');
  t.equal(parsePythonLiteral('0x1F'), 31);
  t.same(parsePythonLiteral('{}'), {});
  t.same(parsePythonLiteral('{"__proto__": 1}'), JSON.parse('{"__proto__": 1}'), 'a __proto__ key is a plain key');
  for (const [bad, why] of [
    ['__import__("os")', /is not a literal/], ["{'a': 1", /never closed/], ["'abc", /never closed/], ['[1 2]', /"," or "]" expected/],
    ["{'a' 1}", /":" expected/], ['1 + 2', /unexpected text after/], ["'\\x4'", /hex digits/], ['[' .repeat(100) + ']'.repeat(100), /nested deeper/],
  ] as const) {
    t.throws(() => parsePythonLiteral(bad), why, `refused: ${bad.slice(0, 20)}`);
  }
  try { parsePythonLiteral("{'a': [1, 2,, 3]}"); } catch (e) { t.equal((e as LiteralError).offset, 12, 'the error names its offset'); }
});

function withFiles(t: Tap.Test, files: Record<string, string>): string {
  const dir = t.testdir();
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const GOOD_INI = `[GLOBAL]
jellyfishversion = 2

; a comment
[usn-1]
vuln-name = USN-1 unquoted
vuln-priority = 4
vuln-additional-links = {'USN-0': 'https://example.invalid/0',
\t'LP: 1': 'https://example.invalid/lp1'}
vuln-short-description = "checked at %(now)s, since %(weekago)s; 100%% sure"
vuln-long-description = first line
\t# an indented comment line is dropped
\tsecond line
Filters = {'bionic-bucket': {'filter-match': 'is', 'filter-collection-type': ['release'],
    'filter-collection-subtype': ['default'], 'filter-match-value': ['bionic']}}
comparisons: {'bionic-bucket': {'comparison-match': 'aptge', 'comparison-collection-type': ['packages', 'packages'],
    'comparison-collection-subtype': ['clamav', 'clamav:amd64'],
    'comparison-match-value': ['0.100.1+dfsg-1ubuntu0.18.04.3', '0.100.1+dfsg-1ubuntu0.18.04.3']}}
`;

t.test('the INI form: literals, continuations, interpolation, case of keys', async (t) => {
  const dir = withFiles(t, { 'a/usn.ini': GOOD_INI });
  const r = loadAudits([dir], NOW);
  t.same(r.errors, []);
  t.equal(r.files, 1);
  const a = r.audits[0]!;
  t.equal(a.name, 'usn-1');
  t.equal(a.line, 5, 'the section line');
  t.equal(a.vulnName, 'USN-1 unquoted', 'an unquoted text field is taken as written');
  t.equal(a.priority, 4);
  t.same(a.links, { 'USN-0': 'https://example.invalid/0', 'LP: 1': 'https://example.invalid/lp1' }, 'a single-quoted dict over two lines');
  const td = timeDefaults(NOW);
  t.equal(a.shortDescription, `checked at ${td.now}, since ${td.weekago}; 100% sure`, '%(now)s and %(weekago)s are epoch seconds; %% is %');
  t.equal(Number(td.now), NOW / 1000);
  t.equal(a.longDescription, 'first line\nsecond line', 'a long description over lines, comment lines dropped');
  t.equal(a.buckets.length, 1);
  t.same(a.buckets[0]!.comparison.checks.map((c) => 'subtype' in c && c.subtype), ['clamav', 'clamav:amd64']);
  t.same(factsNeeded(r.audits).pairs.get('packages'), new Set(['clamav', 'clamav:amd64']));
});

t.test('the JSON form, and a key line map', async (t) => {
  const json = JSON.stringify({
    'RHSA-1': {
      'vuln-name': 'RHSA-1', 'vuln-priority': 1, jellyfishversion: 2,
      filters: { '8-bucket': { 'filter-match': 'is', 'filter-collection-type': ['os_family', 'os_release'], 'filter-collection-subtype': ['default', 'default'], 'filter-match-value': ['RedHat', 8] } },
      comparisons: { '8-bucket': { 'comparison-match': 'rpmge', 'comparison-collection-type': 'packages', 'comparison-collection-subtype': 'kernel', 'comparison-match-value': '4.18.0' } },
    },
  }, null, 2);
  const dir = withFiles(t, { 'rhsa.json': json });
  const r = loadAudits([dir], NOW);
  t.same(r.errors, []);
  t.same(r.warnings, [], 'jellyfishversion is a known key');
  const f = r.audits[0]!.buckets[0]!.filter.checks;
  t.same(f.map((c) => c.kind === 'equal' && c.values), [['RedHat'], ['8']], 'a number value is compared as text');
  const lines = jsonKeyLines(json);
  t.equal(lines.get('RHSA-1'), 2);
  t.equal(lines.get('RHSA-1\0filters'), 6);
});

t.test('every problem names file:line; the other audits still load', async (t) => {
  const section = (name: string, body: string) => `[${name}]\nfilters = {"b": {"filter-match": "is", "filter-collection-type": "release", "filter-collection-subtype": "ID", "filter-match-value": "debian"}}\n${body}\n`;
  const cmp = (m: string, v: string) => `comparisons = {"b": {"comparison-match": "${m}", "comparison-collection-type": "packages", "comparison-collection-subtype": "x", "comparison-match-value": ${v}}}`;
  const dir = withFiles(t, {
    '1-mixed.ini': [
      section('ok', cmp('aptge', '"1.0"')),
      section('bad-version', cmp('aptge', '"1:"')),
      section('bad-int', cmp('gt', '"ten"')),
      section('bad-match', cmp('contains', '"x"')),
      section('bad-regex', cmp('match', '"(unclosed"')),
      section('backref', cmp('match', '"(a)\\\\1"')),
      section('bad-literal', 'comparisons = {"b": {"comparison-match": "is",'),
      section('bad-priority', `${cmp('is', '"1"')}\nvuln-priority = 11`),
      section('no-comparison', 'vuln-name = "x"'),
      section('lists', 'comparisons = {"b": {"comparison-match": "is", "comparison-collection-type": ["packages", "packages"], "comparison-collection-subtype": ["x"], "comparison-match-value": "1"}}'),
      section('bad-interp', `${cmp('is', '"1"')}\nvuln-short-description = "%(nothing)s"`),
      section('ok', cmp('is', '"1"')),
    ].join('\n'),
    '2-syntax.ini': '[a]\nfilters = {}\njust text\n',
    '3-dup.ini': '[a]\nx = 1\nx = 2\n',
    '4-bad.json': '{"a": {"filters": }}',
    '5-list.json': '[1, 2]',
    '6-extra.json': JSON.stringify({ extra: { filters: { b: { 'filter-match': 'is', 'filter-collection-type': 't', 'filter-collection-subtype': 's', 'filter-match-value': 'v' } }, comparisons: { b: { 'comparison-match': 'is', 'comparison-collection-type': 't', 'comparison-collection-subtype': 's', 'comparison-match-value': 'v' }, unused: {} }, colour: 'blue' } }, null, 1),
  });
  const r = loadAudits([dir], NOW);
  t.same(r.audits.map((a) => a.name), ['ok', 'extra'], 'the good audits load');
  const got = r.errors.map((e) => `${path.basename(e.file)}:${e.line} ${e.audit ?? '-'}`);
  t.same(got, [
    '1-mixed.ini:7 bad-version', '1-mixed.ini:11 bad-int', '1-mixed.ini:15 bad-match', '1-mixed.ini:19 bad-regex', '1-mixed.ini:23 backref',
    '1-mixed.ini:27 bad-literal', '1-mixed.ini:32 bad-priority', '1-mixed.ini:34 no-comparison', '1-mixed.ini:40 lists', '1-mixed.ini:45 bad-interp',
    '1-mixed.ini:47 ok', '2-syntax.ini:3 a', '3-dup.ini:3 a', '4-bad.json:1 -', '5-list.json:1 -',
  ], 'each at its line');
  const msg = (audit: string) => r.errors.find((e) => e.audit === audit)!.message;
  t.match(msg('bad-version'), /not a dpkg version/);
  t.match(msg('bad-int'), /compares integers/);
  t.match(msg('bad-match'), /not a known match type/);
  t.match(msg('bad-regex'), /bad regular expression/);
  t.match(msg('backref'), /linear time/);
  t.match(msg('bad-literal'), /the text ended/);
  t.match(msg('bad-priority'), /0 to 10/);
  t.match(msg('no-comparison'), /comparisons is missing/);
  t.match(msg('lists'), /one length/);
  t.match(msg('bad-interp'), /%\(nothing\)s/);
  t.match(r.errors.find((e) => e.line === 47)!.message, /section \[ok\] appears twice \(first at line 1\)/);
  t.same(r.warnings.map((w) => [w.line, w.message]), [[20, 'unknown key "colour" ignored'], [11, 'bucket "unused" has a comparison but no filter: never used']]);
  const missing = loadAudits([path.join(dir, 'nope')], NOW);
  t.match(missing.errors[0]!.message, /no audit folder/);
});

const facts = (o: Record<string, Record<string, string>>): HostFacts => mapFacts(new Map(Object.entries(o).map(([k, v]) => [k, new Map(Object.entries(v))])));
const host = facts({
  release: { default: 'bionical', ID: 'ubuntu', VERSION_CODENAME: 'bionic' },
  packages: { openssl: '1:1.1.1-1', libfoo: '2.0~rc1-1', multi: '1.0-1, 2.0-1', rpmpkg: '1:3.0.7-24.el9', tilde: '1.0~beta' },
  memory: { MemTotal: '2048', Swap: '16 kB' },
  users: { root: '0:0:/root', daemon: '1:1:/usr/sbin', bob: '1000:1000:/home/bob' },
});
const one = (c: Check) => checkHolds(c, host);

t.test('every match type', async (t) => {
  const equal = (subtype: string, values: string[], type = 'release'): Check => ({ kind: 'equal', type, subtype, values });
  t.equal(one(equal('default', ['bionic'])), 'fail', '"bionic" does not `is`-match "bionical" (the original matched substrings)');
  t.equal(one(equal('default', ['xenial', 'bionical'])), 'pass', 'one of a list');
  t.equal(one(equal('missing', ['x'])), 'exempt', 'a missing fact is exempt');
  const re = (pattern: string, negate = false): Check => ({ kind: 'regex', type: 'release', subtype: 'default', regex: compilePattern(pattern), negate });
  t.equal(one(re('^bion')), 'pass', 'match');
  t.equal(one(re('^xen')), 'fail');
  t.equal(one(re('^xen', true)), 'pass', 'nematch');
  t.equal(one(re('(?i)^BIONICAL$')), 'pass', 'a leading (?i) flag');
  t.equal(one(re('^(?P<name>bion)ical')), 'pass', '(?P<name>...) groups');
  const int = (op: 'gt' | 'lt' | 'eq', value: number, subtype = 'MemTotal'): Check => ({ kind: 'int', type: 'memory', subtype, op, value });
  t.same([one(int('gt', 1024)), one(int('lt', 1024)), one(int('eq', 2048)), one(int('gt', 1, 'Swap'))], ['pass', 'fail', 'pass', 'exempt'], 'gt lt eq; not an integer: exempt');
  const ver = (scheme: 'dpkg' | 'rpm', op: 'ge' | 'gt' | 'le' | 'lt' | 'eq', subtype: string, value: string): Check => ({ kind: 'version', type: 'packages', subtype, scheme, op, value });
  t.equal(one(ver('dpkg', 'ge', 'openssl', '3.0.0-1')), 'pass', 'aptge: an epoch beats any upstream (PEP 440 had it backwards)');
  t.equal(one(ver('dpkg', 'lt', 'openssl', '1:1.1.1-2')), 'pass', 'aptlt');
  t.equal(one(ver('dpkg', 'ge', 'libfoo', '2.0-1')), 'fail', 'aptge: ~ sorts before the release');
  t.equal(one(ver('dpkg', 'gt', 'libfoo', '2.0~beta-1')), 'pass', 'aptgt: rc > beta');
  t.equal(one(ver('dpkg', 'le', 'tilde', '1.0')), 'pass', 'aptle');
  t.equal(one(ver('dpkg', 'eq', 'openssl', '1:1.1.1-1')), 'pass', 'apteq');
  t.equal(one(ver('dpkg', 'ge', 'multi', '1.5-1')), 'fail', 'several installed versions: each must satisfy');
  t.equal(one(ver('dpkg', 'ge', 'multi', '1.0-1')), 'pass');
  t.equal(one(ver('dpkg', 'ge', 'openssl:amd64', '1:1.1.1-1')), 'pass', 'a name:arch subtype finds name');
  t.equal(one(ver('rpm', 'ge', 'rpmpkg', '1:3.0.7-27.el9')), 'fail', 'rpmge');
  t.same([one(ver('rpm', 'gt', 'rpmpkg', '3.0.8-1')), one(ver('rpm', 'le', 'rpmpkg', '1:3.0.7-24.el9')), one(ver('rpm', 'lt', 'rpmpkg', '2:1')), one(ver('rpm', 'eq', 'rpmpkg', '1:3.0.7-24.el9'))], ['pass', 'pass', 'pass', 'pass'], 'rpmgt rpmle rpmlt rpmeq (the epoch counts)');
  t.equal(one(ver('rpm', 'ge', 'tilde', '1.0')), 'fail', 'rpm: ~ sorts before too');
  const sub = (mode: 'subnonhere' | 'suballhere' | 'subknowall', subtypes: string[], patterns: (string | null)[], type = 'users'): Check =>
    ({ kind: 'subtypes', type, mode, subtypes, patterns: patterns.map((p) => (p === null ? null : compilePattern(p))) });
  t.equal(one(sub('subnonhere', ['hackerman', 'oracle'], [null, null])), 'pass', 'subnonhere: none of them here');
  t.equal(one(sub('subnonhere', ['hackerman', 'bob'], [null, null])), 'fail', 'subnonhere: bob is here');
  t.equal(one(sub('subnonhere', ['bob'], ['^0:'])), 'pass', 'subnonhere: bob is here, but not with a matching value');
  t.equal(one(sub('suballhere', ['root', 'daemon'], ['^0:0:', null])), 'pass', 'suballhere: all here and matching');
  t.equal(one(sub('suballhere', ['root', 'nobody'], [null, null])), 'fail', 'suballhere: one missing');
  t.equal(one(sub('subknowall', ['root', 'daemon', 'bob', 'extra'], [null, null, null, null])), 'pass', 'subknowall: nothing unknown (over-listing is fine)');
  t.equal(one(sub('subknowall', ['root', 'daemon'], [null, null])), 'fail', 'subknowall: bob is unknown');
  t.equal(one(sub('subknowall', ['root', 'daemon', 'bob'], ['^0:', null, '^0:'])), 'fail', 'subknowall: bob is not as listed');
  t.equal(one(sub('subnonhere', ['x'], [null], 'services')), 'exempt', 'no fact of the type at all: exempt');
  // The comparison of a bucket: fail when any element fails, else pass when any passes.
  const cond = (checks: Check[]) => comparisonResult({ match: 'aptge', checks }, host);
  t.equal(cond([ver('dpkg', 'ge', 'openssl', '1'), ver('dpkg', 'ge', 'absent', '1')]), 'pass', 'one passes, one is missing: pass');
  t.equal(cond([ver('dpkg', 'ge', 'absent', '1'), ver('dpkg', 'ge', 'libfoo', '9')]), 'fail', 'any failing element fails the host');
  t.equal(cond([ver('dpkg', 'ge', 'absent', '1')]), 'exempt', 'nothing compared: exempt');
});

t.test('a hostile regular expression cannot hang evaluation', async (t) => {
  const evil = compilePattern('^(a+)+$');
  const started = Date.now();
  t.equal(evil.test(`${'a'.repeat(5000)}b`), false);
  t.ok(Date.now() - started < 1000, `(a+)+ on 5,000 characters answers at once (${Date.now() - started} ms): linear-time engine`);
  t.throws(() => compilePattern('(x)\\1'), /linear time/, 'a backreference is refused');
  t.throws(() => compilePattern('(?=x)'), /linear time/, 'lookahead is refused');
  // The linear engine has no i flag: a case-insensitive pattern runs there with both cases spelled out.
  for (const p of ['(?i)^(a+)+$', '(?i)^(a|aa)+$', '(?i)^(A|[a-c]a)+$']) {
    const r = compilePattern(p);
    const at = Date.now();
    t.equal(r.test(`${'aA'.repeat(2500)}b`), false);
    t.ok(Date.now() - at < 1000, `${p} on 5,000 characters answers at once (${Date.now() - at} ms)`);
    t.equal(r.test('aAAa'), true, `${p} matches either case`);
  }
  t.equal(compilePattern('(?i)^DEB').test('debian'), true);
  t.same(['(?i)^[a-f0-9]+$', '(?i)^[^x]$', '(?i)\\x41\\d', '(?i)(?<Name>ab)\\W'].map((p) => compilePattern(p).source), ['^[a-f0-9A-F]+$', '^[^xX]$', '[\\x41a]\\d', '(?<Name>[aA][bB])\\W'], 'letters, classes and escaped letters folded; escapes and group names kept');
  t.same([compilePattern('(?i)^[a-f0-9]+$').test('BEEF00'), compilePattern('(?i)^[^x]$').test('X'), compilePattern('(?i)\\x41\\d').test('a1')], [true, false, true]);
});

t.test('buckets: the first whose filter holds decides; none: not applicable', async (t) => {
  const ini = `[a]
filters = {'first': {'filter-match': 'is', 'filter-collection-type': 'release', 'filter-collection-subtype': 'ID', 'filter-match-value': 'ubuntu'},
  'second': {'filter-match': 'match', 'filter-collection-type': 'release', 'filter-collection-subtype': 'ID', 'filter-match-value': '.'},
  'both': {'filter-match': 'is', 'filter-collection-type': ['release', 'release'], 'filter-collection-subtype': ['ID', 'VERSION_CODENAME'], 'filter-match-value': ['debian', 'bookworm']}}
comparisons = {'first': {'comparison-match': 'is', 'comparison-collection-type': 'release', 'comparison-collection-subtype': 'VERSION_CODENAME', 'comparison-match-value': 'jammy'},
  'second': {'comparison-match': 'is', 'comparison-collection-type': 'release', 'comparison-collection-subtype': 'ID', 'comparison-match-value': 'x'},
  'both': {'comparison-match': 'is', 'comparison-collection-type': 'release', 'comparison-collection-subtype': 'ID', 'comparison-match-value': 'debian'}}
`;
  const r = loadAudits([withFiles(t, { 'a.ini': ini })], NOW);
  t.same(r.errors, []);
  const audit: Audit = r.audits[0]!;
  t.same(evaluateAudit(audit, host), { verdict: 'fail', bucket: 'first' }, 'the first bucket wins though the second also holds');
  t.same(evaluateAudit(audit, facts({ release: { ID: 'debian', VERSION_CODENAME: 'bookworm' } })), { verdict: 'fail', bucket: 'second' }, 'file order: second before both');
  t.same(evaluateAudit(audit, facts({ packages: { a: '1' } })), { verdict: 'none' }, 'a host in no bucket: the audit does not apply');
});

t.test('the shipped sample audits load cleanly', async (t) => {
  const r = loadAudits([SHIPPED_AUDITS], NOW);
  t.same(r.errors, []);
  t.same(r.warnings, []);
  t.ok(r.audits.length >= 3);
  t.ok(r.files >= 2);
});

t.test('the metrics textfile: analyze series beside the runs\', each kept by the other', async (t) => {
  const { renderAnalyzeMetrics, renderMetrics } = await import('../src/report/metrics.js');
  const run = renderMetrics({ mode: 'run', outcomes: { ok: 5, failed: 1 }, notStarted: 0, sapi: 0, failedProd: 1, invalidRows: 0, durationSeconds: 12, deadlineHit: false, exitCode: 0, finishedAt: new Date(NOW) });
  const both = renderAnalyzeMetrics({
    failuresByPriority: [{ priority: 8, audits: 2, results: 7, prodHosts: 3 }],
    summary: { pass: 10, fail: 7, exempt: 1, stale: 2, errors: [{}], jobtime: 1.5, exit_code: 1 },
    finishedAt: new Date(NOW),
  }, run);
  t.match(both, /jellyfish_hosts\{mode="run",outcome="ok"\} 5/, 'the run\'s series are kept');
  t.match(both, /jellyfish_audit_failing_results\{mode="analyze",priority="8"\} 7/);
  t.match(both, /jellyfish_audit_failing_prod_results\{mode="analyze",priority="8"\} 3/);
  t.match(both, /jellyfish_audit_results\{mode="analyze",result="stale"\} 2/);
  t.match(both, /jellyfish_audit_errors\{mode="analyze"\} 1/);
  t.match(both, /# TYPE jellyfish_audit_failing_results gauge/);
  const again = renderMetrics({ mode: 'run', outcomes: { ok: 6 }, notStarted: 0, sapi: 0, failedProd: 0, invalidRows: 0, durationSeconds: 10, deadlineHit: false, exitCode: 0, finishedAt: new Date(NOW) }, both);
  t.match(again, /jellyfish_audit_failing_results\{mode="analyze",priority="8"\} 7/, 'a run keeps analyze\'s series');
  t.match(again, /jellyfish_hosts\{mode="run",outcome="ok"\} 6/);
});
