// The start-up group (`--only startup`, part of the quick profile): a run whose remote work is
// light (3 commands), so what tells the contenders apart is each one's fixed cost (imports, threads,
// the store) and what its framing costs the host, not the collections themselves.
// - LIGHT_INI: the collector.ini jellyfish runs; the limit and the peers send the same framed script
//   (built from it by jellyfish's script builder), and the "plain" limit row the bare commands.
// - Host-side processes are counted with BSD process accounting (acct(2), switched on around each
//   OpenSSH run): one record per process that ended, with its pid, parent and command name. The
//   fleet's processes are those descending from its sshd listeners (records are followed by parent
//   pid until nothing is added); the machine's other processes are left out that way.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { median, withSpread } from './report.mjs';

/** Three light collections (the issue's "3 light commands"); type names as the fixture fleet answers them. */
export const LIGHT_INI = [
  '# The start-up group\'s collections: three light commands.',
  '[uname]',
  'collection = uname -a',
  '[os-release]',
  'collection = cat /etc/os-release',
  '[id]',
  'collection = id',
  '',
].join('\n');

/** What the fixture fleet answers for them (a Debian 12 host, as fixtures/outputs/debian12). */
export const LIGHT_OUTPUTS = {
  uname: 'Linux web1 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n',
  'os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
  id: 'uid=1000(jftest) gid=1000(jftest) groups=1000(jftest)\n',
};

/** The same three commands sent plainly (no frames, no timeout), ending with a marker the limit counts. */
export function plainScript(marker) {
  return `uname -a; cat /etc/os-release; id; echo ${marker}\n`;
}

// ---------------------------------------------------------------------------------------------
// BSD process accounting

const ACCT = `
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
arg = sys.argv[1].encode() if len(sys.argv) > 1 else None
if libc.acct(arg) != 0:
    sys.stderr.write('acct: errno %d\\n' % ctypes.get_errno()); sys.exit(1)
`;

/** Why process accounting cannot run here, or undefined. */
export function accountingUnavailable() {
  if (process.getuid?.() !== 0) return 'not root';
  if (!fs.existsSync('/proc/sys/kernel/acct')) return 'the kernel has no BSD process accounting';
  if (!fs.existsSync('/usr/bin/python3')) return 'python3 (used to call acct(2)) is missing';
  return undefined;
}

/** Switch accounting on into `file` (created empty). Returns false when it could not. */
export function accountingOn(file) {
  fs.writeFileSync(file, '', { mode: 0o600 });
  return spawnSync('/usr/bin/python3', ['-c', ACCT, file], { encoding: 'utf8' }).status === 0;
}

export function accountingOff() {
  spawnSync('/usr/bin/python3', ['-c', ACCT], { encoding: 'utf8' });
}

/** acct_v3 records (64 bytes each): pid, ppid, uid, command name, user+sys CPU in ms. */
export function readAccounting(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch { return []; }
  const out = [];
  // comp_t: 13-bit mantissa, 3-bit base-8 exponent, in AHZ (100) ticks.
  const comp = (c) => (c & 0x1fff) << (3 * (c >> 13));
  for (let at = 0; at + 64 <= buf.length; at += 64) {
    if ((buf[at + 1] & 0x0f) !== 3) continue;
    const comm = buf.subarray(at + 48, at + 64);
    const nul = comm.indexOf(0);
    out.push({
      uid: buf.readUInt32LE(at + 8), pid: buf.readUInt32LE(at + 16), ppid: buf.readUInt32LE(at + 20),
      cpuMs: (comp(buf.readUInt16LE(at + 32)) + comp(buf.readUInt16LE(at + 34))) * 10,
      comm: comm.subarray(0, nul < 0 ? 16 : nul).toString('latin1'),
    });
  }
  return out;
}

/**
 * The processes of one run under the fleet's sshd listeners: every record whose parent is a
 * listener or another such record. Returns { processes, byCommand: {comm: count}, userProcesses }
 * (userProcesses: records of `uid` whatever their parent, a cross-check for orphans the parent
 * chain misses).
 */
export function fleetProcesses(records, listenerPids, uid) {
  const mine = new Set(listenerPids);
  const picked = new Set();
  for (let added = true; added;) {
    added = false;
    for (const r of records) {
      if (picked.has(r) || !mine.has(r.ppid)) continue;
      picked.add(r);
      mine.add(r.pid);
      added = true;
    }
  }
  const byCommand = {};
  for (const r of picked) byCommand[r.comm] = (byCommand[r.comm] ?? 0) + 1;
  return { processes: picked.size, byCommand, userProcesses: records.filter((r) => r.uid === uid).length };
}

export function userId(name) {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '–');

