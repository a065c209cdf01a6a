// Which inventory hosts one collector covers (pure): the sites (the inventory's `pop` column) it
// is given, then its shard of those. Operators run one collector per site, and split a large
// site into shards, so every selection must be the same on every machine and in every process.
import type { InventoryHost } from './host.js';

/** Shard `index` of `count`, 1-based as operators write it (`--shard 2/4`). */
export interface Shard {
  index: number;
  count: number;
}

/** More shards than this is a typo, not a fleet layout: one collector process runs per shard. */
export const MAX_SHARDS = 4096;

export interface SiteSelection {
  /** site names as configured; empty = every site */
  sites: readonly string[];
  shard?: Shard | undefined;
}

/** What a collector covers, for its outputs and its lock. */
export interface SiteCoverage {
  /** lower-cased, de-duplicated and sorted; 'all' when no site was named */
  sites: string[] | 'all';
  /** `K/N` when sharded */
  shard?: string;
  /** named sites that no inventory row has (the caller warns: `site "xyz" matches no inventory row`) */
  unknownSites: string[];
}

/** One site name as compared: trimmed and lower-cased (pop `AMS` is site `ams`). */
export function normalizeSite(name: string): string {
  return name.trim().toLowerCase();
}

const UTF8 = new TextEncoder();

/**
 * FNV-1a, 32 bits, over the UTF-8 bytes of `text` (http://www.isthe.com/chongo/tech/comp/fnv/).
 * Tiny, documented, and the same number on every platform and Node version; not a security hash.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of UTF8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * The finaliser of MurmurHash3 (fmix32). FNV-1a alone is weak modulo a power of two: its low k
 * bits depend only on the low k bits of each byte, so `db1`, `db3`, `db5`... all land in one of
 * 2 shards. Mixing the high bits down spreads them.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The stable hash a host is sharded by: fmix32(fnv1a32(shardKey)). Changing it would move hosts
 * between collectors, so it is fixed (the tests pin known values).
 */
export function hostHash(host: InventoryHost): number {
  return fmix32(fnv1a32(shardKey(host)));
}

/**
 * The text a host is hashed by: its host name or IP without the port, lower-cased, without a
 * trailing dot. The port is left out on purpose: a host moved to another SSH port stays with the
 * same collector (and its history with the same writer); `DB7.ams` and `db7.ams.` are one host.
 */
export function shardKey(host: InventoryHost): string {
  const h = host.host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The 1-based shard of `count` a host lands in: `hostHash % count + 1` (shard K holds hash % N === K-1). */
export function shardOf(host: InventoryHost, count: number): number {
  return (hostHash(host) % count) + 1;
}

function checkShard(shard: Shard): void {
  const { index, count } = shard;
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 1 || count < 1 || index > count || count > MAX_SHARDS) {
    // The config loader rejects these with file:line; reaching here is a bug in the caller.
    throw new RangeError(`shard ${index}/${count}: expected K/N with 1 <= K <= N <= ${MAX_SHARDS}`);
  }
}

/**
 * The hosts of the given sites (all when none is named), then those of the shard, in inventory
 * order; and what that covers. Unknown sites are reported against the whole inventory given.
 */
export function selectSites(hosts: InventoryHost[], sel: SiteSelection): { hosts: InventoryHost[]; covered: SiteCoverage } {
  const sites = [...new Set(sel.sites.map(normalizeSite).filter((s) => s !== ''))].sort();
  const wanted = new Set(sites);
  let kept = wanted.size === 0 ? hosts.slice() : hosts.filter((h) => wanted.has(normalizeSite(h.pop)));
  const present = new Set(hosts.map((h) => normalizeSite(h.pop)));
  const unknownSites = sites.filter((s) => !present.has(s));
  const covered: SiteCoverage = { sites: wanted.size === 0 ? 'all' : sites, unknownSites };
  if (sel.shard) {
    checkShard(sel.shard);
    const { index, count } = sel.shard;
    kept = kept.filter((h) => shardOf(h, count) === index);
    covered.shard = `${index}/${count}`;
  }
  return { hosts: kept, covered };
}

/** Whether a collector covers only part of the inventory (some sites, or a shard). */
export function isScoped(c: SiteCoverage): boolean {
  return c.sites !== 'all' || c.shard !== undefined;
}

/** `all sites`, `site ams`, `sites ams,fra`, `all sites, shard 2/4`: for logs and messages. */
export function coverageLabel(c: SiteCoverage): string {
  const sites = c.sites === 'all' ? 'all sites' : `${c.sites.length === 1 ? 'site' : 'sites'} ${c.sites.join(',')}`;
  return c.shard ? `${sites}, shard ${c.shard}` : sites;
}

/**
 * A stable key for the scope: `all`, `site:ams,fra`, `shard:2/4`, `site:ams/shard:1/2`. Sites are
 * sorted and lower-cased, so `--site FRA,ams` and `--site ams,fra` are one scope. It holds `:`,
 * `,` and `/`: encode it before using it in a file name.
 */
export function lockScope(c: SiteCoverage): string {
  const parts: string[] = [];
  if (c.sites !== 'all') parts.push(`site:${[...c.sites].map(normalizeSite).sort().join(',')}`);
  if (c.shard) parts.push(`shard:${c.shard}`);
  return parts.length === 0 ? 'all' : parts.join('/');
}

/** The coverage as the status JSON carries it: `{ sites: ["ams","fra"] }` or `{ sites: "all", shard: "2/4" }`. */
export function coverageJson(c: SiteCoverage): { sites: string[] | 'all'; shard?: string } {
  return { sites: c.sites === 'all' ? 'all' : [...c.sites], ...(c.shard ? { shard: c.shard } : {}) };
}
