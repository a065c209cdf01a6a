// The read commands (status, hosts, facts, query) through the real binary, on a database made by
// real runs against the fixture fleet: JSON and table output, exit codes, reading while a run
// holds the lock; the table helpers; and the audit query on 10,000 hosts x 500 packages.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { acquireLock } from '../src/lock/run-lock.js';
import { gapfixLockFile } from '../src/lock/lock-files.js';
import type { Config } from '../src/config/load.js';
import type { HostResult } from '../src/core/results.js';
import { cell, firstLine, formatDuration, relativeAge, renderTable, shortTime } from '../src/report/table.js';
import { auditPlan, hostFactsPlan } from './helpers/sqlite-plans.js';
import { filterHosts } from '../src/store/queries.js';
import { openStore } from '../src/store/store.js';
import { writeEnv } from './helpers/run-env.js';
import { jf, type Ran } from './helpers/jellyfish-cli.js';

const ESC = '\u001b';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.before(() => {
  if (!fs.existsSync('dist/cli/main.js')) spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
});

t.test('table helpers', async (t) => {
  const table = renderTable(['HOST', 'CODE', 'NOTE'], [['a.example', 'ECONNREFUSED', 'x'], ['longer-host.example', '', 'y']]);
  t.equal(table, [
    'HOST                 CODE          NOTE',
    '-------------------  ------------  ----',
    'a.example            ECONNREFUSED  x',
    'longer-host.example                y',
    '',
  ].join('\n'), 'columns aligned, no trailing blanks');
  t.equal(cell(`red${ESC}[31m\r\n\tend\u009b`), 'red\\x1b[31m\\x0d\\n\\tend\\x9b', 'control characters shown, never sent');
  t.notMatch(renderTable(['V'], [[`${ESC}]0;pwned\u0007`]]), new RegExp(`[${ESC}\u0007]`));
  t.equal(firstLine('one'), 'one');
  t.equal(firstLine('one\ntwo\nthree\n'), 'one … (+2 lines)');
  const now = Date.parse('2026-11-23T12:00:00Z');
  t.equal(relativeAge(null, now), 'never');
  t.equal(relativeAge('2026-11-23T12:00:00.400Z', now), 'just now');
  t.equal(relativeAge('2026-11-23T11:59:18Z', now), '42s ago');
  t.equal(relativeAge('2026-11-23T11:55:00Z', now), '5m ago');
  t.equal(relativeAge('2026-11-23T09:00:00Z', now), '3h ago');
  t.equal(relativeAge('2026-11-21T11:00:00Z', now), '2d ago');
  t.equal(relativeAge('2026-11-23T12:05:00Z', now), 'in 5m', 'a clock ahead of ours');
  t.equal(formatDuration(42), '42s');
  t.equal(formatDuration(303), '5m 03s');
  t.equal(formatDuration(3 * 3600 + 4 * 60 + 9), '3h 04m');
  t.equal(formatDuration(2 * 86_400 + 3 * 3600), '2d 03h');
  t.equal(shortTime('2026-11-23T02:00:09.123Z'), '2026-11-23 02:00Z');
  t.equal(shortTime(null), '-');
});

t.test('gap-fix lock file sits beside the run lock', async (t) => {
  const cfg = (lockfile: string) => ({ lockfile }) as unknown as Config;
  t.equal(gapfixLockFile(cfg('/srv/jf/var/jellyfish.lock')), '/srv/jf/var/jellyfish-gapfix.lock');
  t.equal(gapfixLockFile(cfg('/srv/jf/var/lock')), '/srv/jf/var/lock-gapfix');
});

