// CPU accounting by cgroup (v1 cpuacct, or v2 cpu.stat), when the machine lets us make one.
// A process tree's cutime/cstime misses every process that is reparented before it is reaped:
// OpenSSH's sshd hands a session's processes over to init, so the sshd listener's counters see
// ~20 ms of a host's ~300 ms of server work. A cgroup counts every process started inside it,
// however it ends. Without one (not root, no cgroup fs) the caller falls back to cutime/cstime.
import fs from 'node:fs';
import path from 'node:path';

const V1 = '/sys/fs/cgroup/cpuacct';
const V2 = '/sys/fs/cgroup/unified';

function writable(dir) {
  try { fs.accessSync(dir, fs.constants.W_OK); return true; } catch { return false; }
}

/** Where bench cgroups go, or undefined. */
function root() {
  if (process.getuid?.() !== 0) return undefined;
  if (fs.existsSync(path.join(V1, 'cpuacct.usage')) && writable(V1)) return { dir: V1, v: 1 };
  const v2 = fs.existsSync(path.join('/sys/fs/cgroup', 'cgroup.controllers')) ? '/sys/fs/cgroup' : fs.existsSync(path.join(V2, 'cgroup.controllers')) ? V2 : undefined;
  if (v2 && writable(v2)) return { dir: v2, v: 2 };
  return undefined;
}

const made = new Set();
process.on('exit', () => { for (const d of made) { try { fs.rmdirSync(d); } catch { /* still busy */ } } });

/**
 * A fresh cgroup named `name` (under the bench's own prefix), or undefined when none can be made.
 * { procsFile, add(pid), cpuMs(), remove() }
 */
export function cgroup(name) {
  const r = root();
  if (!r) return undefined;
  const dir = path.join(r.dir, `jf-bench-${process.pid}-${name}`);
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if (e.code !== 'EEXIST') return undefined;
  }
  made.add(dir);
  const procsFile = path.join(dir, 'cgroup.procs');
  return {
    procsFile,
    add(pid) { fs.writeFileSync(procsFile, `${pid}\n`); },
    cpuMs() {
      try {
        if (r.v === 1) return Number(fs.readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e6;
        const m = /^usage_usec (\d+)/m.exec(fs.readFileSync(path.join(dir, 'cpu.stat'), 'utf8'));
        return m ? Number(m[1]) / 1e3 : NaN;
      } catch {
        return NaN;
      }
    },
    remove() {
      try { fs.rmdirSync(dir); made.delete(dir); } catch { /* a process is still inside: removed at exit */ }
    },
  };
}
