// Every match type of SPEC §10 by the name an audit file gives it (the loader's mapping from
// `aptis`, `aptmatch`, `rpmle`, ... to a comparison, not hand-built checks), each with a host that
// passes and one that fails; and a hostile audit through analyze itself: a pattern that would
// backtrack for ever on the host's value answers at once (a case-insensitive one too), the one the
// loader refuses is reported with file:line while the others run.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { analyze } from '../src/audits/analyze.js';
import { evaluateAudit, mapFacts } from '../src/audits/evaluate.js';
import { loadAudits } from '../src/audits/load.js';
import { MATCH_TYPES } from '../src/audits/types.js';
import { Log } from '../src/app/log.js';
import { loadConfig } from '../src/config/load.js';
import type { InventoryHost } from '../src/inventory/host.js';
import { openStore } from '../src/store/store.js';

const quiet = new Log(false, { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream);
const facts = (m: Record<string, Record<string, string>>) => mapFacts(new Map(Object.entries(m).map(([k, v]) => [k, new Map(Object.entries(v))])));

/** match -> [type, subtype, value, a host value that passes, one that fails] */
const CASES: Record<string, [string, string, string | string[], Record<string, string>, Record<string, string>]> = {
  is: ['release', 'VERSION_CODENAME', ['bookworm', 'trixie'], { VERSION_CODENAME: 'trixie' }, { VERSION_CODENAME: 'bookwormish' }],
  aptis: ['packages', 'openssl', '3.0.19-1~deb12u2', { openssl: '3.0.19-1~deb12u2' }, { openssl: '3.0.19-1' }],
  match: ['rkernel', 'default', '^6\\.1\\.', { default: '6.1.0-27-amd64' }, { default: '5.10.0-1-amd64' }],
  aptmatch: ['packages', 'openssl', '~deb12u\\d+$', { openssl: '3.0.19-1~deb12u2' }, { openssl: '3.0.19-1' }],
  nematch: ['rkernel', 'default', '^5\\.', { default: '6.1.0-27-amd64' }, { default: '5.10.0-1-amd64' }],
  gt: ['cpu-info', 'cpus', '1', { cpus: '2' }, { cpus: '1' }],
  lt: ['cpu-info', 'cpus', '3', { cpus: '2' }, { cpus: '3' }],
  eq: ['cpu-info', 'cpus', '2', { cpus: '2' }, { cpus: '20' }],
  aptge: ['packages', 'openssl', '3.0.19-1~deb12u2', { openssl: '1:1.0' }, { openssl: '3.0.19-1~deb12u1' }],
  aptgt: ['packages', 'openssl', '3.0.19-1~deb12u2', { openssl: '3.0.19-1' }, { openssl: '3.0.19-1~deb12u2' }],
  aptle: ['packages', 'openssl', '3.0.19-1', { openssl: '3.0.19-1~deb12u2' }, { openssl: '3.0.19-1+b1' }],
  aptlt: ['packages', 'openssl', '3.0.19-1', { openssl: '3.0.19-1~deb12u2' }, { openssl: '3.0.19-1' }],
  apteq: ['packages', 'openssl', '1.0', { openssl: '1.0-0' }, { openssl: '1.0-1' }],
  rpmge: ['packages', 'openssl', '1:3.0.7-27.el9', { openssl: '1:3.0.7-27.el9' }, { openssl: '3.0.9-1.el9' }],
  rpmgt: ['packages', 'openssl', '1.0', { openssl: '1.0^git1' }, { openssl: '1.0~rc1' }],
  rpmle: ['packages', 'openssl', '1.0.1', { openssl: '1.0^git1' }, { openssl: '1.0.2' }],
  rpmlt: ['packages', 'openssl', '1:3.0.7-27.el9', { openssl: '1:3.0.7-24.el9' }, { openssl: '2:0.1-1' }],
  rpmeq: ['packages', 'openssl', '1:3.0.7-24.el9', { openssl: '1:3.0.7-24.el9' }, { openssl: '3.0.7-24.el9' }],
  subnonhere: ['users', 'toor,hackerman', 'any', { root: '0:0:/root:/bin/bash' }, { root: '0:0:/root:/bin/bash', toor: '0:0:/root:/bin/sh' }],
  suballhere: ['users', 'root', '^0:0:', { root: '0:0:/root:/bin/bash', bob: '1000:1000:/home/bob:/bin/bash' }, { root: '1:1:/root:/bin/bash' }],
  subknowall: ['listening', 'tcp:22,tcp:443', '^sshd$,^nginx$', { 'tcp:22': 'sshd', 'tcp:443': 'nginx' }, { 'tcp:22': 'sshd', 'tcp:2024': 'listening' }],
};

const auditOf = (match: string, [type, subtype, value]: (typeof CASES)[string]) => ({
  'vuln-name': `m-${match}`,
  filters: { all: { 'filter-match': 'match', 'filter-collection-type': 'release', 'filter-collection-subtype': 'ID', 'filter-match-value': '.' } },
  comparisons: { all: { 'comparison-match': match, 'comparison-collection-type': type, 'comparison-collection-subtype': subtype, 'comparison-match-value': value } },
});

t.test('every match type, by its name in an audit file: one host passes, one fails', async (t) => {
  t.same(Object.keys(CASES).sort(), [...MATCH_TYPES].sort(), 'a case for every match type of SPEC §10');
  const dir = t.testdir();
  fs.writeFileSync(path.join(dir, 'all.json'), JSON.stringify(Object.fromEntries(Object.entries(CASES).map(([m, c]) => [`m-${m}`, auditOf(m, c)])), null, 1));
  const loaded = loadAudits([dir]);
  t.same(loaded.errors, []);
  t.equal(loaded.audits.length, MATCH_TYPES.length);
  for (const [match, c] of Object.entries(CASES)) {
    const audit = loaded.audits.find((a) => a.name === `m-${match}`)!;
    const on = (values: Record<string, string>) => evaluateAudit(audit, facts(c[0] === 'release' ? { release: { ID: 'debian', ...values } } : { release: { ID: 'debian' }, [c[0]]: values })).verdict;
    t.equal(on(c[3]), 'pass', `${match}: ${JSON.stringify(c[3])} passes`);
    t.equal(on(c[4]), 'fail', `${match}: ${JSON.stringify(c[4])} fails`);
    t.equal(evaluateAudit(audit, facts({ release: { ID: 'debian' } })).verdict, 'exempt', `${match}: a host without the fact is exempt`);
  }
});

t.test('a hostile audit does not hang analyze (case-insensitive too); a refused one is named with file:line, the others run', async (t) => {
  const dir = t.testdir();
  const audits = path.join(dir, 'audits');
  fs.mkdirSync(audits);
  const evil = (name: string, pattern: string) => `[${name}]
vuln-name = "${name}"
filters = {'all': {'filter-match': 'match', 'filter-collection-type': 'release',
    'filter-collection-subtype': 'ID', 'filter-match-value': '.'}}
comparisons = {'all': {'comparison-match': 'match', 'comparison-collection-type': 'packages',
    'comparison-collection-subtype': 'evil', 'comparison-match-value': '${pattern}'}}
`;
  fs.writeFileSync(path.join(audits, 'a-backtrack.ini'), `${evil('backtrack', '^(a+)+$')}\n${evil('backtrack-i', '(?i)^(A|AA)+$')}`);
  fs.writeFileSync(path.join(audits, 'b-refused.ini'), `; a comment\n${evil('refused', '^(a)\\\\1+$')}`);
  fs.writeFileSync(path.join(audits, 'c-good.json'), JSON.stringify({ good: auditOf('gt', CASES.gt!) }));
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), `[GLOBAL]\nlockfile = ${dir}/jf.lock\n[storage]\ndatabase = ${dir}/jf.db\n[analyze]\naudits = ${audits}\nmax_age = 100000d\n`);
  const store = openStore(path.join(dir, 'jf.db'));
  const host: InventoryHost = { label: 'web1', host: 'web1', srvtype: 'web', pop: 'ams', status: 'prod', notes: '', isProd: true, line: 1 };
  await store.upsertHosts([host]);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: 1, hostname: 'x', threads: 1, workers: 0 });
  // 40 a's and a b: a backtracking engine tries 2^40 ways to split the a's before giving up.
  await store.recordResults(runId, [{
    label: 'web1', outcome: 'ok', startedAt: Date.now() - 1000, finishedAt: Date.now(), outputBytes: 0,
    collections: [
      { type: 'release', status: 'ok', values: { ID: 'debian' }, durationMs: 1 },
      { type: 'packages', status: 'ok', values: { evil: `${'a'.repeat(40)}b` }, durationMs: 1 },
      { type: 'cpu-info', status: 'ok', values: { cpus: '2' }, durationMs: 1 },
    ],
  }]);
  store.close();
  const started = Date.now();
  const s = await analyze({ config: loadConfig({ file: path.join(dir, 'scheduler.ini') }), log: quiet });
  const ms = Date.now() - started;
  t.ok(ms < 10_000, `analyze answered in ${ms} ms`);
  t.equal(s.exit_code, 1, 'exit 1: an audit was refused');
  t.same([s.audits, s.pass, s.fail], [3, 1, 2], 'both backtracking patterns ran (no match: fail), case-insensitive too, and the good audit passed');
  t.same(s.errors.map((e) => [path.basename(e.file), e.line, e.audit]), [['b-refused.ini', 6, 'refused']], 'the refused audit, at the line of its comparisons');
  t.match(s.errors[0]!.message, /backreferences .* linear time/);
});
