// The fleet's current facts for one analyze, in columns: per (type, subtype) one Int32Array over
// the fresh hosts holding an id into one table of distinct values. 10,000 hosts x 600 package
// subtypes is 6 million cells of 4 bytes, where a Map per host took about 40 bytes a fact (and
// most of a gigabyte). Types read whole (the subtype checks) keep a map per host: they are small.
import type { HostFacts } from './evaluate.js';

export class FleetFacts implements HostFacts {
  private readonly values: string[] = [''];
  private readonly valueIds = new Map<string, number>();
  private readonly columns = new Map<string, Map<string, Int32Array>>();
  private readonly whole = new Map<string, Map<number, Map<string, string>>>();
  /** the host the evaluator reads: set before evaluating it */
  host = 0;

  constructor(private readonly hostCount: number, wholeTypes: Iterable<string>) {
    for (const t of wholeTypes) this.whole.set(t, new Map());
  }

  private id(value: string): number {
    let id = this.valueIds.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.valueIds.set(value, id);
    }
    return id;
  }

  set(host: number, type: string, subtype: string, value: string): void {
    const w = this.whole.get(type);
    if (w) {
      let m = w.get(host);
      if (!m) { m = new Map(); w.set(host, m); }
      m.set(subtype, value);
      return;
    }
    let t = this.columns.get(type);
    if (!t) { t = new Map(); this.columns.set(type, t); }
    let col = t.get(subtype);
    if (!col) { col = new Int32Array(this.hostCount); t.set(subtype, col); }
    col[host] = this.id(value);
  }

  value(type: string, subtype: string): string | undefined {
    const w = this.whole.get(type);
    if (w) return w.get(this.host)?.get(subtype);
    const id = this.columns.get(type)?.get(subtype)?.[this.host] ?? 0;
    return id === 0 ? undefined : this.values[id];
  }

  subtypes(type: string): ReadonlyMap<string, string> | undefined {
    const w = this.whole.get(type);
    if (w) return w.get(this.host);
    const t = this.columns.get(type);
    if (!t) return undefined;
    // A type read in columns, asked whole: rebuilt for this host (not the usual path).
    const out = new Map<string, string>();
    for (const [sub, col] of t) if (col[this.host]) out.set(sub, this.values[col[this.host]!]!);
    return out;
  }
}
