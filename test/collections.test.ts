import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { ConfigError } from '../src/core/errors.js';
import { DEFAULT_COLLECTION_TIMEOUT_MS, loadCollections } from '../src/collections/load.js';
import { compareNatural, parseOutput } from '../src/collections/parse.js';
import type { CollectionDef, FactValues } from '../src/collections/types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shippedIni = path.join(root, 'config/collector.ini');
const outputsDir = path.join(root, 'fixtures/outputs');
const PROFILES = ['debian12', 'rhel9', 'ubuntu22'] as const;
type Profile = (typeof PROFILES)[number];
const OLD_TYPES = ['packages', 'release', 'rkernel', 'lsmod', 'users', 'services', 'cpu-info', 'uname', 'ssh-host-key-hash', 'boottime', 'reboot-needed', 'listening'];

const shipped = loadCollections(shippedIni);
const byType = new Map(shipped.map((d) => [d.type, d]));

function def(type: string): CollectionDef {
  const d = byType.get(type);
  if (!d) throw new Error(`no collection ${type} in ${shippedIni}`);
  return d;
}

function facts(profile: Profile, type: string): FactValues {
  return parseOutput(def(type), fs.readFileSync(path.join(outputsDir, profile, `${type}.txt`), 'utf8'));
}

function multi(extra: Partial<CollectionDef> = {}): CollectionDef {
  return { type: 'x', command: 'true', multi: true, timeoutMs: 30_000, enabled: true, ...extra };
}

t.test('the shipped collector.ini', async (t) => {
  const enabled = shipped.filter((d) => d.enabled);
  // SPEC §3: about 15-20; the old audits' `os` and the advisories' `package-sources` make 21.
  t.ok(enabled.length >= 15 && enabled.length <= 21, `${enabled.length} enabled collections`);
  for (const type of OLD_TYPES) t.ok(byType.get(type)?.enabled, `old type name ${type} kept`);
  for (const type of ['memory', 'disks', 'hostname', 'machine-id', 'virtualization', 'timezone', 'hardware', 'os', 'package-sources']) t.ok(byType.has(type), type);
  t.equal(def('packages').multi, true);
  t.equal(def('rkernel').multi, false);
  t.equal(def('packages').timeoutMs, 60_000);
  t.equal(def('uname').timeoutMs, DEFAULT_COLLECTION_TIMEOUT_MS);
  for (const d of shipped) {
    t.match(d.type, /^[a-z][a-z0-9-]*$/, `${d.type}: a plain type name`);
    t.ok(Object.isFrozen(d), `${d.type} frozen`);
    t.notMatch(d.command, /\bsudo\b/, `${d.type} needs no root`);
  }
  // The continuation lines of a long command are joined with newlines, comments inside left out.
  t.match(def('packages').command, /^if command -v dpkg-query .*\n\s*out=\$\(dpkg-query -W -f '\$\{db:Status-Abbrev\} \$\{Package\} \$\{Version\}\\n'\)/);
  t.notMatch(def('packages').command, /^#/m);
});

t.test('every profile has an output for every collection, and nothing else', async (t) => {
  const types = shipped.map((d) => d.type).sort();
  for (const profile of PROFILES) {
    const files = fs.readdirSync(path.join(outputsDir, profile)).sort();
    t.same(files.filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4)), types, `${profile}: one <type>.txt per collection`);
    t.same(files.filter((f) => !f.endsWith('.txt') && !f.endsWith('.exit')), [], `${profile}: only .txt and .exit files`);
    for (const f of files.filter((f) => f.endsWith('.exit'))) {
      t.match(fs.readFileSync(path.join(outputsDir, profile, f), 'utf8'), /^[1-9]\d*\n$/, `${profile}/${f} is a non-zero exit code`);
    }
  }
});

t.test('every fixture parses; values are clean', async (t) => {
  for (const profile of PROFILES) {
    for (const d of shipped) {
      const v = facts(profile, d.type);
      if (!d.multi) t.same(Object.keys(v), ['default'], `${profile} ${d.type}: one default value`);
      for (const [subtype, value] of Object.entries(v)) {
        t.notMatch(subtype, /\s/, `${profile} ${d.type}: subtype '${subtype}' has no whitespace`);
        t.notOk(value.includes('\u0000'), `${profile} ${d.type} ${subtype}: no NUL`);
      }
    }
  }
});

