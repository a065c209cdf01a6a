// The version module against the real tools: dpkg --compare-versions and rpm's own rpm.vercmp
// (rpmverParse + rpmverCmp, through rpm's Lua) on thousands of generated pairs and the hard cases.
// Each oracle is asked in one batch (one sh loop per core for dpkg, one rpm --eval for rpm), so
// the whole file runs in seconds. Without dpkg or rpm on PATH its part is skipped, with the reason.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { compareVersions, parseDpkg, schemeForRelease, versionError, type VersionScheme } from '../src/versions/index.js';

const run = promisify(execFile);
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** mulberry32: a small seeded generator, so a failure names a pair that comes back on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// Weighted so that digits and dots dominate (real versions), with every character the orders treat
// specially: ~ ^ + . - : _ letters of both cases, leading zeros.
const ALPHABET = '0000111222345678999........--~~^^++::_abcdezABZ';

function generate(random: () => number): string {
  const pick = (s: string) => s[Math.floor(random() * s.length)]!;
  let v = '';
  if (random() < 0.15) v += `${random() < 0.3 ? '0' : ''}${Math.floor(random() * 4)}:`;
  v += pick('0123456789');
  const len = Math.floor(random() * 10);
  for (let i = 0; i < len; i++) v += pick(ALPHABET);
  if (random() < 0.35) v += `-${random() < 0.1 ? '' : pick('0123456789abz~')}${random() < 0.5 ? pick(ALPHABET) : ''}`;
  return v;
}

/** A near neighbour (one edit, or none), so most pairs are decided deep inside the strings. */
function mutate(v: string, random: () => number): string {
  const i = Math.floor(random() * (v.length + 1));
  const c = ALPHABET[Math.floor(random() * ALPHABET.length)]!;
  switch (Math.floor(random() * 5)) {
    case 0: return v.slice(0, i) + c + v.slice(i);
    case 1: return v.slice(0, i) + v.slice(i + 1);
    case 2: return v.slice(0, i) + c + v.slice(i + 1);
    case 3: return v.replace(/0*([1-9])/, '0$1');
    default: return v;
  }
}

function generatedPairs(seed: number, count: number): [string, string][] {
  const random = seeded(seed);
  const out: [string, string][] = [];
  while (out.length < count) {
    const a = generate(random);
    const b = random() < 0.8 ? mutate(a, random) : generate(random);
    if (a !== '' && b !== '') out.push(random() < 0.5 ? [a, b] : [b, a]);
  }
  return out;
}

// The cases each order is known for; the same list goes to both oracles.
const HARD: [string, string][] = [
  ['1.0', '1.0~rc1'], ['1.0~rc1', '1.0~rc2'], ['1.0~~', '1.0~'], ['1.0~', '1.0'], ['1.0~rc1', '1.0~rc1'],
  ['1:1.0', '2.0'], ['0:1.0', '1.0'], ['00:1.0', '0:1.0'], ['2:0.1', '1:9.9'], ['10:1', '9:1'], ['01:1', '1:1'],
  ['1.0^', '1.0'], ['1.0^git1', '1.0'], ['1.0^git1', '1.0.1'], ['1.0~rc1^git1', '1.0~rc1'], ['1.0^', '1.0~'],
  ['1.0+b1', '1.0'], ['1.0-1+b1', '1.0-1'], ['1.0-1+b1', '1.0-2'], ['2.36-9+deb12u4', '2.36-9+deb12u10'],
  ['3.0.11-1~deb12u2', '3.0.9-1'], ['3.0.11-1~deb12u2', '3.0.11-1'], ['1:3.0.7-24.el9', '1:3.0.7-3.el9'],
  ['1.01', '1.1'], ['1.001', '1.1'], ['1.0010', '1.010'], ['0001', '1'], ['1.0', '1.00'],
  ['1a', '1'], ['1a', '1b'], ['1A', '1a'], ['1.a', '1.1'], ['1a', '1.1'], ['1.0a', '1.0.1'], ['a', 'B'],
  ['1.0', '1.0-0'], ['1.0-0', '1.0-'], ['1.0-', '1.0'], ['1.0-1', '1.0'], ['1.0-1-1', '1.0-1'], ['1-2-3', '1-2'],
  ['1.0.', '1.0'], ['1.0_', '1.0'], ['1.0..1', '1.0.1'], ['1_0', '1.0'], ['1.0+', '1.0'], ['1..0', '1.0'],
  ['1:', '1'], [':1', '1'], ['x:1', '1'], ['1.0:2', '1'], ['1:2:3', '1:2'], ['a1', '1'], ['1#2', '1'],
  ['99999999999:1', '1'], ['2147483647:1', '2147483648:1'], ['+1:2', '1:2'], ['-0:1', '1'],
  [' 1.0', '1.0'], ['1.0 ', '1.0'], ['1 0', '1'], ['1.0é', '1.0.'], ['1.0é', '1.0a'],
  ['18446744073709551616', '18446744073709551615'], ['1.' + '9'.repeat(40), '1.' + '1' + '0'.repeat(40)],
];

