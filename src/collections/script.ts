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
//
// What a host runs for one collection: `timeout -k` (where the host has it) around the command,
// so a timed-out command is stopped on the host itself. A command that needs a shell (pipes,
// quotes, variables, redirections, builtins...) runs as `timeout ... sh -c CMD`: on Debian's dash
// that is three processes (timeout, sh, the command: dash does not exec the last command of a
// `-c` string). A plain command (words of safe characters, not a builtin or keyword) is handed to
// `timeout` as its argv, as `sh -c` would have split it: two processes, the same timeout.
import type { CollectionDef } from './types.js';

/**
 * The exec command: a POSIX shell reading the script from stdin, whatever the login shell is.
 * sshd runs it as `$SHELL -c COMMAND`; `exec` makes that login shell become /bin/sh instead of
 * waiting for one more process (its command line is then `/bin/sh -s` alone).
 */
export const SCRIPT_COMMAND = 'exec /bin/sh -s';

/** Grace between TERM and KILL for a timed-out command on the host (`timeout -k`). */
export const KILL_GRACE_SECONDS = 2;

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface ScriptStep {
  index: number;
  def: CollectionDef;
}

/** A word a POSIX shell passes as it is: nothing to expand, quote, glob or redirect. */
const PLAIN_WORD = /^[A-Za-z0-9_@+=:,.\/-]+$/;
/**
 * Words that are not programs run from PATH: shell keywords and builtins (dash's and bash's, the
 * two /bin/sh of the hosts here). `timeout` cannot run them, so such commands keep `sh -c`,
 * as do the builtins that have a program of the same name (echo, printf, test, kill, pwd...),
 * whose output could differ from the shell's own.
 */
const SHELL_WORDS = new Set([
  '!', '.', ':', '[', '[[', ']]', '{', '}', 'alias', 'bg', 'bind', 'break', 'builtin', 'caller', 'case', 'cd', 'chdir', 'command',
  'compgen', 'complete', 'compopt', 'continue', 'coproc', 'declare', 'dirs', 'disown', 'do', 'done', 'echo', 'elif', 'else', 'enable',
  'esac', 'eval', 'exec', 'exit', 'export', 'false', 'fc', 'fg', 'fi', 'for', 'function', 'getopts', 'hash', 'help', 'history', 'if',
  'in', 'jobs', 'kill', 'let', 'local', 'logout', 'mapfile', 'popd', 'printf', 'pushd', 'pwd', 'read', 'readarray', 'readonly',
  'return', 'select', 'set', 'shift', 'shopt', 'source', 'suspend', 'test', 'then', 'time', 'times', 'trap', 'true', 'type',
  'typeset', 'ulimit', 'umask', 'unalias', 'unset', 'until', 'wait', 'while',
]);

/**
 * The argv a shell would run for `command`, when it is a plain command: words of PLAIN_WORD
 * characters separated by blanks, the first neither an assignment nor a shell word. Else
 * undefined: the command needs `sh -c`.
 */
export function plainArgv(command: string): string[] | undefined {
  const words = command.trim().split(/[ \t]+/);
  const first = words[0] ?? '';
  if (!words.every((w) => PLAIN_WORD.test(w))) return undefined;
  if (first.includes('=') || SHELL_WORDS.has(first)) return undefined;
  return words;
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
    // A plain command: its words are the arguments after the index and the timeout; without
    // `timeout` on the host it goes through `sh -c` like any other.
    `p() { i=$1 w=$2; shift 2; printf '@@%s B %s\\n' "$N" "$i"; if [ $T = 1 ]; then timeout -k ${KILL_GRACE_SECONDS} "$w" "$@" </dev/null 2>/dev/null; else sh -c "$*" </dev/null 2>/dev/null; fi; printf '\\n@@%s E %s %s\\n' "$N" "$i" "$?"; }`,
  );
  for (const s of steps) {
    const seconds = Math.max(1, Math.ceil(s.def.timeoutMs / 1000));
    const argv = plainArgv(s.def.command);
    lines.push(argv ? `p ${s.index} ${seconds} ${argv.join(' ')}` : `s ${s.index} ${seconds} ${shellQuote(s.def.command)}`);
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