t.test('release, kernel, uname', async (t) => {
  const want: Record<Profile, { id: string; version: string; pretty: RegExp }> = {
    debian12: { id: 'debian', version: '12', pretty: /^Debian GNU\/Linux 12 \(bookworm\)$/ },
    rhel9: { id: 'rhel', version: '9.3', pretty: /^Red Hat Enterprise Linux 9\.3 \(Plow\)$/ },
    ubuntu22: { id: 'ubuntu', version: '22.04', pretty: /^Ubuntu 22\.04\.\d LTS$/ },
  };
  for (const profile of PROFILES) {
    const rel = facts(profile, 'release');
    t.equal(rel.ID, want[profile].id, `${profile} ID`);
    t.equal(rel.VERSION_ID, want[profile].version, `${profile} VERSION_ID`);
    t.match(rel.PRETTY_NAME, want[profile].pretty, `${profile} PRETTY_NAME unquoted`);
    for (const value of Object.values(rel)) t.notMatch(value, /^["']|["']$/, `${profile}: no quotes left`);
    const kernel = facts(profile, 'rkernel').default;
    t.match(kernel, /^\d+\.\d+\.\d+\S*$/, `${profile} rkernel`);
    const uname = facts(profile, 'uname').default ?? '';
    t.match(uname, /^Linux \S+ /, `${profile} uname`);
    t.ok(uname.includes(` ${kernel} `), `${profile}: uname -a names the running kernel`);
  }
  t.equal(facts('rhel9', 'release').ID_LIKE, 'fedora');
  t.equal(facts('ubuntu22', 'release').UBUNTU_CODENAME, 'jammy');
});

t.test('packages', async (t) => {
  const deb = facts('debian12', 'packages');
  t.match(deb.bash, /^\d+\.\d+/, 'debian12: bash with a version');
  t.match(deb.dpkg, /^1\.21\./, 'debian12: dpkg 1.21 (bookworm)');
  t.ok(Object.keys(deb).length > 100, 'debian12: the real list');
  for (const [name, version] of Object.entries(deb)) {
    t.match(name, /^[a-z0-9][a-z0-9+.-]+$/, `debian12 package name ${name} (no :arch)`);
    if (!/^\S+$/.test(version)) t.fail(`debian12 ${name}: one version, got '${version}'`);
  }

  const rhel = facts('rhel9', 'packages');
  t.equal(rhel.kernel, '5.14.0-284.30.1.el9_2, 5.14.0-362.8.1.el9_3, 5.14.0-362.13.1.el9_3', 'rhel9: several kernels combined, oldest first');
  t.equal(rhel['kernel-core'], rhel.kernel);
  t.equal(rhel.openssl, '1:3.0.7-24.el9', 'rhel9: the epoch when there is one');
  t.equal(rhel.bash, '5.1.8-6.el9_1', 'rhel9: no epoch when there is none');
  t.equal(rhel.glibc, '2.34-83.el9_3.7', 'rhel9: multilib twins with one version give one value');
  t.equal(rhel['gpg-pubkey'], '5a6340b3-6229229e, fd431d51-4ae0493b');

  const ubu = facts('ubuntu22', 'packages');
  t.equal(ubu.openssl, '3.0.2-0ubuntu1.15');
  t.equal(ubu['openssh-server'], '1:8.9p1-3ubuntu0.6');
  t.equal(ubu.libc6, '2.35-0ubuntu3.6', 'ubuntu22: libc6 of two architectures, one version');
  t.ok(ubu['linux-image-5.15.0-97-generic'] && ubu['linux-image-5.15.0-101-generic'], 'ubuntu22: each kernel is its own package');
});

t.test('old facts for old audits: release default (the codename) and os', async (t) => {
  t.equal(facts('debian12', 'release').default, 'bookworm', 'debian12: VERSION_CODENAME');
  t.equal(facts('ubuntu22', 'release').default, 'jammy', 'ubuntu22: VERSION_CODENAME');
  t.notOk('default' in facts('rhel9', 'release'), 'rhel9: no codename, no default');
  t.same(facts('debian12', 'os'), { default: 'Debian' });
  t.same(facts('ubuntu22', 'os'), { default: 'Ubuntu' });
  t.same(facts('rhel9', 'os'), { default: 'RedHat' }, 'the old grain\'s spelling of rhel');
});

/** Runs a shipped collection with only `tools` (and stand-ins written as scripts) on PATH. */
function runWith(t: Test, type: string, standIns: Record<string, string>, osRelease?: string): { status: number | null; stdout: string } {
  const bin = t.testdir();
  for (const tool of ['awk', 'sort', 'grep', 'cat', 'sed']) {
    const real = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((f) => fs.existsSync(f));
    if (real) fs.symlinkSync(real, path.join(bin, tool));
  }
  for (const [name, script] of Object.entries(standIns)) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${script}`, { mode: 0o755 });
  let command = def(type).command;
  // The os-release path is fixed in the command: point it at a test file instead.
  if (osRelease !== undefined) {
    const file = path.join(bin, 'os-release');
    fs.writeFileSync(file, osRelease);
    command = command.replaceAll('/etc/os-release', file).replaceAll('/usr/lib/os-release', file).replaceAll('/etc/redhat-release', path.join(bin, 'none'));
  }
  // dpkg's branch also needs a non-empty status file; point it at one, so the rpm branch can be forced.
  command = command.replaceAll('/var/lib/dpkg/status', path.join(bin, standIns['dpkg-query'] ? 'dpkg-query' : 'no-status'));
  const r = spawnSync('/bin/sh', ['-c', command], { env: { PATH: bin, LC_ALL: 'C' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout };
}

const BINARY_TO_SOURCE: Record<'ubuntu22' | 'rhel9', Record<string, string>> = {
  ubuntu22: {
    libc6: 'glibc', libssl3: 'openssl', 'linux-generic': 'linux-meta', 'linux-image-generic': 'linux-meta',
    'linux-image-5.15.0-101-generic': 'linux-signed', 'linux-image-5.15.0-97-generic': 'linux-signed', 'nginx-common': 'nginx',
    'openssh-client': 'openssh', 'openssh-server': 'openssh', python3: 'python3-defaults', 'ubuntu-minimal': 'ubuntu-meta',
    'update-notifier-common': 'update-notifier', zlib1g: 'zlib',
  },
  rhel9: {
    yum: 'dnf', 'yum-utils': 'dnf-plugins-core', 'kernel-core': 'kernel', 'kernel-modules': 'kernel', 'openssh-clients': 'openssh',
    'openssh-server': 'openssh', 'openssl-libs': 'openssl', 'postgresql-server': 'postgresql', python3: 'python3.9',
  },
};

t.test('package-sources: source package -> source version', async (t) => {
  const deb = facts('debian12', 'package-sources');
  t.equal(deb.openssl, '3.0.19-1~deb12u2', 'debian12: libssl3 and openssl share one source, one value');
  t.equal(deb.bash, '5.2.15-2', 'debian12: the source version, not the binNMU (+b8) of the binary');
  t.equal(deb.openssh, '1:9.2p1-2+deb12u10', 'debian12: the epoch is kept');
  t.equal(deb.glibc, facts('debian12', 'package-sources').glibc);
  t.notOk('libc6' in deb, 'debian12: binary names are not sources');
  t.ok(Object.keys(deb).length > 100, 'debian12: the real list');
  for (const [name, version] of Object.entries(deb)) {
    t.match(name, /^[a-z0-9][a-z0-9+.-]+$/, `debian12 source name ${name}`);
    if (!/^\S+$/.test(version)) t.fail(`debian12 ${name}: one version, got '${version}'`);
  }
  const ubu = facts('ubuntu22', 'package-sources');
  t.equal(ubu['linux-signed'], '5.15.0-97.107, 5.15.0-101.111', 'ubuntu22: two kernels from one source: both versions, oldest first');
  t.equal(ubu.openssh, '1:8.9p1-3ubuntu0.6');
  const rhel = facts('rhel9', 'package-sources');
  t.equal(rhel.openssl, '1:3.0.7-24.el9', 'rhel9: openssl and openssl-libs from one source rpm, with the epoch');
  t.equal(rhel.kernel, '5.14.0-284.30.1.el9_2, 5.14.0-362.8.1.el9_3, 5.14.0-362.13.1.el9_3');
  t.notOk('gpg-pubkey' in rhel, 'rhel9: no source rpm, left out');

  // The collection's own dpkg and rpm branches, fed the derived profiles' packages by stand-ins,
  // print exactly the recorded package-sources.txt.
  for (const profile of ['ubuntu22', 'rhel9'] as const) {
    const map = BINARY_TO_SOURCE[profile];
    const lines = fs.readFileSync(path.join(outputsDir, profile, 'packages.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]);
    let standIns: Record<string, string>;
    if (profile === 'ubuntu22') {
      // dpkg-query -f '${db:Status-Abbrev}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n';
      // a source named like its binary leaves the source fields empty, as dpkg-query prints it then.
      const rows = lines.map(([b, v]) => map[b] ? `ii \t${b}\t${v}\t${map[b]}\t${v}` : `ii \t${b}\t${v}\t${b}\t${v}`);
      rows.push('un \tgone\t\t\t', 'rc \tremoved-conf\t1.0-1\tremoved-src\t1.0-1', 'ii \told-dpkg\t2.0-1\t\t');
      standIns = { 'dpkg-query': `cat <<'EOF'\n${rows.join('\n')}\nEOF\n` };
    } else {
      // rpm -qa --qf '%{NAME}\t%{SOURCERPM}\t%|EPOCH?{%{EPOCH}:}:{}|\n'
      const rows = lines.map(([b, v]) => {
        if (b === 'gpg-pubkey') return `${b}\t(none)\t`;
        const at = v.indexOf(':');
        const [epoch, vr] = at > 0 ? [v.slice(0, at + 1), v.slice(at + 1)] : ['', v];
        return `${b}\t${map[b] ?? b}-${vr}.src.rpm\t${epoch}`;
      });
      standIns = { rpm: `cat <<'EOF'\n${rows.join('\n')}\nEOF\n` };
    }
    const r = runWith(t, 'package-sources', standIns);
    t.equal(r.status, 0, `${profile}: exit 0`);
    const want = fs.readFileSync(path.join(outputsDir, profile, 'package-sources.txt'), 'utf8');
    const got = profile === 'ubuntu22' ? r.stdout.replace(/^old-dpkg 2\.0-1\n/m, '') : r.stdout;
    t.equal(got, want, `${profile}: the collection's own awk gives the recorded file`);
    if (profile === 'ubuntu22') t.match(r.stdout, /^old-dpkg 2\.0-1$/m, 'empty source fields: the binary\'s name and version');
    t.notMatch(r.stdout, /gone|removed/, 'only installed packages');
  }
  const failing = runWith(t, 'package-sources', { 'dpkg-query': 'exit 2\n' });
  t.equal(failing.status, 1, 'a failing dpkg-query fails the collection');
});