/** Per-host process counts by command, as `sshd 3, sh 2, timeout 3`, from the median rep. */
function commandsText(reps, hosts) {
  const withProc = reps.filter((r) => r.hostProcs);
  if (!withProc.length) return '';
  const mid = withProc.map((r) => r.hostProcs.processes).sort((a, b) => a - b)[Math.floor(withProc.length / 2)];
  const rep = withProc.find((r) => r.hostProcs.processes === mid);
  return Object.entries(rep.hostProcs.byCommand).sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${fmt(n / hosts, n % hosts ? 1 : 0)}`).join(', ');
}

/** The start-up table: ratios to the bare ssh2 loop (the group's `limit` row, sending the framed script). */
export function startupTable(group) {
  const hosts = group.hosts;
  const lim = group.rows.find((r) => r.tool === 'limit' && !r.plain && !r.skipped)?.summary;
  const lines = [
    `**${group.title}**`,
    '',
    '| contender | wall s | hosts/s | × loop | controller CPU ms/host | × loop | CPU before the first connection, ms (at ms) | host-side CPU ms/host | host processes per host | ok |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of group.rows) {
    if (r.skipped) { lines.push(`| ${r.label} | skipped: ${r.skipped} | | | | | | | | |`); continue; }
    const first = r.reps.filter((x) => x.firstConnect);
    const firstText = first.length ? `${withSpread(first.map((x) => x.firstConnect.cpuMs), 0)} (${fmt(median(first.map((x) => x.firstConnect.afterMs)), 0)})` : '–';
    const s = r.summary;
    const procs = r.reps.map((x) => (x.hostProcs ? x.hostProcs.processes / hosts : NaN));
    const procText = procs.some(Number.isFinite) ? `${withSpread(procs, 1)}${r.reps.some((x) => x.hostProcs) ? `: ${commandsText(r.reps, hosts)}` : ''}` : '–';
    lines.push(`| ${r.label} | ${s.text.wall} | ${s.text.rate} | ${lim ? fmt(s.rate / lim.rate, 2) : '–'} | ${s.text.cpu} | ${lim ? fmt(s.cpuPerHost / lim.cpuPerHost, 2) : '–'} | ${firstText} | ${s.text.server} | ${procText} | ${s.text.ok} |`);
  }
  return lines.join('\n');
}

/** The issue's start-up targets: controller CPU/host ≤ 1.3× the loop's, hosts/s ≥ the best peer's. */
export function startupTargets(groups) {
  const out = [];
  for (const g of groups) {
    const jf = g.rows.find((r) => r.reference && !r.skipped)?.summary;
    const lim = g.rows.find((r) => r.tool === 'limit' && !r.plain && !r.skipped)?.summary;
    if (!jf) continue;
    const where = g.title.replace(/\*\*/g, '');
    // One host is the fixed cost alone (a second thread, the store, the lock): stated beside the
    // fleets, whose controller CPU per host is what the ≤ 1.3× target is about.
    const fixedOnly = g.hosts === 1;
    if (lim) {
      const ratio = jf.cpuPerHost / lim.cpuPerHost;
      out.push({
        what: `${where}: controller CPU/host vs the bare ssh2 loop`, value: `${fmt(ratio, 2)}× (${fmt(jf.cpuPerHost, 2)} vs ${fmt(lim.cpuPerHost, 2)} ms)`,
        goal: fixedOnly ? 'stated' : '≤ 1.3×', met: fixedOnly ? undefined : ratio <= 1.3,
        ...(fixedOnly ? { note: `${fmt(jf.cpuPerHost - lim.cpuPerHost, 0)} ms more before and around one host; over 240 hosts ${fmt((jf.cpuPerHost - lim.cpuPerHost) / 240, 2)} ms a host` } : {}),
      });
    }
    const peers = g.rows.filter((r) => !r.skipped && r.summary && ['pdsh', 'pssh', 'clush'].includes(r.tool)).map((r) => r.summary.rate);
    if (peers.length) {
      const best = Math.max(...peers);
      out.push({ what: `${where}: hosts/s vs the best peer`, value: `${fmt(jf.rate / best, 2)}× (${fmt(jf.rate, 0)} vs ${fmt(best, 0)})`, goal: '≥ 1×', met: jf.rate / best >= 1 });
    }
  }
  return out;
}

/** The light collector.ini and the two scripts, written into `dir`. */
export async function lightFiles(dir, root, nonce) {
  fs.mkdirSync(dir, { recursive: true });
  const ini = path.join(dir, 'collector-light.ini');
  fs.writeFileSync(ini, LIGHT_INI);
  const { loadCollections } = await import(path.join(root, 'dist/collections/load.js'));
  const { buildScript } = await import(path.join(root, 'dist/collections/script.js'));
  const steps = loadCollections(ini).filter((c) => c.enabled).map((def, index) => ({ index, def }));
  const framed = buildScript(nonce, steps);
  const framedFile = path.join(dir, 'script-light.sh');
  fs.writeFileSync(framedFile, framed);
  const plainMarker = `jellyfish-bench-done-${nonce}`;
  const plainFile = path.join(dir, 'script-plain.sh');
  fs.writeFileSync(plainFile, plainScript(plainMarker));
  return {
    ini, framed, framedFile, framedMarker: `@@${nonce} E ${steps.length - 1} `, plain: plainScript(plainMarker), plainFile, plainMarker,
  };
}
