// Where a .cpuprofile's time went: self time per function and per area (ssh2 crypto and
// protocol, SQLite, jellyfish's own modules, Node internals, GC, idle), from the V8 samples.
import fs from 'node:fs';

/** Areas by script URL, first match wins. */
const AREAS = [
  ['ssh2: crypto (kex, cipher, mac, sign)', /node_modules\/ssh2\/lib\/protocol\/(crypto|kex|keyParser)|node:crypto|internal\/crypto/],
  ['ssh2: protocol, channels', /node_modules\/ssh2\//],
  ['SQLite (better-sqlite3) and the store', /node_modules\/better-sqlite3\/|dist\/store\//],
  ['piscina and thread messages', /node_modules\/piscina\/|internal\/worker|internal\/per_context\/messageport/],
  ['jellyfish: parse, frames, collect', /dist\/(collections|pipeline|ssh)\//],
  ['jellyfish: run, dispatch, report', /dist\//],
  ['node: net, streams, timers', /^node:|internal\//],
];

export function summarize(file, top = 15) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  // timeDeltas[i] is the time before sample i; charge it to that sample's node.
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fn = new Map();
  const area = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') { idle += us; continue; }
    total += us;
    const url = cf.url.replace(/^file:\/\//, '');
    const where = url ? `${url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, 'dist/')}:${cf.lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    let a;
    if (name === '(garbage collector)') a = 'garbage collector';
    else if (name === '(program)') a = '(program): native code outside JS (syscalls, libuv, OpenSSL, SQLite C)';
    else a = AREAS.find(([, re]) => re.test(url))?.[0] ?? (url ? 'other JS' : `native: ${name}`);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const sorted = (m) => [...m].sort((x, y) => y[1] - x[1]);
  return {
    busyMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    areas: sorted(area).map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: us / total })),
    functions: sorted(fn).slice(0, top).map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: us / total })),
  };
}
