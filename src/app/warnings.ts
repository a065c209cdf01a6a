// Run-wide warnings: each is written to stderr once, when it first comes up, and listed in the
// status JSON's `warnings`, so cron mail and monitoring see the same things. Any part of a run
// pushes to the one collector (`warnings.add`); an identical text is the same warning.

/** More distinct warnings than this are counted, not listed: a warning per host must not grow the JSON without bound. */
const MAX_LISTED = 1_000;

export class Warnings {
  private readonly seen = new Set<string>();
  private overflow = false;

  /** `onNew` is told each new warning once (a run passes its stderr log). */
  constructor(private readonly onNew: (text: string) => void = () => {}) {}

  /** Record a warning; a text recorded before is ignored. Bound, so it can be passed as a callback. */
  readonly add = (text: string): void => {
    if (this.seen.has(text)) return;
    if (this.seen.size >= MAX_LISTED) { this.overflow = true; return; }
    this.seen.add(text);
    this.onNew(text);
  };

  /** In the order they came up; a last line says so when some were not listed. */
  list(): string[] {
    return this.overflow ? [...this.seen, `more than ${MAX_LISTED} distinct warnings: the rest are not listed`] : [...this.seen];
  }
}
