#!/usr/bin/env node
// `npm run bench` (quick profile) / `npm run bench -- --full`: jellyfish side by side with pdsh,
// pssh, ClusterShell, Ansible and a bare ssh2 loop (the limit), on the fixture fleet (in its own
// process, 127.40.x.x, with injected latency) and on a real OpenSSH fleet (several sshd on
// 127.41.x.x). Prints markdown tables on stdout (progress on stderr), writes
// bench/results/<date>.json and the generated part of docs/benchmarks.md.
//   node bench/run.mjs [--full | --smoke] [--reps 3] [--no-install] [--no-docs] [--only fixture|openssh|postgres|startup|changes|pages|serve|analyze] [--keep] [--baseline DIR]
// `--only startup` runs the start-up group alone (3 light commands on 240 OpenSSH addresses and
// 2,000 fixture hosts, with host-side processes counted); `--baseline DIR[=LABEL]` (repeatable)
// adds a jellyfish row run from another checkout's dist/ (e.g. a `git worktree` of the commit
// before a change), side by side.
// `--only postgres` runs the store group alone (SQLite vs PostgreSQL, site collectors): its
// results go under `<profile>-postgres` in the results file and into the docs' postgres section.
// Figures are medians of --reps runs with the min–max spread; reps run round-robin over the
// contenders of a group, so a burst of load from elsewhere on the machine hits them alike.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarize as summarizeProfile } from './lib/cpuprofile.mjs';
import { jellyfishCommand, jellyfishSuccesses, limitCommand, limitSummary, PEERS, probeKex, sshConfig } from './lib/contenders.mjs';
import { opensshUnavailable, startFixtureFleet, startOpensshFleet, USER, userKey } from './lib/fleets.mjs';
import { postgresUnavailable, postgresVersion, startPostgresServer } from './lib/postgres.mjs';
import { ensurePackages, toolVersions } from './lib/install.mjs';
import { measure, readText } from './lib/measure.mjs';
import { BENCH, ROOT } from './lib/paths.mjs';
import { PROFILES } from './lib/plan.mjs';
import { groupTable, median, profileSection, replaceSection, summarizeRow, targets, targetsTable } from './lib/report.mjs';
import { PEER_NONCE, peerScript } from './lib/script.mjs';
import { accountingOff, accountingOn, accountingUnavailable, fleetProcesses, lightFiles, LIGHT_OUTPUTS, readAccounting, startupTable, startupTargets, userId } from './lib/startup.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const profileName = flag('full') ? 'full' : flag('smoke') ? 'smoke' : 'quick';
const P = PROFILES[profileName];
const REPS = Number(opt('reps', String(P.reps)));
const ONLY = opt('only', undefined);
// --baseline DIR[=LABEL], repeatable: jellyfish rows built in other checkouts, beside the reference.
const BASELINES = argv.flatMap((a, i) => (a === '--baseline' && argv[i + 1] ? [argv[i + 1]] : []));
if (ONLY !== undefined && !['fixture', 'openssh', 'postgres', 'startup', 'changes', 'pages', 'serve', 'analyze'].includes(ONLY)) {
  process.stderr.write(`bench: --only takes fixture, openssh, postgres, startup, changes, pages, serve or analyze, not ${ONLY}\n`);
  process.exit(64);
}
// The change feed on a month of history: its own script (it needs no fleet).
if (ONLY === 'changes') {
  const { status } = spawnSync(process.execPath, [path.join(ROOT, 'bench/changes.mjs'), ...(flag('smoke') ? ['--hosts', '200', '--reps', '1'] : [])], { stdio: 'inherit' });
  process.exit(status ?? 1);
}
// The fleet pages on a simulated month of 10,000 hosts: its own script too.
if (ONLY === 'pages') {
  const { status } = spawnSync(process.execPath, [path.join(ROOT, 'bench/pages.mjs'), ...(flag('smoke') ? ['--hosts', '200', '--reps', '1', '--no-docs'] : []), ...(flag('no-docs') ? ['--no-docs'] : [])], { stdio: 'inherit' });
  process.exit(status ?? 1);
}
// The storage API under concurrent pushes: its own script too (bench/serve.mjs).
if (ONLY === 'serve') {
  const { status } = spawnSync(process.execPath, [path.join(ROOT, 'bench/serve.mjs'), ...(flag('smoke') ? ['--seconds', '10'] : []), ...(flag('no-docs') ? ['--no-docs'] : [])], { stdio: 'inherit' });
  process.exit(status ?? 1);
}
// analyze over 10,000 hosts and 1,000 audits: its own script too.
if (ONLY === 'analyze') {
  const { status } = spawnSync(process.execPath, [path.join(ROOT, 'bench/analyze.mjs'), ...(flag('smoke') ? ['--hosts', '300', '--audits', '60'] : [])], { stdio: 'inherit' });
  process.exit(status ?? 1);
}
const log = (m) => process.stderr.write(`bench: ${m}\n`);

