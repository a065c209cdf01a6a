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

const text = (a: string | null, b: string | null) => { const x = a ?? ''; const y = b ?? ''; return x < y ? -1 : x > y ? 1 : 0; };

/**
 * Oldest first; at one instant by host (natural order), type, subtype, then the kind of change.
 * `ordered` is already oldest first (the store reads the feed in time order) and `extra` is in no
 * order: the extra rows are sorted and merged in, and only the rows of one instant (one
 * collection's changes) are sorted among themselves, so a month of millions of rows is never
 * sorted whole. Hosts are ranked once (millions of rows, a few thousand hosts).
 */
function sortedRows(ordered: ChangeRow[], extra: ChangeRow[]): ChangeRow[] {
  const hosts = new Set<string>();
  for (const r of ordered) hosts.add(r.host);
  for (const r of extra) hosts.add(r.host);
  const rank = new Map([...hosts].sort(compareNatural).map((h, i) => [h, i]));
  const byAll = (a: ChangeRow, b: ChangeRow) => text(a.at, b.at) || rank.get(a.host)! - rank.get(b.host)!
    || text(a.type, b.type) || text(a.subtype, b.subtype) || KIND_ORDER[a.change] - KIND_ORDER[b.change];
  extra.sort(byAll);
  const rows: ChangeRow[] = [];
  let i = 0;
  let j = 0;
  while (i < ordered.length || j < extra.length) {
    const at = j >= extra.length || (i < ordered.length && ordered[i]!.at <= extra[j]!.at) ? ordered[i]!.at : extra[j]!.at;
    const from = rows.length;
    for (; i < ordered.length && ordered[i]!.at === at; i++) rows.push(ordered[i]!);
    for (; j < extra.length && extra[j]!.at === at; j++) rows.push(extra[j]!);
    if (rows.length - from > 1) {
      const group = rows.slice(from).sort(byAll);
      for (let k = 0; k < group.length; k++) rows[from + k] = group[k]!;
    }
  }
  return rows;
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
  const { events, newHosts, newHostFacts } = await store.factChanges(req.includeNewHosts ? { ...q, newHostFacts: true } : q);
  // A new host's first collection opened every fact it has: one new_host row stands for them,
  // unless they were asked for.
  const extra: ChangeRow[] = req.includeNewHosts ? newHostFacts ?? []
    : [...newHosts].map(([name, at]) => ({ at, host: name, type: null, subtype: null, change: 'new_host' as const, old: null, new: null }));
  const rows = sortedRows(events, extra);
  const { since, until, ...filters } = q;
  return {
    since, until,
    filters: { ...filters, ...(req.includeNewHosts ? { include_new_hosts: true } : {}) },
    count: rows.length,
    new_hosts: newHosts.size,
    changes: rows,
  };
}