t.test('release default and os from other os-release files', async (t) => {
  const cases: [string, string, string | undefined][] = [
    ['ID=ubuntu\nVERSION_CODENAME=\nUBUNTU_CODENAME=focal\n', 'Ubuntu', 'focal'],
    ['ID="centos"\nVERSION_ID="7"\n', 'CentOS', undefined],
    ["ID='rocky'\nVERSION_CODENAME=\"\"\n", 'Rocky', undefined],
    ['ID=almalinux\n', 'AlmaLinux', undefined],
    ['ID="opensuse-leap"\n', 'SUSE', undefined],
    ['ID=sles\n', 'SUSE', undefined],
    ['ID=amzn\n', 'Amazon', undefined],
    ['ID=fedora\n', 'Fedora', undefined],
    ['ID=arch\n', 'arch', undefined],
    ['NAME=x\n', 'unknown', undefined],
  ];
  for (const [osRelease, os, codename] of cases) {
    const o = runWith(t, 'os', {}, osRelease);
    t.equal(o.stdout, `${os}\n`, `${osRelease.split('\n')[0]}: os ${os}`);
    const r = runWith(t, 'release', {}, osRelease);
    t.equal(r.status, 0);
    const rel = parseOutput(def('release'), r.stdout);
    t.equal(rel.default, codename, `${osRelease.split('\n')[0]}: default ${codename ?? 'absent'}`);
  }
  const lsb = runWith(t, 'release', { lsb_release: 'echo xenial\n' }, 'ID=ubuntu\n');
  t.equal(parseOutput(def('release'), lsb.stdout).default, 'xenial', 'no codename in os-release: lsb_release -cs');
  const na = runWith(t, 'release', { lsb_release: 'echo n/a\n' }, 'ID=rhel\n');
  t.notOk('default' in parseOutput(def('release'), na.stdout), 'lsb_release n/a: no default');
});