if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) {
  log('dist/ is missing: run `npm run bench` (it builds first) or `npm run build`');
  process.exit(1);
}

const startedAt = new Date();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jf-bench-'));
fs.chmodSync(work, 0o755); // sshd reads authorized_keys as the test user
const missing = ensurePackages({ allowInstall: !flag('no-install'), log });
const keyPath = await userKey(work);
const script = await peerScript();
const scriptFile = path.join(work, 'script.sh');
fs.writeFileSync(scriptFile, script.text);
const varsFile = path.join(work, 'vars.yml');
// YAML reads a JSON string; !unsafe keeps Ansible from templating the script's `{%`.
fs.writeFileSync(varsFile, `jf_script: !unsafe ${JSON.stringify(script.text)}\n`);
const sshConfigs = { default: sshConfig(work, keyPath, 'default'), curve: sshConfig(work, keyPath, 'curve') };
const commands = new Map();
const stopFleets = [];
process.on('SIGINT', () => { log('interrupted'); process.exit(130); });

/** Everything a contender needs to run against `hosts`; `light`: the start-up group's script and collections. */
function context(fleet, count, light) {
  const hosts = fleet.hosts.slice(0, count);
  const dir = path.join(work, `${fleet.kind}-${count}${light ? '-light' : ''}`);
  fs.mkdirSync(dir, { recursive: true });
  const hostsFile = path.join(dir, 'hosts');
  fs.writeFileSync(hostsFile, hosts.join('\n') + '\n');
  const inventory = path.join(dir, 'inventory.ini');
  fs.writeFileSync(inventory, `[all]\n${hosts.join('\n')}\n`);
  if (light) {
    const t = light.connectTimeoutS;
    return {
      fleet, dir, hosts, hostsFile, inventory, keyPath, varsFile, collconfig: light.ini,
      ...(t ? { connectTimeoutS: t, sshConfigs: { default: sshConfig(dir, keyPath, 'default', t), curve: sshConfig(dir, keyPath, 'curve', t) } } : { sshConfigs }),
      scriptFile: light.framedFile, script: light.framed, marker: light.framedMarker, plainFile: light.plainFile, plainMarker: light.plainMarker,
    };
  }
  return { fleet, dir, hosts, hostsFile, inventory, keyPath, scriptFile, script: script.text, marker: script.doneMarker, sshConfigs, varsFile };
}

/**
 * Which key exchange a row used. The peers' is read from OpenSSH's own debug log against this
 * fleet (probeKex); the limit's from ssh2's handshake event; jellyfish uses ssh2 with its default
 * algorithm list, as the limit does, so it negotiates what the limit negotiated.
 */
function kexLabel(fleet, row, group) {
  if (row.tool === 'limit' || row.tool === 'jellyfish') {
    const seen = group.rows.find((r) => r.tool === 'limit')?.reps?.flatMap((r) => Object.keys(r.kex ?? {})) ?? [];
    const names = [...new Set(seen)];
    return `${names.length ? names.join(', ') : 'curve25519-sha256'} (ssh2 default list)`;
  }
  const kex = fleet.kex?.[row.kexId] ?? 'unknown';
  return `${kex} (${row.kexId === 'default' ? 'OpenSSH default list' : 'KexAlgorithms pinned'})`;
}

function skipReason(fleet, row) {
  const peer = PEERS[row.tool];
  if (peer && missing[peer.binary]) return missing[peer.binary];
  if (peer?.openSshOnly && fleet.kind !== 'openssh') return 'needs Python on the host';
  return undefined;
}

