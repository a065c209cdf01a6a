// Paging a read answer (the HTTP API's `limit` and `cursor`): the core functions compute only the
// page asked for, and say where the next one starts. A position is the offset in the answer's
// order and, where the answer is keyed by host, the last host shown: a host added before that
// point since the previous page moves the offset, not the key, so the next page neither repeats
// nor skips a host.

export interface PagePosition {
  offset: number;
  /** the key of the last row shown (a host name), when the answer has one */
  after?: string;
}

export interface PageRequest extends Partial<PagePosition> {
  limit: number;
}

/** `rows` from `start`, at most `limit` of them, and where the next page starts when rows remain. */
export function pageOf<T>(rows: readonly T[], page: PageRequest | undefined): { rows: T[]; next?: PagePosition } {
  if (!page) return { rows: [...rows] };
  const start = page.offset ?? 0;
  const end = start + page.limit;
  return { rows: rows.slice(start, end), ...(end < rows.length ? { next: { offset: end } } : {}) };
}