const GENERATED = 3000;
const RPM_GENERATED = 20_000;

function writeLines(pairs: [string, string][]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jf-versions-')), 'pairs.tsv');
  fs.writeFileSync(file, pairs.map(([a, b]) => `${a}\t${b}\n`).join(''));
  return file;
}

/** dpkg's answer per pair: -1, 0, 1, or 'error' (exit 2: dpkg refuses a version). One sh loop per chunk. */
async function dpkgOracle(pairs: [string, string][]): Promise<(number | 'error')[]> {
  const script = `while IFS='\t' read -r a b; do
    dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null; r=$?
    if [ $r -eq 0 ]; then echo -1
    elif [ $r -eq 1 ]; then if dpkg --compare-versions -- "$a" eq "$b" 2>/dev/null; then echo 0; else echo 1; fi
    else echo error; fi
  done < "$1"`;
  const chunks = Math.max(1, os.cpus().length);
  const size = Math.ceil(pairs.length / chunks);
  const parts = await Promise.all(Array.from({ length: chunks }, (_, i) => pairs.slice(i * size, (i + 1) * size))
    .map((chunk) => run('sh', ['-c', script, 'sh', writeLines(chunk)], { maxBuffer: 1 << 24 })));
  return parts.flatMap((p) => p.stdout.trim().split('\n').filter(Boolean).map((l) => (l === 'error' ? 'error' : Number(l))));
}

/** rpm's answer per pair through one Lua call: rpm.vercmp is rpmverCmp over rpmverParse (rpm >= 4.16). */
async function rpmOracle(pairs: [string, string][]): Promise<(number | 'error')[]> {
  const file = writeLines(pairs);
  const lua = `%{lua: for l in io.lines("${file}") do local a, b = l:match("^(.-)\\t(.*)$"); `
    + `local ok, r = pcall(rpm.vercmp, a, b); print((ok and tostring(r) or "error") .. "\\n") end}`;
  const { stdout } = await run('rpm', ['--eval', lua], { maxBuffer: 1 << 24 });
  return stdout.trim().split('\n').map((l) => (l === 'error' ? 'error' : Math.sign(Number(l))));
}