/** One run of one row; returns the rep's figures. */
async function runOnce(ctx, row, dbDir, tag) {
  const out = path.join(ctx.dir, `${tag}.out`);
  const errFile = path.join(ctx.dir, `${tag}.err`);
  let c;
  // Start-up group: the CPU each Node contender spent before its first connection (bench/first-connect-hook.mjs).
  const firstConnect = ctx.collconfig && !tag.startsWith('fill') ? path.join(ctx.dir, `${tag}.first`) : undefined;
  if (row.tool === 'jellyfish') c = jellyfishCommand(ctx, dbDir, { threads: row.n, workers: row.workers, profileDir: row.profileDir, collconfig: ctx.collconfig, firstConnect, ...(row.root ? { root: row.root } : {}) });
  else if (row.tool === 'limit') c = limitCommand(ctx, row.n, { plain: row.plain, firstConnect });
  else c = PEERS[row.tool].command(ctx, Math.min(row.n, ctx.hosts.length), row.kexId);
  if (ctx.commands) ctx.commands.set(row.label ?? row.tool, c.shown);
  else commands.set(`${row.tool}${row.kexId ? ` (${row.kexId})` : ''}`, c.shown);
  // Host-side processes (start-up group, OpenSSH fleet): process accounting around the run.
  const acctFile = ctx.accounting ? path.join(ctx.dir, `${tag}.acct`) : undefined;
  const accounting = acctFile ? accountingOn(acctFile) : false;
  const spawnedAt = Date.now();
  const m = await measure({ cmd: c.cmd, args: c.args, cwd: c.cwd ?? ctx.dir, env: c.env ?? {}, stdoutFile: out, stderrFile: errFile, serverPids: ctx.fleet.pids, serverCpuMs: ctx.fleet.serverCpuMs, timeoutMs: P.runTimeoutMs });
  if (firstConnect && fs.existsSync(firstConnect)) {
    const first = readText(firstConnect).trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.at - b.at)[0];
    if (first) m.firstConnect = { cpuMs: first.cpuMs, afterMs: first.at - spawnedAt, thread: first.thread };
    fs.rmSync(firstConnect, { force: true });
  }
  if (accounting) {
    accountingOff();
    m.hostProcs = fleetProcesses(readAccounting(acctFile), ctx.fleet.pids(), ctx.accounting.uid);
    fs.rmSync(acctFile, { force: true });
  }
  let ok;
  let extra = {};
  if (row.tool === 'jellyfish') {
    ok = jellyfishSuccesses(out);
    try { const j = JSON.parse(readText(out)); extra = { jobtime: j.jobtime, selfPeakRssMb: j.peak_rss_mb, selfCpuS: j.cpu_seconds, workers: j.workers }; } catch { /* reported through ok */ }
  } else if (row.tool === 'limit') {
    const sum = limitSummary(out);
    ok = sum.ok ?? 0;
    extra = { kex: sum.kex, errors: sum.errors };
  } else ok = PEERS[row.tool].successes(ctx, out);
  const rate = ctx.hosts.length / m.wallS;
  log(`  ${tag}: ${m.wallS.toFixed(1)} s, ${rate.toFixed(0)} hosts/s, ctrl ${(m.controllerCpuMs / ctx.hosts.length).toFixed(2)} ms/host, server ${(m.serverCpuMs / ctx.hosts.length).toFixed(2)} ms/host, ${m.peakRssMb} MB, ok ${ok}/${ctx.hosts.length}${m.code ? `, exit ${m.code}` : ''}${m.firstConnect ? `, first connection after ${m.firstConnect.afterMs} ms and ${m.firstConnect.cpuMs.toFixed(0)} ms of CPU` : ''}${m.hostProcs ? `, host processes ${(m.hostProcs.processes / ctx.hosts.length).toFixed(1)}/host (${m.hostProcs.userProcesses} as the user)` : ''}`);
  if (ok < ctx.hosts.length) {
    const tail = readText(errFile).trim().split('\n').filter(Boolean).slice(-3).join(' | ');
    if (tail) log(`    stderr: ${tail.slice(0, 400)}`);
  }
  fs.rmSync(out, { force: true }); // a peer's output is ~80 KB per host
  return { ...m, ok, ...extra };
}

async function runGroup(fleet, group, light) {
  const ctx = context(fleet, group.hosts, light && { ...light, connectTimeoutS: group.connectTimeoutS });
  if (light) {
    ctx.commands = group.commands = new Map();
    const why = fleet.kind === 'openssh' ? accountingUnavailable() : 'fixture fleet';
    if (!why) ctx.accounting = { uid: userId(USER) };
    else if (fleet.kind === 'openssh') log(`  host-side processes not counted: ${why}`);
  }
  const dbDir = path.join(work, 'db', light ? group.id : `${fleet.kind}-${group.hosts}`);
  log(`${group.title}`);
  for (const row of group.rows) {
    row.skipped = skipReason(fleet, row);
    row.reps = [];
  }
  // Steady-state rows need a database that already holds this host list's facts (the nightly
  // case: almost every fact unchanged); filling it is a first run, not reported.
  if (!fs.existsSync(path.join(dbDir, 'filled'))) {
    await runOnce(ctx, { tool: 'jellyfish', n: 256, workers: 'auto' }, dbDir, `fill-${group.id}`);
    fs.writeFileSync(path.join(dbDir, 'filled'), '');
  }
  // A row from another checkout (--baseline) has a database of its own: its schema may be older.
  const rowDb = (row) => (row.root ? `${dbDir}-${row.id}` : dbDir);
  for (const row of group.rows.filter((r) => r.root && !fs.existsSync(path.join(rowDb(r), 'filled')))) {
    await runOnce(ctx, { ...row, label: undefined }, rowDb(row), `fill-${group.id}-${row.id}`);
    fs.writeFileSync(path.join(rowDb(row), 'filled'), '');
  }
  for (let rep = 1; rep <= REPS; rep++) {
    for (const row of group.rows) {
      if (row.skipped) continue;
      if (row.fillRow) {
        // A first run: an empty database every time (every fact inserted), removed afterwards.
        const fresh = path.join(work, 'db', `first-${group.id}-${rep}`);
        row.reps.push(await runOnce(ctx, row, fresh, `${group.id}-${row.id}-${rep}`));
        fs.rmSync(fresh, { recursive: true, force: true });
        continue;
      }
      row.reps.push(await runOnce(ctx, row, rowDb(row), `${group.id}-${row.id}-${rep}`));
    }
  }
  for (const row of group.rows) {
    row.kex = kexLabel(fleet, row, group);
    if (row.tool === 'jellyfish' && row.workers === 'auto') {
      const w = [...new Set(row.reps.map((r) => r.workers).filter((x) => x !== undefined))];
      if (w.length) row.label = row.label.replace('workers auto', `workers auto = ${w.join('/')}`);
    }
    if (!row.skipped && row.reps.length) row.summary = summarizeRow(row, ctx.hosts.length);
  }
  process.stdout.write(`\n${light ? startupTable(group) : groupTable(group)}\n`);
}

