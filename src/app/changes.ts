// The change feed (SPEC §9), the question "what changed across the fleet since yesterday?": one
// function the CLI (and the HTTP API) call, returning a plain view. The store finds what opened
// and closed in the window; this decides the rows: a host first collected in the window is one
// `new_host` row instead of one `added` row per fact, unless the caller asks for those.
import { compareNatural } from '../collections/parse.js';
import type { ChangeQuery, ChangeRow } from '../store/changes.js';
import type { Store } from '../store/store.js';

/** The store's filters, with the window as epoch ms and --host as the operator wrote it. */
export interface ChangesRequest extends Omit<ChangeQuery, 'since' | 'until'> {
  /** window, epoch ms: since inclusive, until exclusive */
  since: number;
  until: number;
  /** report a new host's first facts as `added` rows instead of one `new_host` row */
  includeNewHosts?: boolean;
}

export interface ChangesView {
  since: string;
  until: string;
  /** the filters as given (absent ones left out) */
  filters: Record<string, unknown>;
  count: number;
  new_hosts: number;
  changes: ChangeRow[];
}

/** The host named in --host is not in the database: its similar names, for the message. */
export interface UnknownHost {
  unknownHost: string;
  similar: string[];
}

const KIND_ORDER: Record<ChangeRow['change'], number> = { new_host: 0, removed: 1, changed: 2, added: 3 };

/**
 * Oldest first; at one instant by host (natural order), type, subtype, then the kind of change.
 * Hosts are ranked once (a window can hold millions of rows and a few thousand hosts).
 */
function sortRows(rows: ChangeRow[]): void {
  const rank = new Map([...new Set(rows.map((r) => r.host))].sort(compareNatural).map((h, i) => [h, i]));
  const text = (a: string | null, b: string | null) => { const x = a ?? ''; const y = b ?? ''; return x < y ? -1 : x > y ? 1 : 0; };
  rows.sort((a, b) => text(a.at, b.at) || rank.get(a.host)! - rank.get(b.host)!
    || text(a.type, b.type) || text(a.subtype, b.subtype) || KIND_ORDER[a.change] - KIND_ORDER[b.change]);
}

export async function changesView(store: Store, req: ChangesRequest): Promise<ChangesView | UnknownHost> {
  let host: string | undefined;
  if (req.host !== undefined) {
    const ref = await store.findHost(req.host);
    if (!ref) return { unknownHost: req.host, similar: await store.similarHosts(req.host) };
    host = ref.name;
  }
  const q: ChangeQuery = {
    since: new Date(req.since).toISOString(),
    until: new Date(req.until).toISOString(),
    ...(req.type !== undefined ? { type: req.type } : {}),
    ...(req.subtype !== undefined ? { subtype: req.subtype } : {}),
    ...(host !== undefined ? { host } : {}),
    ...(req.sites?.length ? { sites: req.sites } : {}),
    ...(req.srvtypes?.length ? { srvtypes: req.srvtypes } : {}),
    ...(req.prod ? { prod: true } : {}),
  };
  const { events, newHosts } = await store.factChanges(q);
  // A new host's first collection opened every fact it has: those rows fold into one.
  const rows = req.includeNewHosts ? events : events.filter((e) => !(e.change === 'added' && newHosts.get(e.host) === e.at));
  if (!req.includeNewHosts) {
    for (const [name, at] of newHosts) rows.push({ at, host: name, type: null, subtype: null, change: 'new_host', old: null, new: null });
  }
  sortRows(rows);
  const { since, until, ...filters } = q;
  return {
    since, until,
    filters: { ...filters, ...(req.includeNewHosts ? { include_new_hosts: true } : {}) },
    count: rows.length,
    new_hosts: newHosts.size,
    changes: rows,
  };
}
