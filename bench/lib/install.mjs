// The peers come from Debian packages; install whatever is missing (apt-get update once first).
// A contender whose binary is still missing afterwards is skipped with the reason.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const PACKAGES = [
  { pkg: 'pdsh', bin: '/usr/bin/pdsh' },
  { pkg: 'pssh', bin: '/usr/bin/parallel-ssh' },
  { pkg: 'clustershell', bin: '/usr/bin/clush' },
  { pkg: 'ansible-core', bin: '/usr/bin/ansible' },
  { pkg: 'openssh-server', bin: '/usr/sbin/sshd' },
  { pkg: 'openssh-client', bin: '/usr/bin/ssh' },
];

/** Returns { bin: reason } for every binary still missing. */
export function ensurePackages({ allowInstall, log }) {
  const missing = () => PACKAGES.filter((p) => !fs.existsSync(p.bin));
  let todo = missing();
  if (todo.length === 0) return {};
  const why = {};
  let reason;
  if (!allowInstall) reason = 'not installed (--no-install given)';
  else if (process.getuid?.() !== 0) reason = 'not installed, and apt-get needs root';
  else if (!fs.existsSync('/usr/bin/apt-get')) reason = 'not installed, and there is no apt-get here';
  if (!reason) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    log(`installing ${todo.map((p) => p.pkg).join(' ')} (apt-get update, then apt-get install -y)`);
    const update = spawnSync('apt-get', ['update'], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    if (update.status !== 0) log(`apt-get update failed (${update.status}): ${String(update.stderr).trim().split('\n').pop()}; trying the install anyway`);
    const all = spawnSync('apt-get', ['install', '-y', ...todo.map((p) => p.pkg)], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 900_000 });
    if (all.status !== 0) {
      // One broken package must not cost the others: try them one by one.
      for (const p of missing()) {
        const one = spawnSync('apt-get', ['install', '-y', p.pkg], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
        if (one.status !== 0) why[p.bin] = `apt-get install -y ${p.pkg} failed: ${String(one.stderr).trim().split('\n').pop()}`;
      }
    }
    todo = missing();
  }
  for (const p of todo) why[p.bin] ??= `${p.bin} ${reason ?? 'is still missing after apt-get install'}`;
  return why;
}

function firstLine(cmd, args) {
  try {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
    return `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean) ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function toolVersions() {
  const dpkg = (pkg) => {
    try { return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).trim() || 'not installed'; } catch { return 'not installed'; }
  };
  return {
    pdsh: dpkg('pdsh'),
    pssh: dpkg('pssh'),
    clustershell: dpkg('clustershell'),
    'ansible-core': dpkg('ansible-core'),
    'openssh-client': firstLine('ssh', ['-V']),
    'openssh-server': dpkg('openssh-server'),
    python3: firstLine('python3', ['--version']),
  };
}