/** The jellyfish row of another checkout's build (--baseline DIR[=LABEL]), beside the reference. */
function baselineRow(spec, i) {
  const [dir, label] = spec.split('=');
  let commit = path.basename(dir);
  try { commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: dir, encoding: 'utf8' }).trim(); } catch { /* not a git checkout */ }
  return { id: `jf-baseline-${i + 1}`, tool: 'jellyfish', n: 256, workers: 'auto', root: path.resolve(dir), label: `jellyfish ${label ?? `at ${commit}`} (--baseline ${path.basename(dir)}), same settings` };
}

/**
 * The start-up group: 3 light commands on the fixture fleet (1 host: the fixed cost; then the
 * quick profile's 2,000) and on the real OpenSSH fleet, host-side processes counted there.
 */
async function runStartup() {
  const S = P.startup;
  const light = await lightFiles(path.join(work, 'startup'), ROOT, PEER_NONCE);
  const prepared = (g, fleetKind) => {
    const rows = g.rows.map((r) => ({ ...r }));
    rows.splice(1, 0, ...BASELINES.map(baselineRow));
    return { ...g, rows, fleet: fleetKind, delayMs: 0, startup: true };
  };
  const done = [];
  {
    log(`start-up group: fixture fleet, ${S.fixture.hosts} hosts`);
    const fleet = await startFixtureFleet({ dir: path.join(work, 'fleet-startup'), count: S.fixture.hosts, delayMs: 0, keyPath, outputs: LIGHT_OUTPUTS, name: 'fixture-fleet-startup' });
    stopFleets.push(fleet.stop);
    try {
      for (const g of [S.single, S.fixture]) {
        const group = prepared(g, 'fixture');
        await runGroup(fleet, group, light);
        done.push(group);
      }
    } finally {
      await fleet.stop();
    }
    const why = opensshUnavailable();
    if (why) log(`start-up group: OpenSSH fleet skipped: ${why}`);
    else {
      log(`start-up group: OpenSSH fleet, ${S.openssh.hosts} addresses`);
      const ofleet = await startOpensshFleet({ dir: path.join(work, 'sshd-startup'), count: S.openssh.hosts, keyPath });
      stopFleets.push(ofleet.stop);
      ofleet.kex = probeFleetKex(ofleet);
      try {
        const group = prepared(S.openssh, 'openssh');
        group.title = `${group.title} (${ofleet.sshds} sshd processes)`;
        await runGroup(ofleet, group, light);
        done.push(group);
      } finally {
        await ofleet.stop();
      }
    }
  }
  return done;
}

/**
 * One run of a store row: a single collector, or one per site started together (row.sites).
 * The PostgreSQL server's CPU and memory are read around every run, SQLite rows included (its
 * idle cost is then what shows).
 */
async function runStoreOnce(ctx, group, row, stores, tag) {
  const st = stores[row.store];
  const out = path.join(ctx.dir, `${tag}.out`);
  const errFile = path.join(ctx.dir, `${tag}.err`);
  const c = jellyfishCommand(ctx, st.dir, { threads: row.n, workers: row.workers, pops: group.pops, database: st.database, sites: row.sites, outBase: path.join(ctx.dir, tag) });
  if (row.id) group.commands[row.id] = c.shown;
  const pg = stores.pg;
  const m = await measure({
    cmd: c.cmd, args: c.args, cwd: c.cwd, env: { ...c.env, ...(row.store === 'postgres' ? pg.env : {}) }, stdoutFile: out, stderrFile: errFile,
    serverPids: ctx.fleet.pids, serverCpuMs: ctx.fleet.serverCpuMs, sidePids: pg?.pids, sideCpuMs: pg?.cpuMs, timeoutMs: P.runTimeoutMs,
  });
  const outs = c.outFiles ?? [out];
  const errs = c.outFiles ? c.outFiles.map((f) => f.replace(/\.json$/, '.err')) : [errFile];
  const collectors = outs.map((f, i) => {
    let j = {};
    try { j = JSON.parse(readText(f)); } catch { /* counted as 0 */ }
    return { site: row.sites?.[i], ok: j.global_success_hosts ?? 0, workers: j.workers, failed: j.global_fail_hosts, jobtime: j.jobtime, exitCode: j.exit_code, sites: j.sites, runId: j.run_id };
  });
  const ok = collectors.reduce((n, x) => n + x.ok, 0);
  const n = ctx.hosts.length;
  log(`  ${tag}: ${m.wallS.toFixed(1)} s, ${(n / m.wallS).toFixed(0)} hosts/s, ctrl ${(m.controllerCpuMs / n).toFixed(2)} ms/host, postgres ${pg ? (m.sideCpuMs / n).toFixed(2) : '-'} ms/host, fleet ${(m.serverCpuMs / n).toFixed(2)} ms/host, ${m.peakRssMb} MB, ok ${ok}/${n}${m.code ? `, exit ${m.code}` : ''}${collectors.length > 1 ? ` (${collectors.map((x) => `${x.site}: ${x.ok} in ${x.jobtime} s`).join(', ')})` : ''}`);
  if (ok < n || m.code) {
    for (const e of errs) {
      const tail = readText(e).trim().split('\n').filter(Boolean).slice(-5).join(' | ');
      if (tail) log(`    stderr ${path.basename(e)}: ${tail.slice(0, 800)}`);
    }
  }
  for (const f of [out, ...outs]) fs.rmSync(f, { force: true });
  return { ...m, ok, collectors };
}

