// Where the locks live: the run lock is [GLOBAL] lockfile; gap-fix has its own beside it, so two
// gap-fix runs never overlap while a full run (and its lock) is left alone.
import type { Config } from '../config/load.js';

export function gapfixLockFile(config: Config): string {
  const f = config.lockfile;
  return f.endsWith('.lock') ? `${f.slice(0, -'.lock'.length)}-gapfix.lock` : `${f}-gapfix`;
}

/**
 * The lock file of a site collector on SQLite: one per scope beside the run lock
 * (`jellyfish.lock` -> `jellyfish.site_ams.lock`); the whole inventory keeps the file itself.
 */
export function scopedLockFile(file: string, scope: string): string {
  if (scope === 'all') return file;
  const slug = scope.replace(/[^A-Za-z0-9._-]+/g, '_');
  return file.endsWith('.lock') ? `${file.slice(0, -'.lock'.length)}.${slug}.lock` : `${file}.${slug}`;
}
