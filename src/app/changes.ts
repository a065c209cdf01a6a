// The change feed (SPEC §9), the question "what changed across the fleet since yesterday?": one
// function the CLI (and the HTTP API) call, returning a plain view. The store finds what opened
// and closed in the window; this decides the rows: a host first collected in the window is one
// `new_host` row instead of one `added` row per fact, unless the caller asks for those.
import { compareNatural } from '../collections/parse.js';
import type { ChangeQuery, ChangeRow, ChangeSlice } from '../store/changes.js';
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

/** The answer as it is made: everything but the rows up front, the rows in order, a batch at a time. */
export interface ChangesStream extends Omit<ChangesView, 'count' | 'changes'> {
  /** the rows, oldest first (a day of the window a batch): a month of a big fleet is never held */
  batches: AsyncIterable<ChangeRow[]>;
}

/**
 * Oldest first; at one instant by host (natural order), type, subtype, then the kind of change.
 * The store's slices are already oldest first and `extra` (new_host rows, or the new hosts' first
 * facts) in no order: the extra rows are sorted and merged in, and only the rows of one instant
 * (one collection's changes) are sorted among themselves, so a month is never sorted whole.
 */
async function* ordered(slices: AsyncIterable<ChangeSlice>, extra: ChangeRow[], hosts: string[]): AsyncGenerator<ChangeRow[]> {
  const rank = new Map([...hosts].sort(compareNatural).map((h, i) => [h, i]));
  const byAll = (a: ChangeRow, b: ChangeRow) => text(a.at, b.at) || rank.get(a.host)! - rank.get(b.host)!
    || text(a.type, b.type) || text(a.subtype, b.subtype) || KIND_ORDER[a.change] - KIND_ORDER[b.change];
  extra.sort(byAll);
  let j = 0;
  /** rows at or after the last piece's `complete`: their instant may go on in the next piece */
  let held: ChangeRow[] = [];
  for await (const slice of slices) {
    const feed = held.length ? held.concat(slice.rows) : slice.rows;
    const rows: ChangeRow[] = [];
    let i = 0;
    const done = (at: string) => at < slice.complete;
    while ((i < feed.length && done(feed[i]!.at)) || (j < extra.length && done(extra[j]!.at))) {
      const fromExtra = j < extra.length && done(extra[j]!.at) && (i >= feed.length || !done(feed[i]!.at) || extra[j]!.at < feed[i]!.at);
      const at = fromExtra ? extra[j]!.at : feed[i]!.at;
      const from = rows.length;
      for (; i < feed.length && feed[i]!.at === at; i++) rows.push(feed[i]!);
      for (; j < extra.length && extra[j]!.at === at; j++) rows.push(extra[j]!);
      if (rows.length - from > 1) {
        const group = rows.slice(from).sort(byAll);
        for (let k = 0; k < group.length; k++) rows[from + k] = group[k]!;
      }
    }
    held = feed.slice(i);
    if (rows.length) yield rows;
  }
  // The last piece completes the window: nothing is held, and every extra row falls inside it.
  const rest = held.concat(extra.slice(j)).sort(byAll);
  if (rest.length) yield rest;
}

/** The change feed as it is read: the CLI writes it as it comes; changesView collects it. */
export async function changesStream(store: Store, req: ChangesRequest): Promise<ChangesStream | UnknownHost> {
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
  const found = await store.factChanges(req.includeNewHosts ? { ...q, newHostFacts: true } : q);
  // A new host's first collection opened every fact it has: one new_host row stands for them,
  // unless they were asked for.
  const extra: ChangeRow[] = req.includeNewHosts ? found.newHostFacts ?? []
    : [...found.newHosts].map(([name, at]) => ({ at, change: 'new_host' as const, host: name, new: null, old: null, subtype: null, type: null }));
  const { since, until, ...filters } = q;
  return {
    since, until,
    filters: { ...filters, ...(req.includeNewHosts ? { include_new_hosts: true } : {}) },
    new_hosts: found.newHosts.size,
    batches: ordered(found.slices, extra, found.hosts),
  };
}

export async function changesView(store: Store, req: ChangesRequest): Promise<ChangesView | UnknownHost> {
  const s = await changesStream(store, req);
  if ('unknownHost' in s) return s;
  const changes: ChangeRow[] = [];
  for await (const batch of s.batches) for (const r of batch) changes.push(r);
  const { batches: _, ...rest } = s;
  return { ...rest, count: changes.length, changes };
}