/**
 * The store group: every row steady state on its own store (SQLite file / PostgreSQL database,
 * each filled once by a single collector first), rows taking turns.
 */
async function runStoreGroup(fleet, group) {
  const t0 = Date.now();
  const ctx = context(fleet, group.hosts);
  log(group.title);
  const noPg = postgresUnavailable();
  group.commands = {};
  for (const row of group.rows) {
    row.skipped = row.store === 'postgres' ? noPg : undefined;
    row.reps = [];
  }
  const stores = {
    sqlite: { dir: path.join(work, 'db', `store-sqlite-${group.hosts}`) },
    postgres: { dir: path.join(work, 'db', `store-pg-${group.hosts}`) },
  };
  const dbName = `bench_${group.hosts}`;
  if (!noPg) {
    stores.pg = await startPostgresServer({ databases: [dbName], log });
    stopFleets.push(stores.pg.stop);
    stores.postgres.database = stores.pg.databases[dbName];
    group.pgServer = { version: postgresVersion(), cpuMethod: stores.pg.cpuMethod };
  } else log(`  PostgreSQL rows skipped: ${noPg}`);
  try {
    // Fill each store with a single collector (a first run, every fact new): reported apart.
    group.fills = {};
    for (const store of ['sqlite', 'postgres']) {
      if (!group.rows.some((r) => r.store === store && !r.skipped)) continue;
      group.fills[store] = await runStoreOnce(ctx, group, { tool: 'jellyfish', n: 256, workers: 'auto', store }, stores, `fill-${store}`);
    }
    for (let rep = 1; rep <= REPS; rep++) {
      for (const row of group.rows) {
        if (row.skipped) continue;
        row.reps.push(await runStoreOnce(ctx, group, row, stores, `${group.id}-${row.id}-${rep}`));
      }
    }
  } finally {
    await stores.pg?.stop();
  }
  const n = ctx.hosts.length;
  for (const row of group.rows) {
    row.kex = kexLabel(fleet, row, group);
    const w = [...new Set(row.reps.flatMap((r) => r.collectors ?? []).map((x) => x.workers).filter((x) => x !== undefined))];
    if (w.length) row.label = `${row.label}, workers auto = ${w.join('/')}`;
    if (row.skipped || !row.reps.length) continue;
    row.summary = summarizeRow(row, n);
    const pgCpu = row.reps.map((r) => r.sideCpuMs / n);
    const total = row.reps.map((r) => (r.controllerCpuMs + (r.sideCpuMs ?? 0)) / n);
    row.summary.pgCpuPerHost = median(pgCpu);
    row.summary.totalCpuPerHost = median(total);
    row.summary.pgPeakRssMb = median(row.reps.map((r) => r.sidePeakRssMb));
    row.summary.spread = { pgCpu, total, pgRss: row.reps.map((r) => r.sidePeakRssMb) };
  }
  group.durationS = Math.round((Date.now() - t0) / 1000);
  process.stdout.write(`\n${groupTable(group)}\n`);
}

async function profileRun(fleet, count) {
  const ctx = context(fleet, count);
  const dbDir = path.join(work, 'db', `${fleet.kind}-${count}`);
  const profileDir = path.join(work, 'cpu-profile');
  fs.rmSync(profileDir, { recursive: true, force: true });
  fs.mkdirSync(profileDir, { recursive: true });
  const row = { tool: 'jellyfish', n: 256, workers: 'auto', profileDir };
  log(`profile: jellyfish --cpu-prof on ${count} fixture hosts (steady state)`);
  const rep = await runOnce(ctx, row, dbDir, 'profile');
  let hook;
  try { hook = JSON.parse(readText(path.join(profileDir, 'hook.json'))); } catch { /* reported as missing */ }
  const threads = fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => {
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread.
    const tid = Number(f.split('.')[4]);
    return { thread: tid === 0 ? 'main thread' : `worker thread ${tid}`, ...summarizeProfile(path.join(profileDir, f), 12) };
  });
  if (flag('keep')) log(`profiles kept in ${profileDir}`);
  return { what: `threads 256, workers auto, ${count} fixture hosts, delay 0, steady state; ${rep.wallS.toFixed(1)} s wall under --cpu-prof`, rep, hook, threads };
}

