// The fact-interval rule, once for every engine and for runs and pushes alike: given a type's
// current facts on a host and the values a collection saw now, which facts close, which open, and
// what the change feed says. An unchanged value stays open (only its type's last_seen moves); a
// value not seen now closes; a new or different value opens. How the rows are then read and
// written (a statement each, or arrays for many hosts at once) is the engine's.

export type FactChangeKind = 'added' | 'changed' | 'removed';

/** One change-feed row of a type's sighting: `old` is null for added, `now` for removed. */
export interface FactChange {
  subtype: string;
  change: FactChangeKind;
  old: string | null;
  now: string | null;
}

export interface IntervalDiff<Id> {
  /** the current facts (by the engine's id) not seen now: they close */
  close: Id[];
  /** subtype -> value seen now and not current: they open */
  open: Map<string, string>;
  /** what the feed records (none when the sighting is not in the feed: a host's first collection) */
  changes: FactChange[];
}

/**
 * A collection's values as stored: text (a parser bug yielding a non-string must not fail a batch
 * on NOT NULL), through the engine's `text` (PostgreSQL holds no NUL).
 */
export function seenValues(values: Record<string, string>, text: (s: string) => string = (s) => s): Map<string, string> {
  const seen = new Map<string, string>();
  for (const [k, v] of Object.entries(values)) seen.set(text(k), text(typeof v === 'string' ? v : String(v)));
  return seen;
}

/**
 * Compare a type's current facts ([id, subtype, value]; none for a type new on the host) with the
 * values seen now (seenValues; taken over: what is left in it is what opens). A value that replaces
 * a closed one of the same subtype is `changed`, else `added`; a closed subtype not seen now is
 * `removed`.
 */
export function diffCurrent<Id>(current: Iterable<readonly [Id, string, string]>, seen: Map<string, string>, feed: boolean): IntervalDiff<Id> {
  const close: Id[] = [];
  /** subtype -> value of the current facts closed */
  const closed = new Map<string, string>();
  for (const [id, subtype, value] of current) {
    if (seen.get(subtype) === value) seen.delete(subtype);
    else { close.push(id); closed.set(subtype, value); }
  }
  const changes: FactChange[] = [];
  if (feed) {
    for (const [subtype, value] of seen) {
      const old = closed.get(subtype);
      changes.push({ subtype, change: old === undefined ? 'added' : 'changed', old: old ?? null, now: value });
      closed.delete(subtype);
    }
    for (const [subtype, old] of closed) changes.push({ subtype, change: 'removed', old, now: null });
  }
  return { close, open: seen, changes };
}

/** A change-feed row as an engine writes it: the sighting's instant and host beside the change. */
export interface FeedRow extends FactChange {
  at: string;
  host: number;
  type: string;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The order change-feed rows are written in, which is the order the feed reads rows of one instant
 * in (it reads by instant, then id): instant, host id, type, subtype. Both engines sort a write's
 * rows so, so the same writes read back alike.
 */
export function feedOrder(a: FeedRow, b: FeedRow): number {
  return byCodeUnit(a.at, b.at) || a.host - b.host || byCodeUnit(a.type, b.type) || byCodeUnit(a.subtype, b.subtype);
}
