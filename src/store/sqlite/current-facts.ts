// The current facts a long-lived SQLite writer (serve's) wrote last, per host and type, so a push
// that changes a few of a type's values does not read its 700 current packages again (measured:
// a third of the writer's statement time a push). It is only ever an answer SQLite would give:
// - it is dropped whenever another connection has committed since (PRAGMA data_version: a run or
//   an ingest on the same file), checked in the write transaction, which holds the write lock;
// - a write that failed (its savepoint rolled back) drops it whole;
// - current facts change only through the interval rule (prune deletes closed intervals only).
// Bounded by the facts it holds; the host and type least recently written go first.

/** A type's current facts on a host as CURRENT_OF_TYPE reads them: [id, subtype, value]. */
export type CurrentRow = readonly [number, string, string];

/** Facts held at most (about 200 bytes each with their texts: 40 MB). */
export const MAX_CACHED_FACTS = 200_000;

export class CurrentFacts {
  private readonly byKey = new Map<string, CurrentRow[]>();
  private held = 0;
  private version: unknown;

  constructor(private readonly maxFacts = MAX_CACHED_FACTS) {}

  /** Forget everything unless the database is the one last seen (`dataVersion`: PRAGMA data_version now). */
  validate(dataVersion: unknown): void {
    if (dataVersion !== this.version) this.clear();
    this.version = dataVersion;
  }

  clear(): void {
    this.byKey.clear();
    this.held = 0;
  }

  get(hostId: number, type: string): CurrentRow[] | undefined {
    return this.byKey.get(keyOf(hostId, type));
  }

  /** The rows after a write: `before` without the ids closed, with the rows opened. */
  set(hostId: number, type: string, before: readonly CurrentRow[], closed: readonly number[], opened: readonly CurrentRow[]): void {
    const key = keyOf(hostId, type);
    const gone = new Set(closed);
    const rows = before.filter((r) => !gone.has(r[0]));
    rows.push(...opened);
    this.drop(key);
    if (rows.length > this.maxFacts) return;
    this.byKey.set(key, rows);
    this.held += rows.length;
    for (const [k, v] of this.byKey) {
      if (this.held <= this.maxFacts) break;
      this.byKey.delete(k);
      this.held -= v.length;
    }
  }

  private drop(key: string): void {
    const old = this.byKey.get(key);
    if (old) {
      this.byKey.delete(key);
      this.held -= old.length;
    }
  }
}

const keyOf = (hostId: number, type: string): string => `${hostId}\u0000${type}`;
