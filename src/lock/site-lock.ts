// The run lock of a collector on SQLite: the whole inventory takes [GLOBAL] lockfile as always; a
// site collector takes a lock file of its own scope beside it, then makes sure no live collector
// of the same mode covers any of its hosts (a whole-inventory run, an overlapping site list, the
// same shard). Both sides check after taking their own lock, so two collectors starting at the
// same instant can both refuse, never both run.
import { LockHeldError } from '../core/errors.js';
import { lockScope, type SiteCoverage } from '../inventory/sites.js';
import { modeLockFiles, scopedLockFile } from './lock-files.js';
import { acquireLock, lockState, type HeldLock, type LockHolder } from './run-lock.js';

/** Whether a live holder's part of the inventory meets ours. */
export function overlaps(mine: SiteCoverage, other: Pick<LockHolder, 'sites' | 'shard'>): boolean {
  const sites = mine.sites === 'all' || other.sites === undefined || other.sites === 'all' || other.sites.some((s) => (mine.sites as string[]).includes(s));
  if (!sites) return false;
  if (!mine.shard || !other.shard) return true;
  const [k1, n1] = mine.shard.split('/');
  const [k2, n2] = other.shard.split('/');
  // Shards of one count split the hosts; shards of different counts share some.
  return n1 !== n2 || k1 === k2;
}

export async function acquireSiteLock(baseFile: string, mode: string, covered: SiteCoverage, onCompromised: (file: string) => (err: Error) => void): Promise<HeldLock> {
  const file = scopedLockFile(baseFile, lockScope(covered));
  const lock = await acquireLock(file, mode, onCompromised(file), { sites: covered.sites, ...(covered.shard ? { shard: covered.shard } : {}) });
  for (const other of modeLockFiles(baseFile)) {
    if (other.file === file) continue;
    const st = lockState(other.file);
    if (!st.held || !overlaps(covered, st.holder ?? {})) continue;
    await lock.release();
    throw coveringHolderError(other.file, mode, st.holder);
  }
  return lock;
}

/** The refusal (exit 75) when a live collector of another scope covers some of our hosts; SQLite and PostgreSQL word it alike. */
export function coveringHolderError(where: string, mode: string, h: LockHolder | undefined): LockHeldError {
  const what = h?.sites === undefined || h.sites === 'all' ? 'the whole inventory' : `sites ${h.sites.join(',')}${h.shard ? ` shard ${h.shard}` : ''}`;
  return new LockHeldError(`${where}: a ${h?.mode ?? mode} of ${what} is running (pid ${h?.pid ?? '?'} on ${h?.hostname ?? '?'} since ${h?.started_at ?? '?'}) and covers hosts of this one`, { ...(h ?? {}) });
}
