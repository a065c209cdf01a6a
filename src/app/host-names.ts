// Every stored host's name by id and in natural order, kept per store handle until a host is
// added (hosts are never renamed or deleted; store.hostsMark tells when one was added). A page of
// hosts or of a query walks or sorts by it instead of reading and sorting 10,000 names each time.
import { compareNatural } from '../collections/parse.js';
import type { Store } from '../store/store.js';

export interface HostNames {
  /** every name, in natural order (web2 before web10) */
  ordered: string[];
  byId: Map<number, string>;
  /** id -> place in `ordered` */
  rank: Map<number, number>;
}

const kept = new WeakMap<Store, { mark: string; names: HostNames }>();

/** The store's hosts; read again when a host was added, or when `need` holds an id not known yet. */
export async function hostNames(store: Store, need: Iterable<number> = []): Promise<HostNames> {
  const mark = await store.hostsMark();
  const k = kept.get(store);
  if (k?.mark === mark && knowsAll(k.names, need)) return k.names;
  const rows = (await store.hostNames()).sort((a, b) => compareNatural(a[1], b[1]));
  const names: HostNames = { ordered: rows.map((r) => r[1]), byId: new Map(rows), rank: new Map(rows.map((r, i) => [r[0], i])) };
  kept.set(store, { mark, names });
  return names;
}

function knowsAll(names: HostNames, ids: Iterable<number>): boolean {
  for (const id of ids) if (!names.byId.has(id)) return false;
  return true;
}