/** Every pair where the module and the oracle differ, with both answers. */
function disagreements(scheme: VersionScheme, pairs: [string, string][], oracle: (number | 'error')[]): string[] {
  const out: string[] = [];
  pairs.forEach(([a, b], i) => {
    const want = oracle[i];
    const got = versionError(scheme, a) ?? versionError(scheme, b) ? 'error' : compareVersions(scheme, a, b);
    if (got !== want) out.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ${scheme} says ${want}, module says ${got}`);
  });
  return out;
}

t.test('dpkg order agrees with dpkg --compare-versions', { skip: has('dpkg') ? false : 'dpkg is not installed (apt-get install dpkg)' }, async (t) => {
  const pairs = [...HARD, ...generatedPairs(15, GENERATED)];
  const started = Date.now();
  const oracle = await dpkgOracle(pairs);
  t.equal(oracle.length, pairs.length, 'one answer per pair');
  t.same(disagreements('dpkg', pairs, oracle), [], `${pairs.length} pairs (${HARD.length} hard, ${GENERATED} generated), ${Date.now() - started} ms`);
  t.ok(oracle.filter((r) => r === 'error').length > 10, 'the pairs include versions dpkg rejects');
  t.ok(oracle.filter((r) => r === 0).length > 50, 'and many that dpkg holds equal');
});

t.test('rpm order agrees with rpm.vercmp', { skip: has('rpm') ? false : 'rpm is not installed (apt-get install rpm)' }, async (t) => {
  const pairs = [...HARD, ...generatedPairs(16, RPM_GENERATED)];
  const started = Date.now();
  const oracle = await rpmOracle(pairs);
  t.equal(oracle.length, pairs.length, 'one answer per pair');
  t.same(disagreements('rpm', pairs, oracle), [], `${pairs.length} pairs (${HARD.length} hard, ${RPM_GENERATED} generated), ${Date.now() - started} ms`);
});

t.test('the hard cases, by name', async (t) => {
  const cmp = (s: VersionScheme, a: string, b: string) => compareVersions(s, a, b);
  for (const s of ['dpkg', 'rpm'] as const) {
    t.equal(cmp(s, '1.0~rc1', '1.0'), -1, `${s}: ~ sorts before the release`);
    t.equal(cmp(s, '1:1.0', '9.9'), 1, `${s}: the epoch wins`);
    t.equal(cmp(s, '1.01', '1.1'), 0, `${s}: leading zeros do not count`);
    t.equal(cmp(s, '3.0.11-1~deb12u2', '3.0.9-1'), 1, `${s}: numbers, not text`);
  }
  t.equal(cmp('dpkg', '1.0-1+b1', '1.0-1'), 1, 'dpkg: a binNMU is newer');
  t.equal(cmp('dpkg', '1.0a', '1.0+'), -1, 'dpkg: letters sort before other symbols');
  t.equal(cmp('dpkg', '1.0', '1.0-0'), 0, 'dpkg: no revision equals revision 0');
  t.equal(cmp('rpm', '1.0^git1', '1.0'), 1, 'rpm: ^ sorts after the base version');
  t.equal(cmp('rpm', '1.0^git1', '1.0.1'), -1, 'rpm: but before the next one');
  t.equal(cmp('rpm', '1.0', '1.0-0'), -1, 'rpm: no release sorts before any release');
  t.equal(cmp('rpm', '1.0.', '1.0'), 0, 'rpm: a trailing separator does not count');
  t.equal(cmp('rpm', '1.0a', '1.0.1'), -1, 'rpm: a number is newer than letters');
});

t.test('versions dpkg rejects are named, not ordered', async (t) => {
  for (const [v, why] of [
    ['', /empty/], ['1.0-', /revision number is empty/], [':1', /epoch in version is empty/], ['1:', /nothing after colon/],
    ['1.0:2', /epoch in version is not number/], ['99999999999:1', /epoch in version is too big/], ['1 0', /embedded spaces/],
    ['-1', /version number is empty/],
  ] as const) {
    t.match(versionError('dpkg', v), why, `${JSON.stringify(v)}: ${why}`);
    t.match(parseDpkg(v), { error: why });
  }
  // dpkg compares these with a warning: so does the module (they stay comparable).
  for (const v of ['a1', '1_0', '1#2', ' 1.0 ']) t.equal(versionError('dpkg', v), undefined, `${JSON.stringify(v)} is compared, as dpkg does`);
  t.equal(versionError('rpm', ''), 'empty version');
  t.equal(versionError('rpm', ':1'), undefined, 'rpm reads an empty epoch as 0');
});

t.test('schemeForRelease: ID first, then ID_LIKE', async (t) => {
  t.equal(schemeForRelease('debian', undefined), 'dpkg');
  t.equal(schemeForRelease('ubuntu', 'debian'), 'dpkg');
  t.equal(schemeForRelease('linuxmint', 'ubuntu debian'), 'dpkg');
  t.equal(schemeForRelease('rhel', 'fedora'), 'rpm');
  t.equal(schemeForRelease('rocky', '"rhel centos fedora"'), 'rpm');
  t.equal(schemeForRelease('opensuse-leap', 'suse opensuse'), 'rpm');
  t.equal(schemeForRelease('sles', undefined), 'rpm');
  t.equal(schemeForRelease('alpine', undefined), undefined, 'apk is neither');
  t.equal(schemeForRelease(undefined, undefined), undefined);
  t.equal(schemeForRelease('Debian', undefined), 'dpkg', 'any case');
});
