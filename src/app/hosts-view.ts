// The hosts question: per host, the last attempt, last success, last outcome and error, narrowed by
// the filters asked most (what failed, what is stale, production only). One function for every
// face; the inventory (when the caller has one) decides which hosts are listed and in what order,
// so a host just added shows as never collected and a decommissioned one stops showing as stale.
// A page (the HTTP API's limit and cursor) reads only the hosts it walks past, not 10,000 rows.
import { compareNatural } from '../collections/parse.js';
import type { InventoryHost } from '../inventory/host.js';
import { filterHosts, inventoryHostRows, type HostFilter, type HostRow } from '../store/queries.js';
import type { Store } from '../store/store.js';
import { hostNames } from './host-names.js';
import type { PagePosition, PageRequest } from './paging.js';

export const HOST_RECORD_COLUMNS = ['host', 'prod', 'status', 'srvtype', 'pop', 'last_attempt_at', 'last_success_at', 'last_outcome', 'last_code', 'last_message', 'sapi_at'] as const;
/** One host: the json element and the csv/ndjson row (a type, so it is a plain Record). */
export type HostRecord = {
  host: string; prod: boolean; status: string | null; srvtype: string | null; pop: string | null;
  last_attempt_at: string | null; last_success_at: string | null;
  last_outcome: string | null; last_code: string | null; last_message: string | null; sapi_at: string | null;
}

export interface HostsRequest {
  /** the inventory's hosts, in its order; absent = every host the database holds, in natural order */
  inventory?: InventoryHost[];
  filter?: HostFilter;
  /** only this page of the answer (the position is keyed by host name) */
  page?: PageRequest;
}

/** `hosts --format json` prints `hosts` (an array); ndjson and csv print one record a row. */
export interface HostsView {
  hosts: HostRecord[];
  /** with a page: where the next one starts, when hosts may remain */
  next?: PagePosition;
}

export function hostRecord(r: HostRow): HostRecord {
  return {
    host: r.name, prod: r.isProd, status: r.status, srvtype: r.srvtype, pop: r.pop,
    last_attempt_at: r.lastAttemptAt, last_success_at: r.lastSuccessAt,
    last_outcome: r.lastOutcome, last_code: r.lastCode, last_message: r.lastMessage, sapi_at: r.sapiAt,
  };
}

export async function hostsView(store: Store, req: HostsRequest = {}): Promise<HostsView> {
  if (req.page) return hostsPage(store, req, req.page);
  const stored = await store.listHosts();
  const rows = req.inventory ? inventoryHostRows(req.inventory, stored) : stored.sort((a, b) => compareNatural(a.name, b.name));
  return { hosts: filterHosts(rows, req.filter ?? {}).map(hostRecord) };
}

/** Hosts read per step of a filtered page's walk at most (an unfiltered page reads limit + 1 in one). */
const MAX_STEP = 2000;

/**
 * One page, in the same order and with the same rows as the whole answer: the names in order are
 * walked from the page's start, a step of hosts read at a time (`WHERE name IN`), filtered, until
 * the page is full and one more row shows whether another page follows.
 */
async function hostsPage(store: Store, req: HostsRequest, page: PageRequest): Promise<HostsView> {
  const names = req.inventory ? req.inventory.map((h) => h.label) : (await hostNames(store)).ordered;
  const filter = req.filter ?? {};
  const found: { row: HostRow; index: number }[] = [];
  let i = startOf(names, page, req.inventory === undefined);
  let step = page.limit + 1;
  while (i < names.length && found.length <= page.limit) {
    const part = names.slice(i, i + step);
    const stored = await store.hostsNamed(part);
    const rows = req.inventory
      ? inventoryHostRows(req.inventory.slice(i, i + part.length), stored).map((row, k) => ({ row, index: i + k }))
      : inOrder(part, stored, i);
    const kept = new Set(filterHosts(rows.map((r) => r.row), filter));
    found.push(...rows.filter((r) => kept.has(r.row)));
    i += part.length;
    step = Math.min(MAX_STEP, step * 2);
  }
  const shown = found.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    hosts: shown.map((f) => hostRecord(f.row)),
    ...(found.length > page.limit && last ? { next: { offset: last.index + 1, after: last.row.name } } : {}),
  };
}

/**
 * Where a page starts in `names`: after its key (a host added or dropped before it since the last
 * page changes nothing); in natural order by a binary search, so even a key no longer listed has
 * its place; in inventory order at the key, else at the offset.
 */
function startOf(names: readonly string[], page: PageRequest, natural: boolean): number {
  const { after, offset = 0 } = page;
  if (after === undefined) return offset;
  if (!natural) {
    const at = names.indexOf(after);
    return at >= 0 ? at + 1 : offset;
  }
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareNatural(names[mid] as string, after) <= 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** The stored rows of `names` (which start at `from` in the whole order), in their order, each with its place. */
function inOrder(names: readonly string[], stored: HostRow[], from: number): { row: HostRow; index: number }[] {
  const byName = new Map(stored.map((r) => [r.name, r]));
  return names.flatMap((n, k) => {
    const row = byName.get(n);
    return row ? [{ row, index: from + k }] : [];
  });
}