t.test('users, services, lsmod', async (t) => {
  for (const profile of PROFILES) {
    const users = facts(profile, 'users');
    t.match(users.root, /^0:0:\/root:\/bin\/(ba)?sh$/, `${profile} root`);
    for (const [user, value] of Object.entries(users)) t.match(value, /^\d+:\d+:[^:]*:[^:]*$/, `${profile} ${user}: uid:gid:home:shell`);

    const services = facts(profile, 'services');
    t.ok(Object.keys(services).length > 20, `${profile}: services listed`);
    for (const [unit, state] of Object.entries(services)) {
      t.match(unit, /\.service$/, `${profile} ${unit}`);
      t.match(state, /^(enabled|enabled-runtime|disabled|static|masked|masked-runtime|alias|indirect|generated|transient|linked|linked-runtime|bad)$/, `${profile} ${unit}: an enablement state, not a preset`);
    }
  }
  t.equal(facts('rhel9', 'services')['sshd.service'], 'enabled');
  t.equal(facts('ubuntu22', 'services')['ssh.service'], 'enabled');
  t.equal(facts('ubuntu22', 'services')['x11-common.service'], 'masked');

  t.same(facts('debian12', 'lsmod'), {}, 'debian12: this machine has no /proc/modules (a container): no modules, no failure');
  for (const profile of ['rhel9', 'ubuntu22'] as const) {
    for (const [module, size] of Object.entries(facts(profile, 'lsmod'))) t.match(size, /^\d+$/, `${profile} ${module} size`);
  }
  t.equal(facts('rhel9', 'lsmod').xfs, '2375680');
});

