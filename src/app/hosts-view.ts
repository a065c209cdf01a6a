// The hosts question: per host, the last attempt, last success, last outcome and error, narrowed by
// the filters asked most (what failed, what is stale, production only). One function for every
// face; the inventory (when the caller has one) decides which hosts are listed and in what order,
// so a host just added shows as never collected and a decommissioned one stops showing as stale.
import { compareNatural } from '../collections/parse.js';
import type { InventoryHost } from '../inventory/host.js';
import { filterHosts, inventoryHostRows, type HostFilter, type HostRow } from '../store/queries.js';
import type { Store } from '../store/store.js';

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
}

/** `hosts --format json` prints `hosts` (an array); ndjson and csv print one record a row. */
export interface HostsView {
  hosts: HostRecord[];
}

export function hostRecord(r: HostRow): HostRecord {
  return {
    host: r.name, prod: r.isProd, status: r.status, srvtype: r.srvtype, pop: r.pop,
    last_attempt_at: r.lastAttemptAt, last_success_at: r.lastSuccessAt,
    last_outcome: r.lastOutcome, last_code: r.lastCode, last_message: r.lastMessage, sapi_at: r.sapiAt,
  };
}

export async function hostsView(store: Store, req: HostsRequest = {}): Promise<HostsView> {
  const stored = await store.listHosts();
  const rows = req.inventory ? inventoryHostRows(req.inventory, stored) : stored.sort((a, b) => compareNatural(a.name, b.name));
  return { hosts: filterHosts(rows, req.filter ?? {}).map(hostRecord) };
}
