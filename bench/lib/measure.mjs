// Running one contender and measuring it from outside, the same way for every tool:
// - wall time: spawn to exit (process start-up included: a user pays it too);
// - controller CPU: user+sys of everything the contender started, from a cgroup made for the run
//   (bench/lib/cgroup.mjs: counts processes however they end, reparented or not); also, as a
//   cross-check and the fallback without cgroups, the cutime/cstime of a /bin/sh that ran the
//   contender (every tool here waits for its children, so their CPU rolls up);
// - peak memory: the tree's summed PSS (shared pages split between the processes sharing them,
//   so 256 ssh processes are not charged 256 times for libcrypto), sampled every SAMPLE_MS;
// - server CPU: the fleet's cgroup before and after (fallback: user+sys of the fleet's processes
//   and their reaped children, which misses what sshd hands over to init);
// - optionally the peak summed PSS of another set of processes (`sidePids`: a database server
//   the contender talks to), sampled with the contender's, and their CPU (`sideCpuMs`), read
//   before and after like the fleet's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cgroup } from './cgroup.mjs';

/**
 * Sampling the tree costs the bench process a little CPU: 4 samples a second, after a first few
 * quick ones (a 0.3 s run would otherwise get no sample at all).
 */
const SAMPLE_MS = 250;
const FIRST_SAMPLES_MS = [30, 80, 150];
const TICK = 100; // CLK_TCK (getconf CLK_TCK); Linux has used 100 for user-visible ticks for decades

/** Process groups of contenders still running: stopped if the bench itself is stopped. */
const running = new Set();
function killGroup(pid) {
  try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
}
process.on('exit', () => { for (const pid of running) killGroup(pid); });

function readStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return undefined;
  }
}

/** CPU ms used so far by these processes, their finished and reaped children included. */
export function cpuMsOf(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) ticks += s.utime + s.stime + s.cutime + s.cstime;
  }
  return (ticks * 1000) / TICK;
}

/** `root` and every process below it, from /proc. */
export function descendants(root) {
  const children = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    const s = readStat(name);
    if (!s) continue;
    let list = children.get(s.ppid);
    if (!list) children.set(s.ppid, (list = []));
    list.push(Number(name));
  }
  const out = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    out.push(pid);
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return out;
}

function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Run `cmd args` under /bin/sh, stdout and stderr to files. `serverPids()` names the fleet's
 * processes (read before and after). Resolves with the figures and the exit code.
 */
let runs = 0;
export function measure({ cmd, args, cwd, env, stdoutFile, stderrFile, serverPids = () => [], serverCpuMs: serverCpu, sidePids, sideCpuMs: sideCpu, timeoutMs }) {
  const statFile = `${stdoutFile}.stat`;
  const out = fs.openSync(stdoutFile, 'w');
  const err = fs.openSync(stderrFile, 'w');
  const serverNow = () => (serverCpu ? serverCpu() : cpuMsOf(serverPids()));
  const serverBefore = serverNow();
  const sideBefore = sideCpu?.();
  const cg = cgroup(`run-${++runs}`);
  const started = process.hrtime.bigint();
  // sh puts itself into the run's cgroup first (so does everything it starts from then on);
  // `"$@"` runs the contender as sh's child; once it is reaped, sh's own stat holds its CPU.
  const child = spawn('/bin/sh', ['-c', 'if [ -n "$JF_BENCH_CG" ]; then echo $$ > "$JF_BENCH_CG"; fi; "$@"; s=$?; cat /proc/$$/stat > "$JF_BENCH_STAT"; exit $s', 'sh', cmd, ...args], {
    cwd, env: { ...process.env, ...env, JF_BENCH_STAT: statFile, JF_BENCH_CG: cg?.procsFile ?? '' }, stdio: ['ignore', out, err],
    // Its own process group, so a stuck contender is stopped with everything it started.
    detached: true,
  });
  running.add(child.pid);
  fs.closeSync(out);
  fs.closeSync(err);
  let peakPssKb = 0;
  let sidePeakPssKb = 0;
  const sample = () => {
    let sum = 0;
    for (const pid of descendants(child.pid)) sum += pssKb(pid);
    if (sum > peakPssKb) peakPssKb = sum;
    if (sidePids) {
      let side = 0;
      for (const pid of sidePids()) side += pssKb(pid);
      if (side > sidePeakPssKb) sidePeakPssKb = side;
    }
  };
  const early = FIRST_SAMPLES_MS.map((ms) => setTimeout(sample, ms));
  const sampler = setInterval(sample, SAMPLE_MS);
  let killer;
  if (timeoutMs) killer = setTimeout(() => killGroup(child.pid), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', async (code, signal) => {
      const wallS = Number(process.hrtime.bigint() - started) / 1e9;
      running.delete(child.pid);
      clearInterval(sampler);
      for (const t of early) clearTimeout(t);
      clearTimeout(killer);
      // The fleet finishes its last sessions a moment after the client is gone.
      await new Promise((r) => setTimeout(r, 300));
      const serverCpuMs = serverNow() - serverBefore;
      const sideCpuMs = sideCpu ? sideCpu() - sideBefore : undefined;
      let treeCpuMs;
      try {
        const f = fs.readFileSync(statFile, 'latin1');
        const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
        treeCpuMs = ((Number(fields[13]) + Number(fields[14])) * 1000) / TICK;
      } catch { /* killed before sh could write it */ }
      fs.rmSync(statFile, { force: true });
      const cgroupCpuMs = cg ? cg.cpuMs() : undefined;
      cg?.remove();
      const controllerCpuMs = Number.isFinite(cgroupCpuMs) && cgroupCpuMs > 0 ? cgroupCpuMs : treeCpuMs;
      resolve({
        code: signal ? 128 : code, wallS, controllerCpuMs, treeCpuMs, cpuMethod: controllerCpuMs === cgroupCpuMs ? 'cgroup' : 'cutime',
        peakRssMb: Math.round(peakPssKb / 1024), serverCpuMs,
        ...(sidePids ? { sidePeakRssMb: Math.round(sidePeakPssKb / 1024) } : {}),
        ...(sideCpu ? { sideCpuMs } : {}),
      });
    });
  });
}

export function readText(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return ''; }
}

export function ensureDir(dir) {
  fs.mkdirSync(dir, { recursive: true });
  return path.resolve(dir);
}