t.test('cpu, memory, disks: totals only', async (t) => {
  for (const profile of PROFILES) {
    const cpu = facts(profile, 'cpu-info');
    t.equal(cpu.architecture, 'x86_64', `${profile} architecture`);
    t.match(cpu.cpus, /^[1-9]\d*$/, `${profile} cpus`);
    t.match(cpu['model-name'], /\S/, `${profile} model name`);
    t.equal(Number(cpu.cpus), Number(cpu.cores) * Number(cpu['threads-per-core']), `${profile}: cpus = cores x threads`);
    for (const k of Object.keys(cpu)) t.notMatch(k, /mhz|bogomips|flags/i, `${profile}: no volatile ${k}`);

    const mem = facts(profile, 'memory');
    t.match(mem.MemTotal, /^\d+ kB$/, `${profile} MemTotal`);
    t.match(mem.SwapTotal, /^\d+ kB$/, `${profile} SwapTotal`);
    t.same(Object.keys(mem).sort(), ['MemTotal', 'SwapTotal'], `${profile}: nothing that moves (MemFree, Cached)`);

    const disks = facts(profile, 'disks');
    t.ok(Object.keys(disks).some((k) => k.startsWith('dev:')), `${profile}: block devices`);
    t.match(disks['mount:/'], /^(ext4|xfs|btrfs) \d+$/, `${profile}: / with type and size`);
    for (const [k, v] of Object.entries(disks)) {
      if (k.startsWith('dev:')) t.match(v, /^\d+$/, `${profile} ${k}: bytes`);
      else t.match(k, /^mount:\//, `${profile} ${k}`);
      t.notMatch(k, /^dev:(loop|sr)\d/, `${profile}: no loop or CD-ROM devices`);
    }
  }
  t.equal(facts('debian12', 'disks')['dev:vda'], '274877906944');
  t.equal(facts('rhel9', 'disks')['mount:/mnt/backup'], 'nfs4 backup01.ams.example.net:/export/db7', 'network mounts: type and source');
  t.equal(facts('ubuntu22', 'disks')['mount:/srv/shared\\040data'], 'xfs 1599784443904', 'a space in a mount point is \\040');
  t.equal(facts('rhel9', 'cpu-info').sockets, '2');
  t.equal(facts('ubuntu22', 'cpu-info')['threads-per-core'], '2');
});

t.test('listening, ssh host keys', async (t) => {
  for (const profile of PROFILES) {
    const listening = facts(profile, 'listening');
    t.ok(Object.keys(listening).length > 0, `${profile}: something listens`);
    for (const [k, v] of Object.entries(listening)) {
      t.match(k, /^(tcp|udp):\d+$/, `${profile} ${k}: proto:port`);
      t.notMatch(v, /pid=|\d+\//, `${profile} ${k}: a name, never a pid`);
    }
    const keys = facts(profile, 'ssh-host-key-hash');
    t.ok(keys.ed25519, `${profile}: an ed25519 host key`);
    for (const [type, fp] of Object.entries(keys)) {
      t.match(type, /^(rsa|dsa|ecdsa|ed25519)$/, `${profile} key type ${type}`);
      t.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/, `${profile} ${type} fingerprint`);
    }
  }
  t.equal(facts('rhel9', 'listening')['tcp:22'], 'sshd');
  t.equal(facts('rhel9', 'listening')['tcp:111'], 'rpcbind, systemd', 'two owners of one port combined');
  t.equal(facts('ubuntu22', 'listening')['tcp:22'], 'listening', 'process not visible to a non-root user');
});

t.test('single-value collections', async (t) => {
  for (const profile of PROFILES) {
    t.match(facts(profile, 'boottime').default, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `${profile} boottime`);
    t.match(facts(profile, 'reboot-needed').default, /^(yes|no|unknown)$/, `${profile} reboot-needed`);
    t.match(facts(profile, 'hostname').default, /^[a-z0-9][a-z0-9.-]*$/, `${profile} hostname`);
    t.match(facts(profile, 'machine-id').default, /^[0-9a-f]{32}$/, `${profile} machine-id`);
    t.match(facts(profile, 'timezone').default, /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, `${profile} timezone`);
    const virt = facts(profile, 'virtualization');
    t.same(Object.keys(virt).sort(), ['container', 'vm'], `${profile} virtualization`);
  }
  t.equal(facts('debian12', 'virtualization').container, 'docker');
  t.equal(facts('rhel9', 'virtualization').vm, 'vmware');
  t.equal(facts('ubuntu22', 'virtualization').vm, 'none');
  t.equal(facts('rhel9', 'hostname').default, 'db7.ams.example.net');
  t.equal(facts('rhel9', 'timezone').default, 'Europe/Amsterdam');
  t.same(facts('debian12', 'hardware'), {}, 'debian12: no DMI in this VM: no facts, no failure');
  t.equal(facts('ubuntu22', 'hardware').product_name, 'PowerEdge R640');
  t.equal(facts('rhel9', 'hardware').sys_vendor, 'VMware, Inc.', 'values keep their spaces and commas');
});

t.test('parseOutput: single values', async (t) => {
  const single = multi({ multi: false });
  t.same(parseOutput(single, '  6.1.0-18-amd64\n'), { default: '6.1.0-18-amd64' });
  t.same(parseOutput(single, ''), { default: '' }, 'empty output is still a value');
  t.same(parseOutput(single, '\n \n'), { default: '' });
  t.same(parseOutput(single, 'two\r\nlines\r\n'), { default: 'two\r\nlines' }, 'only trimmed');
  t.same(parseOutput(single, 'a\u0000b'), { default: 'a\uFFFDb' }, 'NUL replaced');
  const long = 'x'.repeat(200_000);
  t.equal(parseOutput(single, long).default?.length, 200_000, 'never truncated');
});

t.test('parseOutput: multi lines', async (t) => {
  t.same(parseOutput(multi(), 'a 1\n\n   \nb  two words  \n\n'), { a: '1', b: 'two words' }, 'blank lines skipped, value keeps inner spaces');
  t.same(parseOutput(multi(), 'a 1\r\nb\t2\r\n\r\n'), { a: '1', b: '2' }, 'CRLF and tabs');
  t.same(parseOutput(multi(), 'lonely\n  indented value\n'), { lonely: '', indented: 'value' }, 'no separator: empty value; leading space ignored');
  t.same(parseOutput(multi(), 'k b\nk a\nk b\nk 10\nk 9\n'), { k: '9, 10, a, b' }, 'duplicates combined: distinct, natural order');
  t.same(parseOutput(multi(), 'k\nk 1\n'), { k: '1' }, 'an empty value gives way to a real one');
  t.same(parseOutput(multi(), 'k\nk\n'), { k: '' });
  t.same(parseOutput(multi(), 'a\u0000b c\u0000d\n'), { 'a\uFFFDb': 'c\uFFFDd' }, 'NUL replaced in subtype and value');
  t.same(parseOutput(multi(), ''), {}, 'no output, no facts');
  const proto = parseOutput(multi(), '__proto__ x\nconstructor y\n');
  t.equal(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, 'x', '__proto__ is an ordinary subtype');
  t.equal(proto.constructor, 'y');
  const many = Array.from({ length: 5000 }, (_, i) => `p${i} ${'v'.repeat(1000)}`).join('\n');
  const big = parseOutput(multi(), many);
  t.equal(Object.keys(big).length, 5000);
  t.equal(big.p4999?.length, 1000, 'never truncated');
});

t.test('parseOutput: separator', async (t) => {
  t.same(parseOutput(multi({ separator: '=' }), 'NAME=Debian GNU/Linux\nX = a=b \nnosep\n'), { NAME: 'Debian GNU/Linux', X: 'a=b', nosep: '' }, 'split at the first separator only');
  t.same(parseOutput(multi({ separator: ': ' }), 'model name: Xeon: Gold\nflags:x\n'), { 'model name': 'Xeon: Gold', 'flags:x': '' }, 'a subtype may hold spaces with a custom separator');
  t.same(parseOutput(multi({ separator: '\t' }), 'a b\tc d\r\n'), { 'a b': 'c d' });
});

t.test('compareNatural', async (t) => {
  const sorted = ['5.14.0-362.8.1', '5.14.0-70.13.1', '5.14.0-284.30.1', '10', '9', '09', 'a', 'B'].sort(compareNatural);
  t.same(sorted, ['5.14.0-70.13.1', '5.14.0-284.30.1', '5.14.0-362.8.1', '09', '9', '10', 'B', 'a']);
  t.ok(compareNatural('1' + '0'.repeat(30), '9'.repeat(29)) > 0, 'digit runs longer than a double still compare');
  t.ok(compareNatural('1' + '0'.repeat(30), '1' + '0'.repeat(29) + '1') < 0);
  t.equal(compareNatural('x', 'x'), 0);
});

t.test('compareNatural agrees with its definition (tokens by regular expression) on 20,000 random pairs', async (t) => {
  // The definition, written the plain way: split into digit and non-digit runs, digit runs by
  // value, other runs in code-unit order, then the number of runs, then the whole text.
  const reference = (a: string, b: string): number => {
    const pa = a.match(/\d+|\D+/g) ?? [];
    const pb = b.match(/\d+|\D+/g) ?? [];
    for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
      const x = pa[i] as string;
      const y = pb[i] as string;
      if (x === y) continue;
      if (/^\d/.test(x) && /^\d/.test(y)) {
        const xs = x.replace(/^0+(?=\d)/, '');
        const ys = y.replace(/^0+(?=\d)/, '');
        if (xs.length !== ys.length) return xs.length - ys.length;
        if (xs !== ys) return xs < ys ? -1 : 1;
        continue;
      }
      return x < y ? -1 : 1;
    }
    if (pa.length !== pb.length) return pa.length - pb.length;
    return a < b ? -1 : a > b ? 1 : 0;
  };
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const alphabet = ['0', '00', '1', '9', '10', '007', 'a', 'B', '.', '-', '~', 'é', 'web', 'ams', ''];
  const text = () => Array.from({ length: rnd(6) }, () => alphabet[rnd(alphabet.length)]).join('');
  let disagreements = 0;
  for (let n = 0; n < 20_000; n++) {
    const a = text();
    const b = rnd(4) === 0 ? a : text();
    if (Math.sign(compareNatural(a, b)) !== Math.sign(reference(a, b))) {
      if (disagreements++ < 5) t.fail(`compareNatural(${JSON.stringify(a)}, ${JSON.stringify(b)}) = ${compareNatural(a, b)}, the definition says ${reference(a, b)}`);
    }
  }
  t.equal(disagreements, 0, 'the same sign on every pair');
});