/** How the CPU figures of `of` (the main groups unless told) were measured. */
function cpuMethods(of = groups) {
  const used = new Set(of.flatMap((g) => g.rows.flatMap((r) => (r.reps ?? []).map((x) => x.cpuMethod))).filter(Boolean));
  return used.size === 1 && used.has('cgroup') ? 'from a cgroup made for each run and each fleet (cpuacct)' : `from ${[...used].join(' and ')} (cgroup: a cgroup per run and per fleet; cutime: the process tree's reaped children)`;
}

function probeFleetKex(fleet) {
  if (missing['/usr/bin/ssh']) return {};
  const kex = Object.fromEntries(Object.entries(sshConfigs).map(([id, file]) => [id, probeKex(file, fleet.hosts[0])]));
  log(`  OpenSSH client key exchange against this fleet: ${Object.entries(kex).map(([id, k]) => `${id} config -> ${k}`).join(', ')}; server CPU by ${fleet.cpuMethod}`);
  return kex;
}

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const osName = /PRETTY_NAME="?([^"\n]*)/.exec(readText('/etc/os-release'))?.[1] ?? os.type();
  return {
    cpu, cores: os.availableParallelism?.() ?? os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(), os: osName, loadAverageAtStart: os.loadavg().map((x) => x.toFixed(1)).join(' '),
  };
}

