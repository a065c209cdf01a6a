// The run lock: holder details, exit 75 for a live holder, takeover after SIGKILL, compromise.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { LockHeldError } from '../src/core/errors.js';
import { acquirePgLock, advisoryKey, advisoryKey64 } from '../src/lock/pg-lock.js';
import { acquireLock, lockState, readHolder } from '../src/lock/run-lock.js';
import { acquireSiteLock } from '../src/lock/site-lock.js';
import { openAnyStore } from '../src/store/store.js';
import { postgresSkipReason, startPostgres } from './helpers/postgres.js';

t.test('a second taker gets LockHeldError (75) naming the holder', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'var', 'jf.lock');
  const lock = await acquireLock(file, 'run', () => {});
  t.equal((fs.statSync(path.dirname(file)).mode & 0o777), 0o700, 'lock folder is 0700');
  t.equal((fs.statSync(file).mode & 0o777), 0o600, 'holder file is 0600');
  t.same(readHolder(file), { pid: process.pid, hostname: os.hostname(), started_at: lock.holder.started_at, mode: 'run' });
  t.equal(lockState(file).held, true);
  try {
    await acquireLock(file, 'run', () => {});
    t.fail('second acquire must fail');
  } catch (e) {
    t.ok(e instanceof LockHeldError);
    t.equal((e as LockHeldError).exitCode, 75);
    t.equal((e as LockHeldError).holder.pid, process.pid);
  }
  await lock.release();
  t.equal(lockState(file).held, false);
  const again = await acquireLock(file, 'run', () => {});
  await again.release();
});

t.test('the lock of a SIGKILLed holder is taken over at once', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'jf.lock');
  const script = path.join(dir, 'hold.ts');
  fs.writeFileSync(script, `import { acquireLock } from ${JSON.stringify(path.resolve('src/lock/run-lock.ts'))};\nawait acquireLock(${JSON.stringify(file)}, 'run', () => {});\nconsole.log('held');\nsetInterval(() => {}, 1000);\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve(); }));
  await t.rejects(acquireLock(file, 'run', () => {}), LockHeldError, 'held while the child lives');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  const started = Date.now();
  const lock = await acquireLock(file, 'run', () => {});
  t.ok(Date.now() - started < 5_000, 'taken over without waiting for staleness');
  t.equal(readHolder(file)?.pid, process.pid);
  await lock.release();
});

t.test('a stale lock from another machine is taken over once stale', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'jf.lock');
  fs.mkdirSync(`${file}.lock`);
  fs.writeFileSync(file, JSON.stringify({ pid: 1, hostname: 'elsewhere', started_at: '2026-01-01T00:00:00Z', mode: 'run' }));
  const old = new Date(Date.now() - 120_000);
  fs.utimesSync(`${file}.lock`, old, old);
  const lock = await acquireLock(file, 'run', () => {});
  t.equal(readHolder(file)?.pid, process.pid);
  await lock.release();
});

t.test('a lock removed under a live holder reports compromise instead of crashing', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'jf.lock');
  let compromised: Error | undefined;
  const lock = await acquireLock(file, 'run', (e) => { compromised = e; });
  fs.rmdirSync(`${file}.lock`);
  const until = Date.now() + 15_000;
  while (!compromised && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  t.ok(compromised, 'onCompromised was called');
  await lock.release();
});

t.test('the holder file is written through a fresh temp file: a link planted at the old temp name is never followed', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'jf.lock');
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious\n');
  fs.symlinkSync(victim, `${file}.${process.pid}.tmp`);
  const lock = await acquireLock(file, 'run', () => {});
  t.equal(fs.readFileSync(victim, 'utf8'), 'precious\n', 'the link target is untouched');
  t.equal(readHolder(file)?.pid, process.pid, 'the holder is written all the same');
  t.equal(fs.statSync(file).mode & 0o777, 0o600);
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp') && n !== `jf.lock.${process.pid}.tmp`), [], 'no temp file left behind');
  await lock.release();
});

t.test('site locks on PostgreSQL', { skip: postgresSkipReason() ?? false }, async (t) => {
  const pgs = await startPostgres();
  t.teardown(() => pgs.stop());
  process.env.PGPASSWORD = pgs.password;
  t.teardown(() => { delete process.env.PGPASSWORD; });
  const url = await pgs.createDatabase('locks');
  await (await openAnyStore(url)).close(); // the schema (run_locks)
  const take = (sites: string[], shard?: string) => acquirePgLock({ url, mode: 'run', sites, scope: `sites ${sites.join(',')}`, ...(shard ? { shard } : {}), onLost: () => {} });

  t.test('keys are 64 bits: two sites whose 32-bit keys collide run side by side', async (t) => {
    t.equal(advisoryKey('run:site:site3182'), advisoryKey('run:site:site96500'), 'a known 32-bit collision');
    t.not(advisoryKey64('run:site:site3182'), advisoryKey64('run:site:site96500'));
    t.match(advisoryKey64('run:site:ams'), /^-?\d{1,19}$/, 'a signed bigint as text');
    const a = await take(['site3182']);
    t.teardown(() => a.release());
    const b = await take(['site96500']);
    await b.release();
    await t.rejects(take(['site3182']), LockHeldError, 'the same site is still refused');
  });

  t.test('shards of one site with different counts are refused as on SQLite; the same count runs', async (t) => {
    const half = await take(['x'], '1/2');
    t.teardown(() => half.release());
    const other = await take(['x'], '2/2');
    await other.release();
    const e = await take(['x'], '1/3').then(() => undefined, (err: Error) => err);
    t.ok(e instanceof LockHeldError, 'refused');
    t.equal((e as LockHeldError).exitCode, 75);
    t.match(e!.message, /: a run of sites x shard 1\/2 is running \(pid \d+ on .* since .*\) and covers hosts of this one$/);
    t.match((e as LockHeldError).holder, { pid: process.pid, sites: ['x'], shard: '1/2', mode: 'run' });
    const y = await take(['y'], '1/3');
    await y.release();
    t.pass('another site with another count runs');

    // The SQLite lock words the same refusal alike.
    const file = path.join(t.testdir(), 'jf.lock');
    const sq = await acquireSiteLock(file, 'run', { sites: ['x'], shard: '1/2', unknownSites: [] }, () => () => {});
    t.teardown(() => sq.release());
    const e2 = await acquireSiteLock(file, 'run', { sites: ['x'], shard: '1/3', unknownSites: [] }, () => () => {}).then(() => undefined, (err: Error) => err);
    t.equal((e2 as LockHeldError).exitCode, 75);
    const words = (m: string) => m.replace(/^.*?: a run/, 'a run').replace(/since [^)]+/, 'since T');
    t.equal(words(e2!.message), words(e!.message), 'the same words');
  });
});

t.test('a lock left without its holder details (killed between taking it and writing them) is taken over', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'jf.lock');
  fs.mkdirSync(`${file}.lock`);
  const lock = await acquireLock(file, 'run', () => {});
  t.equal(readHolder(file)?.pid, process.pid, 'this process holds it now');
  await t.rejects(acquireLock(file, 'run', () => {}), LockHeldError, 'a lock with a live holder is still refused');
  await lock.release();
});
