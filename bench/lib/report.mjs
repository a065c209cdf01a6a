// Figures -> markdown: medians with their min–max spread, ratios to jellyfish in the same group,
// the issue's targets checked, and the generated part of docs/benchmarks.md replaced.
import fs from 'node:fs';

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
export function withSpread(xs, digits) {
  const s = xs.filter((x) => Number.isFinite(x));
  if (s.length === 0) return '–';
  const m = median(s);
  if (s.length === 1) return fmt(m, digits);
  return `${fmt(m, digits)} (${fmt(Math.min(...s), digits)}–${fmt(Math.max(...s), digits)})`;
}

/** Per-rep samples -> the row's figures. */
export function summarizeRow(row, hosts) {
  const reps = row.reps;
  const wall = reps.map((r) => r.wallS);
  const rate = reps.map((r) => hosts / r.wallS);
  const cpu = reps.map((r) => (r.controllerCpuMs ?? NaN) / hosts);
  const server = reps.map((r) => r.serverCpuMs / hosts);
  const rss = reps.map((r) => r.peakRssMb);
  const ok = reps.map((r) => r.ok);
  return {
    wall: median(wall), rate: median(rate), cpuPerHost: median(cpu), serverPerHost: median(server), peakRssMb: median(rss), ok: median(ok),
    text: {
      wall: withSpread(wall, 1), rate: withSpread(rate, 0), cpu: withSpread(cpu, 2), server: withSpread(server, 2), rss: withSpread(rss, 0),
      ok: `${Math.min(...ok)}${Math.min(...ok) === Math.max(...ok) ? '' : `–${Math.max(...ok)}`}/${hosts}`,
    },
  };
}

/**
 * The store group: SQLite vs PostgreSQL, one collector vs one per site; × a divides by row a
 * (SQLite, one collector). The PostgreSQL server's CPU is apart from the controller's, and
 * added to it in "controller + PostgreSQL" (SQLite's work is inside the controller's figure).
 */
