// The facts question: what one host looks like now (current intervals, grouped by type), at an
// instant (the intervals covering it), or its whole history. One function for every face; a host
// the database does not hold is part of the answer (with similar names), not an exception, as in
// the change feed.
import type { UnknownHost } from './changes.js';
import type { FactInterval } from '../store/queries.js';
import type { Store } from '../store/store.js';

export interface FactsRequest {
  type?: string;
  subtype?: string;
  /** every interval, closed ones too, oldest first */
  history?: boolean;
  /** what was true at this instant (ISO-8601 UTC) instead of now; not with history */
  at?: string;
}

/** One interval: the json element (`host` only in the flat csv/ndjson record). */
export type FactEntry = { type: string; subtype: string; value: string; first_seen: string; last_seen: string; current: boolean };
export type FactRecord = FactEntry & { host: string };

/** Exactly what `facts --format json` prints. */
export interface FactsView {
  /** as stored: the inventory's spelling (`DB7.ams` asked, `db7.ams` answered) */
  host: string;
  history: boolean;
  /** the instant asked with --at (absent: now) */
  at?: string;
  facts: FactEntry[];
}

export interface FactsAnswer {
  view: FactsView;
  /** set when nothing matched and no fact of the asked type was ever stored (a typo, most likely): the types there are */
  knownTypes?: string[];
}

export const FACT_RECORD_COLUMNS = ['host', 'type', 'subtype', 'value', 'first_seen', 'last_seen', 'current'] as const;

const entry = (f: FactInterval): FactEntry => ({ type: f.type, subtype: f.subtype, value: f.value, first_seen: f.firstSeen, last_seen: f.lastSeen, current: f.current });

/** The csv/ndjson rows: each interval with its host. */
export function factRecords(view: FactsView): FactRecord[] {
  return view.facts.map((f) => ({ host: view.host, ...f }));
}

export async function factsView(store: Store, host: string, req: FactsRequest = {}): Promise<FactsAnswer | UnknownHost> {
  const ref = await store.findHost(host);
  if (!ref) return { unknownHost: host, similar: await store.similarHosts(host) };
  const opts = {
    ...(req.type !== undefined ? { type: req.type } : {}),
    ...(req.at !== undefined ? { at: req.at } : req.history ? { history: true } : {}),
  };
  const facts = (await store.hostFacts(ref, opts)).filter((f) => req.subtype === undefined || f.subtype === req.subtype);
  // Nothing of a type no host ever had is likely a typo in --type: say so, as query does.
  const knownTypes = facts.length === 0 && req.type !== undefined && !(await store.typeExists(req.type)) ? await store.factTypes() : undefined;
  return {
    view: { host: ref.name, history: Boolean(req.history) && req.at === undefined, ...(req.at !== undefined ? { at: req.at } : {}), facts: facts.map(entry) },
    ...(knownTypes ? { knownTypes } : {}),
  };
}