function versions() {
  const pkg = JSON.parse(readText(path.join(ROOT, 'package.json')));
  const ssh2 = JSON.parse(readText(path.join(ROOT, 'node_modules/ssh2/package.json')));
  let commit = 'unknown';
  try { commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { /* not a git checkout */ }
  return { jellyfish: `${pkg.version} (${commit})`, node: process.version, ssh2: ssh2.version, ...toolVersions() };
}

// ---------------------------------------------------------------------------------------------

const m0 = machine();
log(`${profileName} profile, ${REPS} reps; work folder ${work}; load average ${m0.loadAverageAtStart}`);
const groups = [];
const skippedFleets = {};
let profile;
let startupGroups = [];
try {
  if (P.startup && (ONLY === 'startup' || (ONLY === undefined && profileName === 'full'))) startupGroups = await runStartup();
  if (ONLY !== 'openssh' && ONLY !== 'startup') {
    for (const phase of P.fixture) {
      // --only postgres: the store groups alone, on a fleet just large enough for them.
      const phaseGroups = phase.groups.filter((g) => ONLY !== 'postgres' || g.postgres);
      if (phaseGroups.length === 0) continue;
      const count = ONLY === 'postgres' ? Math.max(...phaseGroups.map((g) => g.hosts)) : P.fixtureHosts;
      log(`fixture fleet: ${count} hosts, delay ${phase.delayMs} ms`);
      const fleet = await startFixtureFleet({ dir: path.join(work, `fleet-${phase.delayMs}`), count, delayMs: phase.delayMs, keyPath });
      stopFleets.push(fleet.stop);
      fleet.kex = probeFleetKex(fleet);
      try {
        for (const g of phaseGroups) {
          const group = { ...g, fleet: 'fixture', delayMs: phase.delayMs, cores: m0.cores };
          groups.push(group);
          if (group.postgres) await runStoreGroup(fleet, group);
          else await runGroup(fleet, group);
        }
        if (phase.profile && ONLY !== 'postgres') profile = await profileRun(fleet, P.fixtureHosts);
      } finally {
        await fleet.stop();
      }
    }
  }
  if (ONLY !== 'fixture' && ONLY !== 'postgres' && ONLY !== 'startup') {
    const why = opensshUnavailable();
    if (why) {
      skippedFleets.openssh = why;
      log(`OpenSSH fleet skipped: ${why}`);
    } else {
      log(`OpenSSH fleet: ${P.opensshHosts} addresses`);
      const fleet = await startOpensshFleet({ dir: path.join(work, 'sshd'), count: P.opensshHosts, keyPath });
      stopFleets.push(fleet.stop);
      fleet.kex = probeFleetKex(fleet);
      try {
        const group = { ...P.openssh, fleet: 'openssh', delayMs: 0, title: `${P.openssh.title} (${fleet.sshds} sshd processes)` };
        groups.push(group);
        await runGroup(fleet, group);
      } finally {
        await fleet.stop();
      }
    }
  }
} finally {
  for (const stop of stopFleets) await stop().catch(() => {});
}

const finishedAt = new Date();
const m = { ...m0, loadAverageAtEnd: os.loadavg().map((x) => x.toFixed(1)).join(' ') };
const storeGroups = groups.filter((g) => g.postgres);
const profileGroups = groups.filter((g) => !g.postgres);
const v = { ...versions(), ...(storeGroups.some((g) => g.pgServer) ? { postgresql: storeGroups.find((g) => g.pgServer).pgServer.version } : {}) };
const checked = targets(groups);
const checkedProfile = targets(profileGroups);
const checkedStore = targets(storeGroups);
const result = {
  profile: profileName, reps: REPS, startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(),
  durationS: Math.round((finishedAt - startedAt) / 1000), machine: m, versions: v, skipped: { tools: missing, fleets: skippedFleets },
  script: { collections: script.collections, bytes: script.text.length },
  groups: groups.map((g) => ({ ...g, rows: g.rows.map(({ profileDir, ...r }) => r) })),
  startup: startupGroups.map(({ commands: cmds, ...g }) => ({ ...g, commands: Object.fromEntries(cmds ?? []) })),
  targets: checked, profile: profile ? { ...profile, rep: undefined } : undefined, commands: Object.fromEntries(commands),
};

const date = startedAt.toISOString().slice(0, 10);
const resultsFile = path.join(BENCH, 'results', `${date}.json`);
fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
let all = {};
try { all = JSON.parse(readText(resultsFile)); } catch { /* first run of the day */ }
// The store group run alone must not replace the whole profile's results of the day.
const resultKey = ONLY === 'postgres' || ONLY === 'startup' ? `${profileName}-${ONLY}` : profileName;
all[resultKey] = result;
fs.writeFileSync(resultsFile, JSON.stringify(all, null, 1) + '\n');

const tables = profileGroups.map(groupTable).join('\n\n');
const body = [
  `### ${profileName === 'full' ? 'Full' : 'Quick'} profile, ${date} (\`npm run bench${profileName === 'full' ? ' -- --full' : ''}\`, ${Math.round(result.durationS / 60)} min)`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Linux ${m.kernel}; load average ${m.loadAverageAtStart} at the start, ${m.loadAverageAtEnd} at the end (the machine is shared: figures vary ±30 %).`,
  '',
  `Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join('; ')}.`,
  '',
  `Every figure is the median of ${REPS} runs with the min–max spread in parentheses, the contenders of a group taking turns (rep 1 of every row, then rep 2, ...); × jellyfish divides by the group's reference row (the shipped defaults). Controller CPU is user+sys of everything the contender started, server CPU that of the fleet's processes, both ${cpuMethods()}; peak RSS is the summed PSS of the contender's process tree, sampled 4 times a second. KEX: what the row's SSH client negotiated (OpenSSH: read from its debug log against that fleet; ssh2: from its handshake event). The remote work: the ${script.collections} shipped collections in one script of ${script.text.length} bytes (jellyfish's own script format; the peers send the same text).`,
  ...Object.entries(missing).map(([bin, why]) => `\nSkipped ${bin}: ${why}`),
  ...Object.entries(skippedFleets).map(([f, why]) => `\nSkipped the ${f} fleet: ${why}`),
  '',
  tables,
  '',
  '**Targets, as measured in this run**',
  '',
  targetsTable(checkedProfile),
  '',
  profileSection(profile),
  '',
  '**Commands** (`hosts`, `inventory`, `ssh_config`, `vars.yml` and `$SCRIPT` are written by the bench into its work folder; the fleet: `node bench/fleet-server.mjs`, sshd: `sshd -D -f sshd-N.conf`)',
  '',
  '```',
  ...[...commands].map(([k, c]) => `# ${k}\n${c}`),
  '```',
].join('\n');

// The store group has a section of its own (its columns differ), whichever run measured it last.
const storeBody = storeGroups.length === 0 ? '' : [
  `### ${profileName === 'full' ? 'Full' : profileName === 'smoke' ? 'Smoke' : 'Quick'} profile, store group, ${date} (\`npm run bench -- ${[profileName !== 'quick' ? `--${profileName}` : '', '--only postgres'].filter(Boolean).join(' ')}\`${ONLY === 'postgres' ? '' : ' or as part of the whole profile'}, ${Math.max(1, Math.round(storeGroups.reduce((n, g) => n + (g.durationS ?? 0), 0) / 60))} min)`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Linux ${m.kernel}; load average ${m.loadAverageAtStart} at the start, ${m.loadAverageAtEnd} at the end (the machine is shared: figures vary ±30 %).`,
  '',
  `Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join('; ')}.`,
  '',
  `Every figure is the median of ${REPS} runs with the min–max spread in parentheses, the rows taking turns (rep 1 of every row, then rep 2, ...), every run in steady state (each store filled by one first run before the reps). Every collector runs with the same settings (threads 256, workers auto; host-key checking off); rows c and d start one collector per site at the same time (each with its own threads 256) and end when the last one does: hosts/s is every host over that wall time. Controller CPU is user+sys of everything the row started (both collectors for c and d), PostgreSQL CPU that of the server's processes (postmaster, background workers, the collectors' backends), fleet CPU that of the fixture fleet, all ${cpuMethods()}; the PostgreSQL server idles through the SQLite rows. Peak RSS is the summed PSS of the row's process tree (both collectors for c and d), sampled 4 times a second; the server's peak PSS (its shared buffers counted once, split between its processes) is in its own column. CPU floor: hosts × (controller + PostgreSQL + fleet CPU per host) / ${m.cores} cores, the shortest wall time this machine's CPU allows for that work; wall ÷ floor near 1 means the row was CPU-bound. The server is the test suite's private one (test/helpers/postgres.ts: a fresh cluster, TCP on 127.0.0.1 with a SCRAM password, \`fsync = off\`, \`synchronous_commit = off\`, \`full_page_writes = off\`, \`shared_buffers = 128MB\`), on the same ${m.cores} cores as the fleet and the collectors; the SQLite store runs with its shipped settings (WAL, \`synchronous = NORMAL\`).`,
  '',
  storeGroups.map(groupTable).join('\n\n'),
  '',
  '**Targets, as measured in this run**',
  '',
  targetsTable(checkedStore),
  '',
  '**Commands** (each row\'s `scheduler.ini` and `server4.csv` are written by the bench into the row\'s store folder; the fleet: `node bench/fleet-server.mjs`; the PostgreSQL server: `node --import tsx bench/pg-server.mjs`)',
  '',
  '```',
  ...storeGroups.flatMap((g) => Object.entries(g.commands ?? {}).map(([k, c]) => `# ${g.rows.find((r) => r.id === k)?.label ?? k}\n${c}`)),
  '```',
].join('\n');

