// gap-fix: the lighter daytime companion of the nightly run. It picks production hosts without a
// recent successful collection and collects only those, with fewer pipelines and its own lock,
// never the run lock (that lock keeps analysis jobs away while a full run writes).
import type { Config } from '../config/load.js';
import type { InventoryHost } from '../inventory/host.js';
import type { Store } from '../store/store.js';

export interface Pushers {
  /** hosts whose agent pushed within the window */
  pushed: Set<string>;
  /** those of them that also had an SSH attempt within [sapi] verify_every */
  vouched: Set<string>;
}

/**
 * Prod hosts whose last success is older than `maxAgeMs` (or that never succeeded). A host whose
 * agent pushed within the same window has a recent result too and is left alone, unless it had
 * no SSH attempt within [sapi] verify_every: then it is due one, so an agent cannot vouch for its
 * host forever.
 */
export function selectGapHosts(hosts: InventoryHost[], lastSuccess: Map<string, number>, pushers: Pushers, now: number, maxAgeMs: number): InventoryHost[] {
  return hosts.filter((h) => {
    if (!h.isProd || pushers.vouched.has(h.label)) return false;
    if (pushers.pushed.has(h.label)) return true;
    const last = lastSuccess.get(h.label);
    return last === undefined || last < now - maxAgeMs;
  });
}

/** The gap hosts among `hosts`, asked of the store (gap-fix --list and gap-fix itself). */
export async function findGapHosts(hosts: InventoryHost[], store: Store, config: Config, now = Date.now()): Promise<InventoryHost[]> {
  const since = now - config.gapfix.maxAgeMs;
  const pushers = { pushed: await store.sapiHostsSince(since), vouched: await store.sapiHostsSince(since, now - config.sapi.verifyEveryMs) };
  return selectGapHosts(hosts, await store.lastSuccessByHost(), pushers, now, config.gapfix.maxAgeMs);
}
