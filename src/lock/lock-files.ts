// Where the locks live: the run lock is [GLOBAL] lockfile; gap-fix has its own beside it, so two
// gap-fix runs never overlap while a full run (and its lock) is left alone.
import type { Config } from '../config/load.js';

export function gapfixLockFile(config: Config): string {
  const f = config.lockfile;
  return f.endsWith('.lock') ? `${f.slice(0, -'.lock'.length)}-gapfix.lock` : `${f}-gapfix`;
}