function writeIni(t: Test, text: string): string {
  const dir = t.testdir({ 'collector.ini': text });
  return path.join(dir, 'collector.ini');
}

/** The ConfigError loadCollections throws for `file`, or a failed assertion. */
function thrown(t: Test, file: string, name: string): ConfigError | undefined {
  try {
    loadCollections(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      t.equal(e.exitCode, 78, `${name}: exit code 78`);
      return e;
    }
    t.fail(`${name}: expected a ConfigError, got ${String(e)}`);
    return undefined;
  }
  t.fail(`${name}: expected a ConfigError, loaded fine`);
  return undefined;
}

function configError(t: Test, text: string, wanted: RegExp, name: string): void {
  const file = writeIni(t, text);
  const e = thrown(t, file, name);
  if (!e) return;
  t.ok(e.message.startsWith(file), `${name}: names the file`);
  t.match(e.message.slice(file.length), wanted, name);
}

t.test('loadCollections: the format', async (t) => {
  const file = writeIni(t, [
    '\uFEFF# header comment', '; another', '',
    '[DEFAULT]', 'timeout = 45s', '',
    '[Packages]', 'Collection = dpkg-query -W; echo "#not a comment" ; echo \'quoted\'', 'MULTI = Yes', 'timeout: 2m',
    '[uname]', 'collection=uname -a', 'enabled = false',
    '[long]', 'collection = if true; then', '    # a comment inside the value', '    echo 100%', '', '      echo deeper', '  fi',
    'multi = 1', 'separator = " = "',
    '[tabbed]', 'collection = printf "a\\tb\\n"', 'multi = on', 'separator = \\t',
  ].join('\r\n'));
  const defs = loadCollections(file);
  t.same(defs.map((d) => d.type), ['Packages', 'uname', 'long', 'tabbed'], 'section names verbatim, in file order, DEFAULT left out');
  t.same(defs[0], { type: 'Packages', command: 'dpkg-query -W; echo "#not a comment" ; echo \'quoted\'', multi: true, timeoutMs: 120_000, enabled: true }, 'no inline comments, quotes kept, keys case-insensitive, key: value');
  t.same(defs[1], { type: 'uname', command: 'uname -a', multi: false, timeoutMs: 45_000, enabled: false }, 'DEFAULT timeout; disabled kept');
  t.same(defs[2], { type: 'long', command: 'if true; then\necho 100%\necho deeper\nfi', multi: true, timeoutMs: 45_000, enabled: true, separator: ' = ' }, 'continuation lines, % verbatim, quoted separator');
  t.equal(defs[3]?.separator, '\t');
  t.notOk('separator' in (defs[1] as object), 'no separator key when not set');
});