t.test('status, hosts, facts, query on a database made by real runs', async (t) => {
  const dir = t.testdir();
  const base = '127.33.1.';
  const fleet = await startFleet({
    count: 6, base: `${base}1`, port: 2222, dir,
    faults: { [`${base}5`]: { kind: 'refuse' }, [`${base}6`]: { kind: 'auth-reject' } },
  });
  t.teardown(() => fleet.close());
  const labels = fleet.hosts.map((h) => h.address);
  // .1 .2 .5 prod; .3 .4 .6 spare
  const prodSet = new Set([`${base}1`, `${base}2`, `${base}5`]);
  writeEnv({ dir, keyPath: fleet.userKeyPath, knownHosts: fleet.knownHostsPath, port: 2222, rows: labels.map((l) => `${l},web,ams,${prodSet.has(l) ? 'prod' : 'spare'}`) });
  const c = ['-c', 'scheduler.ini'];

  await t.test('before any run', async (t) => {
    for (const args of [['hosts'], ['facts', `${base}1`], ['query', '--type', 'packages']]) {
      const r = await jf([...args, ...c], dir);
      t.equal(r.code, 74, `${args[0]} without a database: exit 74`);
      t.match(r.stderr, /no database yet at .*var\/jf\.db: run `jellyfish run` first/);
      t.equal(r.stdout, '');
    }
    t.notOk(fs.existsSync(path.join(dir, 'var/jf.db')), 'a read command never creates the database');
    const st = await jf(['status', ...c], dir);
    t.equal(st.code, 0);
    t.match(st.stdout, /idle: no run or gap-fix is active/);
    t.match(st.stdout, /no run recorded/);
    const sj = JSON.parse((await jf(['status', ...c, '--json'], dir)).stdout);
    t.same(sj.active, []);
    t.same(sj.last_runs, []);
  });

  // Two runs; between them .1's openssl and kernel change (closing intervals) and it gains a hostile package.
  t.equal((await jf(['run', ...c], dir)).code, 0);
  const packages = fs.readFileSync('fixtures/outputs/debian12/packages.txt', 'utf8');
  t.match(packages, /^openssl 3\.0\.19-1~deb12u2$/m);
  const changed = packages.replace(/^openssl .*$/m, 'openssl 1.1.1w-0+deb11u1') + `evil${ESC}[2J 6.6${ESC}]0;owned\u0007\n`;
  fleet.setOutputs(`${base}1`, { packages: changed, rkernel: '6.1.0-99-amd64\n' });
  t.equal((await jf(['run', ...c], dir)).code, 0);

  await t.test('status: idle, last run summary', async (t) => {
    const r = await jf(['status', ...c, '--json'], dir);
    t.equal(r.code, 0);
    const st = JSON.parse(r.stdout);
    t.same(st.active, []);
    t.same(st.unfinished_runs, []);
    t.equal(st.last_runs.length, 1, 'only runs so far: no gap-fix or ingest entry');
    t.match(st.last_runs[0], { mode: 'run', run_id: 2, exit_code: 0, success: 4, failed: 2, failed_prod: 1, sapi: 0, not_started: 0, timeout: false });
    t.ok(Date.parse(st.last_runs[0].finished_at) >= Date.parse(st.last_runs[0].started_at));
    t.type(st.last_runs[0].duration_s, 'number');
    t.equal(r.stdout, r.stdout.trim() + '\n');
    t.equal(Object.keys(st).join(), Object.keys(st).sort().join(), 'sorted keys');
    const text = await jf(['status', ...c], dir);
    t.equal(text.code, 0);
    t.match(text.stdout, /^idle: no run or gap-fix is active\n/);
    t.match(text.stdout, /last run #2: started \d{4}-\d\d-\d\d \d\d:\d\dZ, finished (just now|\d+s ago|\d+m ago) after \d+s, exit 0: 4 ok, 2 failed \(1 prod\), 0 sapi, 0 not started/);
  });

  await t.test('status while a lock is held: exit 3 and the holder; reads still work', async (t) => {
    const lock = await acquireLock(path.join(dir, 'var/jf.lock'), 'run', () => {});
    try {
      const r = await jf(['status', ...c], dir);
      t.equal(r.code, 3, 'exit 3 while a run holds the lock');
      t.match(r.stdout, new RegExp(`^ACTIVE run: pid ${process.pid} on ${os.hostname().replace(/\./g, '\\.')}, started \\S+ \\S+Z, running for \\d+s \\(lock .*jf\\.lock\\)`));
      const j = await jf(['status', ...c, '--json'], dir);
      t.equal(j.code, 3);
      const st = JSON.parse(j.stdout);
      t.equal(st.active.length, 1);
      t.match(st.active[0], { mode: 'run', pid: process.pid, host: os.hostname(), started_at: lock.holder.started_at });
      t.ok(st.active[0].elapsed_s >= 0 && st.active[0].elapsed_s < 60, 'elapsed seconds');
      t.equal(st.last_runs[0].run_id, 2, 'the last summary is still shown');
      for (const args of [['hosts', '--json'], ['facts', `${base}1`, '--json'], ['query', '--type', 'rkernel', '--json']]) {
        const q = await jf([...args, ...c], dir);
        t.equal(q.code, 0, `${args[0]} works while the run lock is held`);
        t.doesNotThrow(() => JSON.parse(q.stdout));
        // --compact (with or without --json): the same JSON on one line.
        const one = await jf([...args.filter((a) => a !== '--json'), '--compact', ...c], dir);
        t.equal(one.code, 0, `${args[0]} --compact`);
        t.equal(one.stdout.trim().split('\n').length, 1, `${args[0]} --compact prints one line`);
        t.same(JSON.parse(one.stdout), JSON.parse(q.stdout), `${args[0]} --compact is the same JSON`);
      }
      // facts of a type never stored warns with the known types, as query does; --subtype narrows.
      const typo = await jf(['facts', `${base}1`, '--type', 'kernel', '--json', ...c], dir);
      t.equal(typo.code, 0);
      t.match(typo.stderr, /no fact of type "kernel" was ever stored; known types: .*rkernel/);
      const sub = JSON.parse((await jf(['facts', `${base}1`, '--subtype', 'default', '--json', ...c], dir)).stdout);
      t.ok(sub.facts.length >= 1 && sub.facts.every((f: { subtype: string }) => f.subtype === 'default'), 'facts --subtype keeps that subtype only');
      t.same(JSON.parse((await jf(['facts', `${base}1`, '--subtype', 'no-such-subtype', '--json', ...c], dir)).stdout).facts, []);
    } finally {
      await lock.release();
    }
    const gapLock = await acquireLock(path.join(dir, 'var/jf-gapfix.lock'), 'gap-fix', () => {});
    try {
      const r = await jf(['status', ...c, '--json'], dir);
      t.equal(r.code, 3, 'exit 3 while a gap-fix holds its own lock');
      t.same(JSON.parse(r.stdout).active.map((a: { mode: string }) => a.mode), ['gap-fix']);
    } finally {
      await gapLock.release();
    }
    t.equal((await jf(['status', ...c], dir)).code, 0, 'idle again once released');
  });

  await t.test('hosts: JSON, filters, table', async (t) => {
    const all = await jf(['hosts', ...c, '--json'], dir);
    t.equal(all.code, 0);
    const rows = JSON.parse(all.stdout) as Record<string, unknown>[];
    t.same(rows.map((r) => r.host), labels, 'one row per inventory host, as written there, in inventory order');
    const refused = rows.find((r) => r.host === `${base}5`);
    t.match(refused, { prod: true, status: 'prod', last_outcome: 'unreachable', last_code: 'ECONNREFUSED', last_success_at: null, srvtype: 'web', pop: 'ams' });
    t.type(refused?.last_message, 'string');
    t.type(refused?.last_attempt_at, 'string');
    const okHost = rows.find((r) => r.host === `${base}1`);
    t.match(okHost, { last_outcome: 'ok', last_code: null });
    t.equal(okHost?.last_success_at, okHost?.last_attempt_at);

    const failed = JSON.parse((await jf(['hosts', ...c, '--failed', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(failed.map((r) => [r.host, r.last_outcome, r.last_code]), [[`${base}5`, 'unreachable', 'ECONNREFUSED'], [`${base}6`, 'auth_failed', 'AUTH']]);
    const stale = JSON.parse((await jf(['hosts', ...c, '--stale', '1h', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(stale.map((r) => r.host), [`${base}5`, `${base}6`], 'never succeeded = stale');
    const staleAll = JSON.parse((await jf(['hosts', ...c, '--stale', '0s', '--json'], dir)).stdout) as unknown[];
    t.equal(staleAll.length, 6, 'no success within 0 s: every host');
    const prod = JSON.parse((await jf(['hosts', ...c, '--prod', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(prod.map((r) => r.host), [`${base}1`, `${base}2`, `${base}5`]);
    const prodFailed = JSON.parse((await jf(['hosts', ...c, '--prod', '--failed', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(prodFailed.map((r) => r.host), [`${base}5`], 'filters combine');

    const table = await jf(['hosts', ...c], dir);
    t.equal(table.code, 0);
    t.equal(table.stderr, '', 'nothing on stderr');
    const lines = table.stdout.trimEnd().split('\n');
    t.equal(lines.length, 2 + 6);
    t.match(lines[0], /^HOST\s+PROD\s+LAST ATTEMPT\s+LAST SUCCESS\s+OUTCOME\s+CODE$/);
    t.match(lines[1], /^-+( {2}-+){5}$/);
    t.match(table.stdout, new RegExp(`${base.replace(/\./g, '\\.')}5\\s+yes\\s+(just now|\\d+s ago|\\d+m ago)\\s+never\\s+unreachable\\s+ECONNREFUSED`));
    t.match(table.stdout, new RegExp(`${base.replace(/\./g, '\\.')}1\\s+yes\\s+(just now|\\d+s ago|\\d+m ago)\\s+(just now|\\d+s ago|\\d+m ago)\\s+ok`));
    const codeCol = lines[0]?.indexOf('CODE');
    for (const l of lines.slice(2)) if (l.length > (codeCol ?? 0)) t.match(l.slice(codeCol), /^[A-Z]+$/, 'the CODE column lines up');

    const bad = await jf(['hosts', ...c, '--stale', 'soon'], dir);
    t.equal(bad.code, 64);
    t.match(bad.stderr, /--stale soon: expected a duration/);
  });

  await t.test('hosts follows the inventory: a new host shows as never collected, a removed one only with --all', async (t) => {
    // .3 left the inventory, new.example joined it (first, and as prod), .2 is no longer prod.
    const rows = [`new.example,web,fra,prod`, ...labels.filter((l) => l !== `${base}3`).map((l) => `${l},web,ams,${prodSet.has(l) && l !== `${base}2` ? 'prod' : 'spare'}`)];
    fs.writeFileSync(path.join(dir, 'next.csv'), rows.join('\n') + '\n');
    const listed = JSON.parse((await jf(['hosts', ...c, '-b', 'next.csv', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(listed.map((r) => r.host), ['new.example', ...labels.filter((l) => l !== `${base}3`)], 'inventory order; the removed host is gone');
    t.match(listed[0], { host: 'new.example', prod: true, pop: 'fra', last_attempt_at: null, last_success_at: null, last_outcome: null });
    t.equal(listed.find((r) => r.host === `${base}2`)?.prod, false, 'production as the inventory says now');
    const stale = JSON.parse((await jf(['hosts', ...c, '-b', 'next.csv', '--prod', '--stale', '1h', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(stale.map((r) => r.host), ['new.example', `${base}5`], 'prod hosts with no recent result, the new one included');
    const failed = JSON.parse((await jf(['hosts', ...c, '-b', 'next.csv', '--failed', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(failed.map((r) => r.host), [`${base}5`, `${base}6`], 'never attempted is not failed');
    const every = JSON.parse((await jf(['hosts', ...c, '-b', 'next.csv', '--all', '--json'], dir)).stdout) as Record<string, unknown>[];
    t.same(every.map((r) => r.host), [...labels].sort(), '--all: every host the database holds');
    const missing = await jf(['hosts', ...c, '-b', 'nope.csv'], dir);
    t.equal(missing.code, 65, 'an inventory named with -b must be readable');
    t.match(missing.stderr, /nope\.csv: cannot read the inventory/);
    fs.renameSync(path.join(dir, 'server4.csv'), path.join(dir, 'server4.csv.away'));
    try {
      const fallback = await jf(['hosts', ...c, '--json'], dir);
      t.equal(fallback.code, 0);
      t.match(fallback.stderr, /server4\.csv: cannot read the inventory.*; listing every host in the database/);
      t.equal(JSON.parse(fallback.stdout).length, 6);
    } finally {
      fs.renameSync(path.join(dir, 'server4.csv.away'), path.join(dir, 'server4.csv'));
    }
  });

  await t.test('facts: current, by type, history, unknown host', async (t) => {
    const r = await jf(['facts', `${base}1`, ...c, '--json'], dir);
    t.equal(r.code, 0);
    const cur = JSON.parse(r.stdout);
    t.equal(cur.host, `${base}1`);
    t.equal(cur.history, false);
    const types = [...new Set(cur.facts.map((f: { type: string }) => f.type))];
    t.same(types, ['memory', 'packages', 'release', 'rkernel'], 'grouped by type, in order');
    t.ok(cur.facts.every((f: { current: boolean }) => f.current), 'current facts only');
    const openssl = cur.facts.filter((f: { type: string; subtype: string }) => f.type === 'packages' && f.subtype === 'openssl');
    t.same(openssl.map((f: { value: string }) => f.value), ['1.1.1w-0+deb11u1']);
    const evil = cur.facts.find((f: { subtype: string }) => f.subtype.startsWith('evil'));
    t.equal(evil?.value, `6.6${ESC}]0;owned\u0007`, 'JSON keeps a hostile value whole (escaped by JSON)');
    t.notMatch(r.stdout, new RegExp(ESC), 'no raw escape byte even in JSON');

    const kern = JSON.parse((await jf(['facts', `${base}1`, ...c, '--type', 'rkernel', '--json'], dir)).stdout);
    t.same(kern.facts.map((f: { type: string; value: string }) => [f.type, f.value]), [['rkernel', '6.1.0-99-amd64']]);

    const hist = JSON.parse((await jf(['facts', `${base}1`, ...c, '--type', 'packages', '--history', '--json'], dir)).stdout);
    t.equal(hist.history, true);
    const intervals = hist.facts.filter((f: { subtype: string }) => f.subtype === 'openssl');
    t.equal(intervals.length, 2, 'the old openssl interval is closed, the new one current');
    t.match(intervals[0], { value: '3.0.19-1~deb12u2', current: false });
    t.match(intervals[1], { value: '1.1.1w-0+deb11u1', current: true });
    t.ok(intervals[0].last_seen < intervals[1].first_seen, 'closed at its last sighting, before the new one opened');
    const bash = hist.facts.filter((f: { subtype: string }) => f.subtype === 'bash');
    t.equal(bash.length, 1, 'an unchanged package has one interval');
    t.ok(bash[0].first_seen < bash[0].last_seen, 'whose last_seen moved');

    const table = await jf(['facts', `${base}1`, ...c], dir);
    t.equal(table.code, 0);
    const lines = table.stdout.trimEnd().split('\n');
    t.match(lines[0], /^TYPE\s+SUBTYPE\s+VALUE\s+SINCE\s+LAST SEEN$/);
    const typeCells = lines.slice(2).map((l) => l.slice(0, l.indexOf(' ')).trim()).filter(Boolean);
    t.same(typeCells, ['memory', 'packages', 'release', 'rkernel'], 'the type is written once, on the first row of its group');
    t.notMatch(table.stdout, new RegExp(`[${ESC}\u0007]`), 'no raw control byte reaches the terminal');
    t.match(table.stdout, /evil\\x1b\[2J\s+6\.6\\x1b\]0;owned\\x07/);
    t.match(table.stdout, /\s+openssl\s+1\.1\.1w-0\+deb11u1\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+(just now|\d+s ago|\d+m ago)/);
    const histTable = await jf(['facts', `${base}1`, ...c, '--type', 'rkernel', '--history'], dir);
    t.match(histTable.stdout, /^TYPE\s+SUBTYPE\s+VALUE\s+FIRST SEEN\s+LAST SEEN\s+STATE\n/);
    t.match(histTable.stdout, /rkernel\s+default\s+6\.18\.44-fc-v669\s+\S+ \S+Z\s+\S+ \S+Z\s+closed\n\s+default\s+6\.1\.0-99-amd64\s+\S+ \S+Z\s+\S+ \S+Z\s+current\n/);

    const unknown = await jf(['facts', 'nope.example', ...c], dir);
    t.equal(unknown.code, 1, 'unknown host: exit 1');
    t.equal(unknown.stdout, '');
    t.match(unknown.stderr, /nope\.example is not in the database/);
    const near = await jf(['facts', `${base}`, ...c, '--json'], dir);
    t.equal(near.code, 1);
    t.match(near.stderr, new RegExp(`similar: ${base.replace(/\./g, '\\.')}1, `), 'similar names suggested');
    t.equal((await jf(['facts', ...c], dir)).code, 64, 'HOST is required');
  });

  await t.test('query: exact, LIKE, table, usage', async (t) => {
    const old = JSON.parse((await jf(['query', ...c, '--type', 'packages', '--subtype', 'openssl', '--value', '3.0.19-1~deb12u2', '--json'], dir)).stdout);
    t.same(old.hosts.map((h: { host: string }) => h.host), [`${base}2`, `${base}3`, `${base}4`], 'the current holders only: .1 moved on, .5/.6 never reported');
    t.equal(old.count, 3);
    t.equal(old.host_count, 3);
    t.same(old.query, { type: 'packages', subtype: 'openssl', value: '3.0.19-1~deb12u2' });
    const like = JSON.parse((await jf(['query', ...c, '--type', 'packages', '--subtype', 'openssl', '--like', '1.1%', '--json'], dir)).stdout);
    t.equal(like.count, 1);
    t.match(like.hosts[0], { host: `${base}1`, subtype: 'openssl', value: '1.1.1w-0+deb11u1' });
    t.ok(like.hosts[0].since <= like.hosts[0].last_seen);
    const underscore = JSON.parse((await jf(['query', ...c, '--type', 'packages', '--subtype', 'openssl', '--like', '1\\_1%', '--json'], dir)).stdout);
    t.equal(underscore.count, 0, '\\ escapes _ in --like');
    const noSubtype = JSON.parse((await jf(['query', ...c, '--type', 'rkernel', '--json'], dir)).stdout);
    t.equal(noSubtype.count, 4, 'every host that reported a kernel');
    const injected = await jf(['query', ...c, '--type', 'packages', '--like', "x' OR 1=1; DROP TABLE hosts; --", '--json'], dir);
    t.equal(injected.code, 0);
    t.equal(JSON.parse(injected.stdout).count, 0, 'the pattern is a parameter, not SQL');
    t.equal(JSON.parse((await jf(['hosts', ...c, '--json'], dir)).stdout).length, 6, 'hosts table intact');

    const table = await jf(['query', ...c, '--type', 'release', '--subtype', 'ID'], dir);
    t.equal(table.code, 0);
    t.match(table.stdout, /^HOST\s+SUBTYPE\s+VALUE\s+SINCE\s+LAST SEEN\n-+/);
    t.match(table.stdout, new RegExp(`${base.replace(/\./g, '\\.')}2\\s+ID\\s+debian\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+(just now|\\d+s ago|\\d+m ago)`));
    t.equal(table.stdout.trimEnd().split('\n').length, 2 + 4);

    const typo = await jf(['query', ...c, '--type', 'package', '--subtype', 'openssl'], dir);
    t.equal(typo.code, 0);
    t.match(typo.stderr, /no fact of type "package" was ever stored; known types: memory, packages, release, rkernel/);
    t.equal((await jf(['query', ...c, '--type', 'packages', '--value', 'x', '--like', 'y'], dir)).code, 64);
    t.equal((await jf(['query', ...c, '--subtype', 'openssl'], dir)).code, 64, '--type is required');
  });

  await t.test('--help explains each command and its exit codes', async (t) => {
    for (const [cmd, codes] of [['status', /0 nothing is running, 3 a run or gap-fix is active/], ['hosts', /64 bad AGE, 65 the -b inventory is unusable,\s+74 no or unreadable database/], ['facts', /1 the host is not in the database/], ['query', /0 \(also when nothing matches\)/]] as const) {
      const r = await jf([cmd, '--help'], dir);
      t.equal(r.code, 0);
      t.match(r.stdout, new RegExp(`^Usage: jellyfish ${cmd}`));
      t.match(r.stdout, /-c, --config <file>/);
      t.match(r.stdout, /--json/);
      t.match(r.stdout, codes);
    }
  });

  await t.test('status during a real run, and reading its database meanwhile', async (t) => {
    await fleet.setFault(`${base}3`, { kind: 'delay', ms: 4000 });
    const running = jf(['run', ...c], dir);
    let seen: Ran | undefined;
    for (let i = 0; i < 100 && !seen; i++) {
      const r = await jf(['status', ...c, '--json'], dir);
      if (r.code === 3) seen = r;
      else await sleep(50);
    }
    t.ok(seen, 'status saw the run');
    const st = JSON.parse(seen?.stdout ?? '{}');
    t.equal(st.active?.[0]?.mode, 'run');
    t.not(st.active?.[0]?.pid, process.pid, 'the holder is the run process');
    const hosts = await jf(['hosts', ...c, '--json'], dir);
    t.equal(hosts.code, 0, 'hosts answers while the run writes');
    t.equal(JSON.parse(hosts.stdout).length, 6);
    const during = JSON.parse((await jf(['status', ...c, '--json'], dir)).stdout);
    if (during.active.length) {
      t.match(during.unfinished_runs, [{ mode: 'run', run_id: 3, state: 'running' }], 'the run in progress is named');
      t.equal(during.last_runs[0].run_id, 2, 'with the last finished run beside it');
    }
    const done = await running;
    t.equal(done.code, 0);
    await fleet.setFault(`${base}3`, undefined);
    const after = JSON.parse((await jf(['status', ...c, '--json'], dir)).stdout);
    t.same(after.active, []);
    t.equal(after.last_runs[0].run_id, 3);
    t.same(after.unfinished_runs, []);
  });

  await t.test('status: a stale lock, an unreadable database', async (t) => {
    const lockfile = path.join(dir, 'var/jf.lock');
    // What a killed run leaves: the lock directory, no longer refreshed, and its holder file.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    fs.mkdirSync(`${lockfile}.lock`);
    fs.writeFileSync(lockfile, JSON.stringify({ pid: Number(dead), hostname: os.hostname(), started_at: '2026-01-01T00:00:00.000Z', mode: 'run' }));
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(`${lockfile}.lock`, old, old);
    const r = await jf(['status', ...c, '--json'], dir);
    t.equal(r.code, 0, 'a dead holder is not an active run');
    t.match(JSON.parse(r.stdout).stale_locks, [{ mode: 'run', pid: Number(dead) }]);
    t.match((await jf(['status', ...c], dir)).stdout, /stale run lock left by pid \d+ .*: the next run takes it over/);
    fs.rmdirSync(`${lockfile}.lock`);
    fs.unlinkSync(lockfile);

    const broken = path.join(dir, 'broken.ini');
    fs.writeFileSync(broken, '[storage]\ndatabase = junk.db\n[GLOBAL]\nlockfile = var/junk.lock\n');
    fs.writeFileSync(path.join(dir, 'junk.db'), 'this is not a database, just text that is long enough to be read as a header'.repeat(20));
    const idle = await jf(['status', '-c', broken], dir);
    t.equal(idle.code, 74, 'idle with an unreadable database: exit 74');
    t.match(idle.stderr, /junk\.db/);
    t.equal((await jf(['hosts', '-c', broken], dir)).code, 74);
    const held = await acquireLock(path.join(dir, 'var/junk.lock'), 'run', () => {});
    try {
      const busy = await jf(['status', '-c', broken, '--json'], dir);
      t.equal(busy.code, 3, 'active wins over an unreadable database: scripts keep waiting');
      t.match(JSON.parse(busy.stdout).database_error, /junk\.db/);
    } finally {
      await held.release();
    }
  });
});

t.test('the audit query on 10,000 hosts x 500 packages', { timeout: 600_000 }, async (t) => {
  const dir = t.testdir();
  const db = path.join(dir, 'var/big.db');
  const store = openStore(db);
  const runId = await store.beginRun({ mode: 'run', startedAt: new Date(), pid: process.pid, hostname: os.hostname(), threads: 1, workers: 0 });
  const now = Date.now();
  for (let b = 0; b < 10_000; b += 500) {
    const batch: HostResult[] = [];
    for (let i = b; i < b + 500; i++) {
      const values: Record<string, string> = {};
      for (let p = 0; p < 499; p++) values[`pkg${p}`] = `1.${p % 7}.${i % 3}`;
      values.openssl = i % 10 === 0 ? '1.1.1w-0' : '3.0.11-1';
      batch.push({
        label: `h${i}.example`, outcome: 'ok', startedAt: now, finishedAt: now, outputBytes: 0,
        collections: [
          { type: 'packages', status: 'ok', durationMs: 1, values },
          { type: 'rkernel', status: 'ok', durationMs: 1, values: { default: `6.1.0-${i % 5}-amd64` } },
        ],
      });
    }
    store.recordResults(runId, batch);
  }
  await store.finishRun(runId, new Date(), 0, JSON.stringify({ global_success_hosts: 10_000, global_fail_hosts: 0, global_fail_prod: 0, sapi_hosts: 0, not_started_hosts: 0 }));
  store.close();

  const ro = openStore(db, { readonly: true });
  t.teardown(() => ro.close());
  const time = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const started = process.hrtime.bigint();
    const value = await fn();
    return { value, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  };
  const q = { type: 'packages', subtype: 'openssl', like: '1.1%' };
  await ro.auditQuery(q); // first call warms the page cache; the second is what an operator repeats
  const like = await time(() => ro.auditQuery(q));
  t.equal(like.value.length, 1000);
  t.equal(like.value[0]?.host, 'h0.example');
  t.ok(like.ms < 1000, `--subtype openssl --like 1.1%: ${like.ms.toFixed(1)} ms`);
  const exact = await time(() => ro.auditQuery({ type: 'packages', subtype: 'openssl', value: '3.0.11-1' }));
  t.equal(exact.value.length, 9000);
  t.ok(exact.ms < 1000, `--subtype openssl --value 3.0.11-1: ${exact.ms.toFixed(1)} ms`);
  const typeOnly = await time(() => ro.auditQuery({ type: 'rkernel' }));
  t.equal(typeOnly.value.length, 10_000);
  t.ok(typeOnly.ms < 1000, `--type rkernel: ${typeOnly.ms.toFixed(1)} ms`);
  const noSubtype = await time(() => ro.auditQuery({ type: 'packages', value: '1.1.1w-0' }));
  t.equal(noSubtype.value.length, 1000);
  t.ok(noSubtype.ms < 3000, `--type packages --value (no subtype: walks the type's index range): ${noSubtype.ms.toFixed(1)} ms`);

  for (const [shape, plan, uses] of [
    ['subtype + like', auditPlan(ro.database, q), /SEARCH f USING (COVERING )?INDEX facts_audit \(type=\? AND subtype=\?\)/],
    ['subtype + value', auditPlan(ro.database, { type: 'packages', subtype: 'openssl', value: 'x' }), /SEARCH f USING (COVERING )?INDEX facts_audit \(type=\? AND subtype=\? AND value=\?\)/],
    ['type only', auditPlan(ro.database, { type: 'rkernel' }), /SEARCH f USING (COVERING )?INDEX facts_audit \(type=\?\)/],
  ] as const) {
    const text = plan.join('; ');
    t.match(text, uses, `${shape}: ${text}`);
    t.notMatch(text, /SCAN f\b/, `${shape}: no full scan of facts`);
    t.notMatch(text, /facts_closed/, `${shape}: not the is_current index`);
  }

  const hosts = await time(async () => filterHosts(await ro.listHosts(), { staleBefore: now + 1 }));
  t.equal(hosts.value.length, 10_000);
  t.ok(hosts.ms < 1000, `hosts --stale over 10,000: ${hosts.ms.toFixed(1)} ms`);
  const ref = await ro.findHost('H4242.Example');
  t.equal(ref?.name, 'h4242.example', 'a host found without regard to case, reported as stored');
  const facts = await time(() => ro.hostFacts(ref ?? { id: 0, name: '' }, { type: 'packages' }));
  t.equal(facts.value.length, 500);
  t.ok(facts.ms < 200, `facts of one host: ${facts.ms.toFixed(1)} ms`);
  t.same(facts.value.slice(0, 3).map((f) => f.subtype), ['openssl', 'pkg0', 'pkg1'], 'ordered by subtype');
  for (const opts of [{}, { type: 'packages' }, { type: 'packages', history: true }]) {
    const plan = hostFactsPlan(ro.database, ref ?? { id: 0, name: '' }, opts).join('; ');
    t.match(plan, /SEARCH f USING INDEX facts_host_type \(host_id=\?/, `facts ${JSON.stringify(opts)}: ${plan}`);
    t.match(plan, /SEARCH ft USING (COVERING )?INDEX sqlite_autoindex_fact_types_1 \(host_id=\? AND type=\?\)/, 'each fact finds its type\'s last sighting by key');
  }
  t.same(await ro.factTypes(), ['packages', 'rkernel']);
  t.match((await ro.lastRuns())[0], { mode: 'run', lastFinished: { id: runId, exitCode: 0 }, unfinished: [] });

  // The binary on the same database, start-up included.
  fs.writeFileSync(path.join(dir, 'scheduler.ini'), '[storage]\ndatabase = var/big.db\n[GLOBAL]\nlockfile = var/big.lock\n');
  const cli = await jf(['query', '-c', 'scheduler.ini', '--type', 'packages', '--subtype', 'openssl', '--like', '1.1%', '--json'], dir);
  t.equal(cli.code, 0, cli.stderr);
  t.equal(JSON.parse(cli.stdout).count, 1000);
  t.ok(cli.ms < 5000, `jellyfish query end to end: ${cli.ms} ms`);
  t.comment(`10,000 hosts x 500 packages: --subtype --like ${like.ms.toFixed(1)} ms, --subtype --value ${exact.ms.toFixed(1)} ms, --type only ${typeOnly.ms.toFixed(1)} ms, --value without --subtype ${noSubtype.ms.toFixed(1)} ms, CLI ${cli.ms} ms`);
});