// The start-up group has a section of its own too.
const checkedStartup = startupTargets(startupGroups);
const startupBody = startupGroups.length === 0 ? '' : [
  `### ${profileName === 'full' ? 'Full' : profileName === 'smoke' ? 'Smoke' : 'Quick'} profile, start-up group, ${date} (\`npm run bench -- ${[profileName !== 'quick' ? `--${profileName}` : '', '--only startup'].filter(Boolean).join(' ')}\`${ONLY === 'startup' ? '' : ' or as part of the whole profile'})`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Linux ${m.kernel}; load average ${m.loadAverageAtStart} at the start, ${m.loadAverageAtEnd} at the end (the machine is shared: figures vary ±30 %).`,
  '',
  `Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join('; ')}.`,
  '',
  `Median of ${REPS} runs (min–max), the rows taking turns; jellyfish in steady state with its shipped defaults (threads 256, workers auto) and host_key_policy = off like every contender. The remote work: three light collections (\`uname -a\`, \`cat /etc/os-release\`, \`id\`) in jellyfish's framed script; the loop and the peers send that same script text, the "plain" loop the three commands alone. × loop divides by the bare ssh2 loop sending the framed script. Controller CPU ${cpuMethods(startupGroups)}; host-side CPU is the fleet's cgroup (every sshd and everything a session runs). Host processes per host: BSD process accounting (acct(2)) switched on around each OpenSSH run, counting every process that descends from the fleet's sshd listeners (per connection: sshd's own privilege-separation children, the login shell and what the script starts), with the commands' names.`,
  '',
  startupGroups.map((g) => startupTable(g)).join('\n\n'),
  '',
  '**Targets of the start-up issue, as measured in this run**',
  '',
  targetsTable(checkedStartup),
  '',
  '**Commands** (the bench writes `collector-light.ini`, `script-light.sh`, `script-plain.sh` and each row\'s `scheduler.ini` into its work folder)',
  '',
  '```',
  ...[...new Map(startupGroups.flatMap((g) => [...(g.commands ?? [])]))].map(([k, c]) => `# ${k}\n${c}`),
  '```',
].join('\n');
if (startupGroups.length) process.stdout.write(`\n### Start-up targets\n\n${targetsTable(checkedStartup)}\n`);
if (ONLY !== 'startup') process.stdout.write(`\n### Targets\n\n${targetsTable(checked)}\n\n${profileSection(profile)}\n`);
// The smoke profile checks the harness only: its figures go to the results file, never the docs.
if (!flag('no-docs') && profileName !== 'smoke') {
  const doc = path.join(ROOT, 'docs/benchmarks.md');
  const whole = ONLY !== 'postgres' && ONLY !== 'startup';
  if (whole) replaceSection(doc, profileName, body);
  if (storeBody) replaceSection(doc, 'postgres', storeBody);
  if (startupBody) replaceSection(doc, 'startup', startupBody);
  log(`docs/benchmarks.md (${[whole ? profileName : '', storeBody ? 'postgres' : '', startupBody ? 'startup' : ''].filter(Boolean).join(' and ')} section) and ${path.relative(ROOT, resultsFile)} written`);
}
if (flag('keep')) log(`work folder kept: ${work}`);
else fs.rmSync(work, { recursive: true, force: true });
log(`done in ${Math.round(result.durationS / 60)} min`);
