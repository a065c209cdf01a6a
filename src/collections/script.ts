// One exec per host: every collection runs inside one generated shell script, each framed by
// nonce markers, so a host costs one channel round trip instead of one per collection.
//
// The script is sent on the stdin of SCRIPT_COMMAND, never as the command itself: a host shows
// every local user each process's command line (ps, /proc/PID/cmdline), and the nonce in it
// would let any of them forge frames. The script starts with comment lines a reader (the
// fixture fleet, a log) can decode:
//   # jellyfish-collect v1 <nonce>
//   # step <index> <type> <timeoutSeconds>
// and stdout frames each collection as
//   @@<nonce> B <index>\n <output bytes> \n@@<nonce> E <index> <exitCode>\n
// The newline before the end marker is added by the script, so the marker always starts a line;
// the decoder drops exactly that one newline.
import type { CollectionDef } from './types.js';

/** The exec command: a POSIX shell reading the script from stdin, whatever the login shell is. */
export const SCRIPT_COMMAND = '/bin/sh -s';

/** Grace between TERM and KILL for a timed-out command on the host (`timeout -k`). */
export const KILL_GRACE_SECONDS = 2;

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface ScriptStep {
  index: number;
  def: CollectionDef;
}

export function buildScript(nonce: string, steps: ScriptStep[]): string {
  const lines = [`# jellyfish-collect v1 ${nonce}`];
  for (const s of steps) lines.push(`# step ${s.index} ${s.def.type} ${Math.max(1, Math.ceil(s.def.timeoutMs / 1000))}`);
  // LC_ALL=C: stable, parseable output; sbin on PATH: lsmod/ss/sysctl for non-root users.
  lines.push(
    'export LC_ALL=C LANG=C PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"',
    `N=${nonce}`,
    // `timeout` stops a runaway command on the host itself; hosts without it still run every step
    // and the client's own per-step watchdog takes over.
    'if command -v timeout >/dev/null 2>&1; then T=1; else T=0; fi',
    `s() { printf '@@%s B %s\\n' "$N" "$1"; if [ $T = 1 ]; then timeout -k ${KILL_GRACE_SECONDS} "$2" sh -c "$3" </dev/null 2>/dev/null; else sh -c "$3" </dev/null 2>/dev/null; fi; printf '\\n@@%s E %s %s\\n' "$N" "$1" "$?"; }`,
  );
  for (const s of steps) {
    lines.push(`s ${s.index} ${Math.max(1, Math.ceil(s.def.timeoutMs / 1000))} ${shellQuote(s.def.command)}`);
  }
  return lines.join('\n') + '\n';
}

/** What a reader of the script can learn: the nonce and the steps (index, type, timeout). */
export function decodeScriptHeader(script: string): { nonce: string; steps: { index: number; type: string; timeoutSeconds: number }[] } | undefined {
  const lines = script.split('\n');
  const head = /^# jellyfish-collect v1 ([0-9a-f]+)$/.exec(lines[0] ?? '');
  if (!head?.[1]) return undefined;
  const steps: { index: number; type: string; timeoutSeconds: number }[] = [];
  for (const line of lines.slice(1)) {
    const m = /^# step (\d+) (\S+) (\d+)$/.exec(line);
    if (!m) break;
    steps.push({ index: Number(m[1]), type: m[2] as string, timeoutSeconds: Number(m[3]) });
  }
  return { nonce: head[1], steps };
}