t.test('loadCollections: errors name file:line, the key and what was expected', async (t) => {
  configError(t, '[a]\ncollection = true\nmulti = true\ncolor = blue\n', /^:4: \[a\] unknown key 'color'; allowed keys: collection, multi, timeout, separator, enabled$/, 'unknown key');
  configError(t, '[a]\ncollection = true\nmulti = perhaps\n', /^:3: \[a\] multi = 'perhaps': expected a boolean/, 'bad multi');
  configError(t, '# c\n[a]\ncollection = true\nenabled = nope\n', /^:4: \[a\] enabled = 'nope': expected a boolean/, 'bad enabled');
  configError(t, '[a]\ncollection = true\ntimeout = soon\n', /^:3: \[a\] timeout = 'soon': expected a duration/, 'bad timeout');
  configError(t, '[a]\ncollection = true\ntimeout = 0s\n', /^:3: \[a\] timeout = '0s': expected a duration above zero/, 'zero timeout');
  configError(t, '[a]\ncollection = true\n\n[b]\nmulti = true\n', /^:4: \[b\] has no 'collection'/, 'section without collection');
  configError(t, '[a]\ncollection =\n', /^:2: \[a\] collection = '': expected a shell command/, 'empty collection');
  configError(t, '[a]\ncollection = true\nmulti = true\nmulti = false\n', /^:4: \[a\] multi is set twice \(first on line 3\)/, 'key twice');
  configError(t, '[a]\ncollection = true\n[a]\ncollection = false\n', /^:3: section \[a\] appears twice \(first on line 1\)/, 'section twice');
  configError(t, 'collection = true\n', /^:1: 'collection' is outside any \[section\]/, 'key before any section');
  configError(t, '[a]\ncollection = true\njust words\n', /^:3: \[a\]: expected 'key = value'/, 'a line without =');
  configError(t, '[two words]\ncollection = true\n', /^:1: section \[two words\]: expected a collection type name without spaces/, 'type with a space');
  configError(t, '[a]\ncollection = true\nmulti = true\nseparator = ""\n', /^:4: \[a\] separator = '""': expected a non-empty text/, 'empty separator');
  configError(t, '[DEFAULT]\ntimeout = never\n[a]\ncollection = true\ntimeout = 5s\n', /^:2: \[DEFAULT\] timeout = 'never': expected a duration/, 'bad default, even when overridden');
  configError(t, '[DEFAULT]\nmulti = maybe\n[a]\ncollection = true\n', /^:2: \[DEFAULT\] multi = 'maybe'/, 'bad default');
  configError(t, '[DEFAULT]\ncollection = true\n[a]\ncollection = true\n', /^:2: \[DEFAULT\] collection: a command must belong to its own section/, 'collection in DEFAULT');
  configError(t, '[a]\ncollection = true\nenabled = false\n[b]\ncollection = true\nenabled = no\n', /^: no enabled collection \(all 2 have enabled = false\)$/, 'nothing enabled');
  configError(t, '# only comments\n', /^: no enabled collection \(the file has no \[section\]\)$/, 'empty file');

  const dir = t.testdir({ sub: {} });
  for (const [name, file, wanted] of [
    ['missing file', path.join(dir, 'nope.ini'), /^: cannot read: ENOENT: no such file or directory/],
    ['a directory', path.join(dir, 'sub'), /^: cannot read: is a directory$/],
  ] as const) {
    const e = thrown(t, file, name);
    if (e) t.match(e.message.slice(file.length), wanted, name);
  }
});

// The shipped commands, for real, on this machine (a Debian host): each must exit 0 within its
// timeout, and twice in a row must give the same facts (a fact that moves makes a new interval
// on every run).
t.test('the shipped commands run here, exit 0 in time, and are stable', { skip: process.platform !== 'linux' ? 'not Linux' : false }, async (t) => {
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C', PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin` };
  const run = (d: CollectionDef) => spawnSync('/bin/sh', ['-c', d.command], { env, stdio: ['ignore', 'pipe', 'ignore'], timeout: d.timeoutMs, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  for (const d of shipped.filter((d) => d.enabled)) {
    const started = Date.now();
    const first = run(d);
    t.equal(first.error, undefined, `${d.type}: ran (no timeout)`);
    t.equal(first.status, 0, `${d.type}: exit 0 in ${Date.now() - started} ms`);
    const second = run(d);
    t.same(parseOutput(d, second.stdout ?? ''), parseOutput(d, first.stdout ?? ''), `${d.type}: the same facts twice`);
  }
});
