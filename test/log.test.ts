// Progress output: an ora spinner only on a real terminal (never a width-0 TTY, never in CI),
// per-host lines only with -V, warnings always.
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { Log } from '../src/app/log.js';

function fakeStream(tty: boolean, columns: number) {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  s.isTTY = tty;
  s.columns = columns;
  // what a tty.WriteStream offers ora beyond write()
  Object.assign(s, { cursorTo: () => true, moveCursor: () => true, clearLine: () => true, getColorDepth: () => 1, hasColors: () => false });
  let out = '';
  s.on('data', (d: Buffer) => { out += d; });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => out };
}

t.test('cron (no TTY): only warnings and errors', async (t) => {
  const f = fakeStream(false, 0);
  const log = new Log(false, f.stream);
  log.startProgress();
  log.verbose('host line');
  log.progress({ done: 1, total: 2, ok: 1, failed: 0, inFlight: 1, startedAt: Date.now() });
  log.warn('careful');
  log.stopProgress();
  t.equal(f.text(), 'jellyfish: warning: careful\n');
});

t.test('-V prints host lines', async (t) => {
  const f = fakeStream(false, 0);
  new Log(true, f.stream).verbose('[1/2] a ok 0.1s');
  t.equal(f.text(), '[1/2] a ok 0.1s\n');
});

t.test('a width-0 TTY or CI gets no spinner', async (t) => {
  const saved = process.env.CI;
  delete process.env.CI;
  t.teardown(() => { if (saved !== undefined) process.env.CI = saved; });
  const zero = fakeStream(true, 0);
  const log = new Log(false, zero.stream);
  log.startProgress();
  log.progress({ done: 1, total: 2, ok: 1, failed: 0, inFlight: 1, startedAt: Date.now() });
  log.stopProgress();
  t.equal(zero.text(), '');
  process.env.CI = '1';
  const ci = fakeStream(true, 80);
  const log2 = new Log(false, ci.stream);
  log2.startProgress();
  log2.stopProgress();
  t.equal(ci.text(), '');
});

t.test('a real terminal gets done/total, ok, failed, in flight and ETA', async (t) => {
  const saved = process.env.CI;
  delete process.env.CI;
  t.teardown(() => { if (saved !== undefined) process.env.CI = saved; });
  const term = fakeStream(true, 100);
  const log = new Log(false, term.stream);
  log.startProgress();
  log.progress({ done: 5, total: 10, ok: 4, failed: 1, inFlight: 3, startedAt: Date.now() - 5000 });
  await new Promise((r) => setTimeout(r, 200));
  log.stopProgress();
  t.match(term.text(), /5\/10 hosts, 4 ok, 1 failed, 3 in flight, ETA \d+s/);
});

t.test('NO_COLOR turns the spinner colour off', async (t) => {
  // In a child process: the colour library reads FORCE_COLOR once, when it is first imported.
  const script = `
    import { PassThrough } from 'node:stream';
    import { Log } from './dist/app/log.js';
    const s = new PassThrough();
    Object.assign(s, { isTTY: true, columns: 100, cursorTo: () => true, moveCursor: () => true, clearLine: () => true });
    let out = '';
    s.on('data', (d) => { out += d; });
    const log = new Log(false, s);
    log.startProgress();
    log.progress({ done: 1, total: 2, ok: 1, failed: 0, inFlight: 1, startedAt: Date.now() });
    setTimeout(() => { log.stopProgress(); process.stdout.write(JSON.stringify(out)); }, 300);
  `;
  const run = (env: Record<string, string>) => {
    const e: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '1', ...env };
    delete e.CI;
    if (!env.NO_COLOR) delete e.NO_COLOR;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: e });
    t.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout || '""') as string;
  };
  const sgrColour = new RegExp(String.raw`\u001b\[3[0-9]m`);
  const coloured = run({});
  t.match(coloured, /1\/2 hosts/, 'the spinner ran');
  t.match(coloured, sgrColour, 'coloured by default on a colour terminal');
  const plain = run({ NO_COLOR: '1' });
  t.match(plain, /1\/2 hosts/);
  t.notMatch(plain, sgrColour, 'no colour with NO_COLOR');
});
