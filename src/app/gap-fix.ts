// gap-fix: the lighter daytime companion of the nightly run. It picks production hosts without a
// recent successful collection and collects only those, with fewer pipelines and its own lock,
// never the run lock (that lock keeps analysis jobs away while a full run writes).
import type { InventoryHost } from '../inventory/host.js';

/**
 * Prod hosts whose last success is older than `maxAgeMs` (or that never succeeded). A host whose
 * agent pushed within the same window has a recent result too and is left alone.
 */
export function selectGapHosts(
  hosts: InventoryHost[],
  lastSuccess: Map<string, number>,
  recentPushers: Set<string>,
  now: number,
  maxAgeMs: number,
): InventoryHost[] {
  return hosts.filter((h) => {
    if (!h.isProd || recentPushers.has(h.label)) return false;
    const last = lastSuccess.get(h.label);
    return last === undefined || last < now - maxAgeMs;
  });
}
