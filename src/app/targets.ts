// Which inventory hosts a run or gap-fix covers (SPEC §9 targeting): its sites and shard of the
// inventory ([collector] sites/shard, --site/--shard), then the hosts its --limit globs select.
// One selection for `run`, `gap-fix` and `gap-fix --list`, so they can never disagree.
import type { Config } from '../config/load.js';
import type { Inventory } from '../inventory/csv.js';
import type { InventoryHost } from '../inventory/host.js';
import { limitHosts } from '../inventory/limit.js';
import { coverageJson, coverageLabel, isScoped, selectSites, type SiteCoverage } from '../inventory/sites.js';

export interface Targets {
  /** this collector's part of the inventory (every host without sites or shard) */
  scoped: InventoryHost[];
  covered: SiteCoverage;
  /** sites or a shard were given */
  scopedRun: boolean;
  /** the hosts to consider: `scoped`, narrowed by --limit */
  hosts: InventoryHost[];
  /** the --limit patterns, when given */
  limit?: string[];
}

/** Throws UsageError (64) for a --limit pattern that matches none of the covered hosts. */
export function selectTargets(inventory: Inventory, config: Config, limit?: string[]): Targets {
  const { hosts: scoped, covered } = selectSites(inventory.hosts, { sites: config.collector.sites, shard: config.collector.shard });
  const scopedRun = isScoped(covered);
  if (!limit?.length) return { scoped, covered, scopedRun, hosts: scoped };
  const where = scopedRun ? `${inventory.file} (${coverageLabel(covered)})` : inventory.file;
  return { scoped, covered, scopedRun, hosts: limitHosts(scoped, limit, where), limit: [...limit] };
}

/** What the outputs say of the selection: the sites (and shard) when scoped, the patterns when limited. */
export function targetsJson(t: Targets, always = false): Record<string, unknown> {
  return { ...(always || t.scopedRun ? coverageJson(t.covered) : {}), ...(t.limit ? { limit: t.limit } : {}) };
}