function storeTable(group) {
  const ref = group.rows.find((r) => r.reference && !r.skipped)?.summary;
  const lines = [
    `**${group.title}**`,
    '',
    `| row | collectors | wall s | hosts/s | × a | controller CPU ms/host | PostgreSQL CPU ms/host | controller + PostgreSQL CPU ms/host | × a | fleet CPU ms/host | CPU floor s | wall ÷ floor | peak RSS MB | PostgreSQL peak PSS MB | ok |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of group.rows) {
    const collectors = r.sites ? `${r.sites.length} at once (${r.sites.join(', ')})` : '1';
    if (r.skipped || !r.summary) {
      lines.push(`| ${r.label} | ${collectors} | skipped: ${r.skipped ?? 'no run'} | | | | | | | | | | | | |`);
      continue;
    }
    const s = r.summary;
    const sp = s.spread ?? {};
    const speed = ref ? fmt(s.rate / ref.rate, 2) : '–';
    const total = ref ? fmt(s.totalCpuPerHost / ref.totalCpuPerHost, 2) : '–';
    // What the cores allow whatever the store: every host's controller, server and fleet CPU.
    const floor = (group.hosts * (s.totalCpuPerHost + s.serverPerHost)) / 1000 / (group.cores ?? 2);
    lines.push(`| ${r.label} | ${collectors} | ${s.text.wall} | ${s.text.rate} | ${speed} | ${s.text.cpu} | ${withSpread(sp.pgCpu ?? [], 2)} | ${withSpread(sp.total ?? [], 2)} | ${total} | ${s.text.server} | ${fmt(floor, 1)} | ${fmt(s.wall / floor, 2)} | ${s.text.rss} | ${withSpread(sp.pgRss ?? [], 0)} | ${s.text.ok} |`);
  }
  const fills = Object.entries(group.fills ?? {}).filter(([, f]) => f);
  if (fills.length) {
    const n = group.hosts;
    lines.push('', `First runs (the fill of each store before the reps: one collector, empty store, one sample each, not medians): ${fills.map(([store, f]) => `${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${fmt(f.wallS, 1)} s, ${fmt(n / f.wallS, 0)} hosts/s, controller ${fmt(f.controllerCpuMs / n, 2)} ms/host${Number.isFinite(f.sideCpuMs) ? ` + PostgreSQL ${fmt(f.sideCpuMs / n, 2)} ms/host` : ''}, ${f.ok}/${n} ok`).join('; ')}.`);
  }
  return lines.join('\n');
}

export function groupTable(group) {
  if (group.postgres) return storeTable(group);
  const ref = group.rows.find((r) => r.reference && !r.skipped)?.summary;
  const lines = [
    `**${group.title}**`,
    '',
    '| contender | N | KEX | wall s | hosts/s | × jellyfish | controller CPU ms/host | × jellyfish | server CPU ms/host | peak RSS MB | ok |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of group.rows) {
    if (r.skipped) {
      lines.push(`| ${r.label} | ${r.n} | ${r.kex} | skipped: ${r.skipped} | | | | | | | |`);
      continue;
    }
    const s = r.summary;
    const speed = ref ? fmt(s.rate / ref.rate, 2) : '–';
    const cpu = ref ? fmt(s.cpuPerHost / ref.cpuPerHost, 2) : '–';
    lines.push(`| ${r.label} | ${r.n} | ${r.kex} | ${s.text.wall} | ${s.text.rate} | ${speed} | ${s.text.cpu} | ${cpu} | ${s.text.server} | ${s.text.rss} | ${s.text.ok} |`);
  }
  return lines.join('\n');
}

/** The issue's targets, checked against this run's groups where the run has the figures. */
export function targets(groups) {
  const out = [];
  const find = (g, pred) => g.rows.find((r) => !r.skipped && pred(r))?.summary;
  const ref = (g) => g.rows.find((r) => r.reference && !r.skipped)?.summary;
  const peersOf = (g, kex) => g.rows.filter((r) => !r.skipped && ['pdsh', 'pssh', 'clush'].includes(r.tool) && (!kex || r.kexId === kex)).map((r) => r.summary);
  const line = (what, value, goal, ok, note) => out.push({ what, value, goal, met: ok, ...(note ? { note } : {}) });
  for (const g of groups) {
    const jf = ref(g);
    if (!jf) continue;
    const where = g.title.replace(/\*\*/g, '');
    if (g.postgres) {
      const byId = (id) => find(g, (r) => r.id === id);
      const pgOne = byId('store-pg');
      const pgSites = byId('sites-pg');
      const liteSites = byId('sites-sqlite');
      if (pgOne) line(`${where}: b (PostgreSQL) hosts/s vs a (SQLite)`, `${fmt(pgOne.rate / jf.rate, 3)}× (${fmt(pgOne.rate, 0)} vs ${fmt(jf.rate, 0)})`, '≥ 0.9×', pgOne.rate / jf.rate >= 0.9);
      if (pgSites && pgOne) line(`${where}: c (two site collectors, PostgreSQL) hosts/s vs b (one collector, PostgreSQL)`, `${fmt(pgSites.rate / pgOne.rate, 3)}× (${fmt(pgSites.rate, 0)} vs ${fmt(pgOne.rate, 0)})`, '≥ 1×', pgSites.rate / pgOne.rate >= 1);
      if (liteSites) line(`${where}: d (two site collectors, SQLite) hosts/s vs a (one collector, SQLite)`, `${fmt(liteSites.rate / jf.rate, 3)}× (${fmt(liteSites.rate, 0)} vs ${fmt(jf.rate, 0)})`, '≥ 1× (no target set: for comparison)', liteSites.rate / jf.rate >= 1);
      continue;
    }
    if (g.fleet === 'fixture' && g.peers) {
      const best = Math.max(...peersOf(g).map((s) => s.rate));
      const ans = find(g, (r) => r.tool === 'ansible-raw');
      if (Number.isFinite(best)) line(`${where}: hosts/s vs best of pdsh/pssh/clush`, `${fmt(jf.rate / best, 2)}×`, '≥ 3×', jf.rate / best >= 3);
      if (ans) line(`${where}: hosts/s vs ansible raw`, `${fmt(jf.rate / ans.rate, 1)}×`, '≥ 10×', jf.rate / ans.rate >= 10);
      const bestCpu = Math.min(...peersOf(g).map((s) => s.cpuPerHost));
      if (Number.isFinite(bestCpu)) line(`${where}: controller CPU/host vs best peer`, `${fmt(jf.cpuPerHost / bestCpu, 2)}×`, '≤ 0.33×', jf.cpuPerHost / bestCpu <= 1 / 3);
    }
    if (g.fleet === 'fixture') line(`${where}: controller CPU ms/host`, fmt(jf.cpuPerHost, 2), '≤ 3', jf.cpuPerHost <= 3);
    if (g.fleet === 'openssh') {
      const lim = find(g, (r) => r.tool === 'limit');
      if (lim) line(`${where}: hosts/s vs bare ssh2 loop`, `${fmt(jf.rate / lim.rate, 2)}×`, '≥ 0.9×', jf.rate / lim.rate >= 0.9);
      const curve = Math.max(...peersOf(g, 'curve').map((s) => s.rate));
      if (Number.isFinite(curve)) line(`${where}: hosts/s vs best peer on curve25519`, `${fmt(jf.rate / curve, 2)}×`, '≥ 1×', jf.rate / curve >= 1);
      const dflt = Math.max(...peersOf(g, 'default').map((s) => s.rate));
      if (Number.isFinite(dflt)) line(`${where}: hosts/s vs best peer on default KEX`, `${fmt(jf.rate / dflt, 2)}×`, '≥ 3×', jf.rate / dflt >= 3);
      const bestCpu = Math.min(...peersOf(g, 'curve').map((s) => s.cpuPerHost));
      if (Number.isFinite(bestCpu)) line(`${where}: controller CPU/host vs best peer (curve25519)`, `${fmt(jf.cpuPerHost / bestCpu, 2)}×`, '≤ 0.33×', jf.cpuPerHost / bestCpu <= 1 / 3);
    }
    if (g.fleet === 'fixture' && g.scale) line(`${where}: jellyfish peak RSS at 256 in flight`, `${fmt(jf.peakRssMb, 0)} MB`, '≤ 300 MB (at 10,000 hosts)', jf.peakRssMb <= 300);
    if (g.fleet === 'fixture' && g.delayMs >= 100) {
      for (const r of g.rows.filter((x) => !x.skipped && x.tool === 'jellyfish')) {
        const floor = (g.hosts * g.delayMs) / 1000 / r.n;
        // What the two cores allow whatever the latency: every host's controller and fleet CPU.
        const cpuFloor = (g.hosts * (r.summary.cpuPerHost + r.summary.serverPerHost)) / 1000 / (g.cores ?? 2);
        line(`${where}: ${r.label} wall vs hosts × ${g.delayMs} ms / ${r.n} in flight (${fmt(floor, 2)} s)`, `${fmt(r.summary.wall / floor, 1)}×`, '≤ 1.3×', r.summary.wall / floor <= 1.3,
          `CPU floor on ${g.cores ?? 2} cores (hosts × (controller + fleet CPU) / cores): ${fmt(cpuFloor, 1)} s; wall ${fmt(r.summary.wall, 1)} s = ${fmt(r.summary.wall / Math.max(floor, cpuFloor), 2)}× the larger floor`);
      }
    }
  }
  return out;
}

export function targetsTable(list) {
  if (list.length === 0) return '';
  return ['| target | measured | goal | met | note |', '|---|---|---|---|---|', ...list.map((t) => `| ${t.what} | ${t.value} | ${t.goal} | ${t.met === undefined ? '–' : t.met ? 'yes' : '**no**'} | ${t.note ?? ''} |`)].join('\n');
}

export function profileSection(p) {
  if (!p) return '';
  const lines = [`**Profile of one jellyfish run** (${p.what})`, ''];
  if (p.hook) {
    const h = p.hook;
    lines.push(`- main thread event-loop delay: p50 ${h.eventLoopDelayMs.p50} ms, p99 ${h.eventLoopDelayMs.p99} ms, max ${h.eventLoopDelayMs.max} ms`);
    lines.push(`- SQLite write transactions: ${h.sqlite.transactions}, ${h.sqlite.totalMs} ms in all (${fmt((100 * h.sqlite.totalMs) / h.wallMs, 0)} % of the ${fmt(h.wallMs / 1000, 1)} s run), p50 ${h.sqlite.p50Ms} ms, p99 ${h.sqlite.p99Ms} ms, max ${h.sqlite.maxMs} ms`);
  }
  for (const t of p.threads ?? []) {
    lines.push('', `${t.thread}: ${fmt(t.busyMs / 1000, 1)} s busy, ${fmt(t.idleMs / 1000, 1)} s idle`, '', '| where | ms | share |', '|---|---|---|');
    for (const a of t.areas.filter((x) => x.share >= 0.01)) lines.push(`| ${a.name} | ${a.ms} | ${fmt(100 * a.share, 0)} % |`);
    lines.push('', '| top functions (self time) | ms | share |', '|---|---|---|');
    for (const f of t.functions.slice(0, 8)) lines.push(`| \`${f.name}\` | ${f.ms} | ${fmt(100 * f.share, 0)} % |`);
  }
  return lines.join('\n');
}

/** Replace the text between `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->`. */
export function replaceSection(file, name, body) {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `# Benchmarks\n\n${begin}\n${end}\n`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) doc = `${doc.trimEnd()}\n\n${begin}\n${end}\n`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = `${doc.slice(0, i + begin.length)}\n${body.trim()}\n${doc.slice(j)}`;
  fs.writeFileSync(file, doc);
}
