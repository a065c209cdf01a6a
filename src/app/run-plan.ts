// What a collection run will do, decided in the main thread in two steps. Before the lock: the
// collections, the inventory, this collector's part of it (sites, shard, --limit), every host's
// SSH settings and the pipeline count, so a bad file or setting stops the run (65, 64, 78) before
// it waits for or holds the lock. Under the lock, from the store: gap-fix's choice of hosts,
// the hosts whose agent reported (sapicheck) left out, the rest in dispatch order.
import { loadCollections } from '../collections/load.js';
import type { CollectionDef } from '../collections/types.js';
import type { Config } from '../config/load.js';
import { readInventory, type Inventory } from '../inventory/csv.js';
import type { InventoryHost } from '../inventory/host.js';
import { orderHosts } from '../inventory/order.js';
import { coverageLabel, normalizeSite } from '../inventory/sites.js';
import { resolveWorkers } from '../pool/host-pool.js';
import type { HostTask } from '../pool/messages.js';
import type { Awaitable, Store } from '../store/store.js';
import { InventoryError } from '../core/errors.js';
import { HostSshResolver, type HostSsh } from './host-ssh.js';
import { clampThreads, openFileLimit } from './limits.js';
import type { Log } from './log.js';
import { buildSshSettings } from './ssh-settings.js';
import { selectTargets, type Targets } from './targets.js';
import type { Warnings } from './warnings.js';

export interface PlanRequest {
  config: Config;
  inventoryFile: string;
  /** `--limit`: shell globs on the inventory's hostnames */
  limit?: string[];
  /** the pipelines asked for ([collector] or [gapfix] threads) */
  threads: number;
  log: Log;
}

export interface RunPlan {
  /** the enabled collections, sent with every host */
  collections: CollectionDef[];
  inventory: Inventory;
  /** this collector's sites and shard of the inventory, and the hosts --limit leaves of them */
  targets: Targets;
  /** what `status` files the run under: the sites (and shard), `limit`, or undefined for the whole fleet */
  scope: string | undefined;
  /** every target's SSH settings, by label */
  hostSsh: Map<string, HostSsh>;
  resolver: HostSshResolver;
  /** pipelines in flight, within the open-file limit */
  threads: number;
  /** worker threads carrying them */
  workers: number;
}

/**
 * Everything decided before the lock. Throws ConfigError (78) for the collections or SSH
 * settings, InventoryError (65) for an inventory without a usable row (in scope), UsageError (64)
 * for a --limit pattern that matches no covered host. Run-wide warnings go to `warnings`, in the
 * order they come up; each skipped inventory row is logged with its file and line.
 */
export function planRun(req: PlanRequest, warnings: Warnings): RunPlan {
  const { config, log } = req;
  const collections = loadCollections(config.collector.collconfig).filter((c) => c.enabled);
  const inventory = readInventory(req.inventoryFile, { prodStatuses: config.collector.prodStatuses });
  for (const bad of inventory.invalid) log.warn(`${inventory.file}:${bad.line}: ${bad.reason} (row skipped)`);
  // A site collector covers its sites (and shard) of the inventory; the rest is another collector's.
  // --limit narrows that to some hosts; a pattern that matches none is a typo, refused before any lock.
  const targets = selectTargets(inventory, config, req.limit);
  const { scoped, covered, scopedRun } = targets;
  for (const s of covered.unknownSites) warnings.add(`${inventory.file}: site ${JSON.stringify(s)} matches no inventory row (pop column)`);
  if (scopedRun && scoped.length === 0) throw new InventoryError(`${inventory.file}: no valid row is in ${coverageLabel(covered)}`);
  // A limited run is a scope of its own in `status` (one entry, whatever the patterns: its JSON
  // names them), so it never stands for the last full run.
  const scope = [scopedRun ? coverageLabel(covered) : undefined, req.limit?.length ? 'limit' : undefined].filter(Boolean).join(', ') || undefined;
  const resolver = new HostSshResolver(config, buildSshSettings(config, warnings.add), warnings.add);
  // Every host's SSH settings before the lock is taken: a config error (an unreadable known_hosts,
  // a bad ProxyJump) stops the run here with exit 78, not in the middle of it.
  const hostSsh = new Map(targets.hosts.map((h) => [h.label, resolver.resolve(h)]));

  const fdLimit = openFileLimit();
  const wantedWorkers = resolveWorkers(config.collector.workers);
  const threads = clampThreads(req.threads, fdLimit, wantedWorkers);
  if (threads < req.threads) warnings.add(`threads = ${req.threads} does not fit the open-file limit (ulimit -n ${fdLimit}): using ${threads}`);
  return { collections, inventory, targets, scope, hostSsh, resolver, threads, workers: Math.min(wantedWorkers, threads) };
}

/** The site keys a PostgreSQL collector locks: the sites it was given, else every pop among its hosts. */
export function siteKeys(targets: Targets): string[] {
  if (targets.covered.sites !== 'all') return targets.covered.sites;
  return [...new Set(targets.scoped.map((h) => normalizeSite(h.pop)))];
}

export interface RunQueue {
  /** the hosts this run answers for: the targets, or gap-fix's choice of them */
  mine: InventoryHost[];
  /** those of them whose agent reported recently: in the JSON's sapi list, not collected */
  sapi: Set<string>;
  /** the rest, in dispatch order */
  queue: InventoryHost[];
}

export interface QueueOptions {
  config: Config;
  /** gap-fix: which of the targets to collect (given the store); run: all */
  select?: (hosts: InventoryHost[], store: Store) => Awaitable<InventoryHost[]>;
  /** the run's start (epoch ms): the agent windows count back from it */
  now: number;
}

/** The hosts to dispatch, asked of the store under the lock (so a concurrent writer is done with them). */
export async function queueHosts(plan: RunPlan, store: Store, o: QueueOptions): Promise<RunQueue> {
  const { config } = o;
  const targets = plan.targets.hosts;
  const mine = o.select ? await o.select(targets, store) : targets;
  // sapicheck: one query for the whole run, before dispatch. A pusher without an SSH attempt
  // within [sapi] verify_every is collected all the same: no agent vouches for its host forever.
  const sapi = await store.sapiHostsSince(o.now - config.sapi.maxAgeMs, o.now - config.sapi.verifyEveryMs);
  const ordered = orderHosts(mine, config.collector.order, await store.lastSuccessByHost());
  return { mine, sapi, queue: ordered.filter((h) => !sapi.has(h.label)) };
}

/** What a worker thread needs to collect one host: plain data, the deadline included. */
export function hostTask(plan: RunPlan, h: InventoryHost, deadlineAt: number): HostTask {
  const r = plan.hostSsh.get(h.label) ?? plan.resolver.resolve(h);
  return {
    name: h.host, label: h.label, host: r.host, port: r.port, collections: plan.collections, ssh: r.ssh, deadlineAt,
    ...(r.hostKeyAlias ? { hostKeyAlias: r.hostKeyAlias } : {}),
    ...(r.jump ? { jump: r.jump } : {}),
    ...(r.proxyCommand ? { proxyCommand: r.proxyCommand } : {}),
  };
}
