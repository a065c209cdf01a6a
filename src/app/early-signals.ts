// SIGINT/SIGTERM that arrive while the program is still loading (the import graph takes a few
// hundred milliseconds, seconds on a loaded machine): without a handler Node dies at once and a
// run prints no JSON. bin/jellyfish traps them first; a run takes the signal over once it can act
// on it (JSON printed, 130/143); any other command stops before its action with 130/143.

/** The exit code of a run stopped by a signal (SPEC §7). */
export function signalExitCode(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : 143;
}

let pending: NodeJS.Signals | undefined;
let trapped = false;
const record = (sig: NodeJS.Signals) => { pending ??= sig; };

export function trapEarlySignals(): void {
  if (trapped) return;
  trapped = true;
  process.on('SIGINT', record);
  process.on('SIGTERM', record);
}

/** Stop trapping; returns the signal that came meanwhile, if any (undefined when nothing trapped). */
export function releaseEarlySignals(): NodeJS.Signals | undefined {
  if (!trapped) return undefined;
  trapped = false;
  process.off('SIGINT', record);
  process.off('SIGTERM', record);
  const sig = pending;
  pending = undefined;
  return sig;
}
