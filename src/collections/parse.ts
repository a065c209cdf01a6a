// A collection's output -> subtype -> value facts. Pure: no I/O, no clock, the same output always
// gives the same facts, so the parsers are tested from recorded outputs (fixtures/outputs/).
import type { CollectionDef, FactValues } from './types.js';

/** The subtype of a non-multi collection's single value. */
export const DEFAULT_SUBTYPE = 'default';

/** Joins the distinct values of a subtype seen on several lines. */
export const VALUE_JOINER = ', ';

/**
 * Natural order: runs of digits compare as numbers, so versions read oldest to newest
 * (5.14.0-70 before 5.14.0-362); plain code-unit order breaks ties so the order is total and the
 * combined value is the same for the same set on every host and every run.
 */
export function compareNatural(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const xd = /^\d/.test(x);
    const yd = /^\d/.test(y);
    if (xd && yd) {
      // Compare digit runs by value without Number(): they may exceed 2^53.
      const xs = x.replace(/^0+(?=\d)/, '');
      const ys = y.replace(/^0+(?=\d)/, '');
      if (xs.length !== ys.length) return xs.length - ys.length;
      if (xs !== ys) return xs < ys ? -1 : 1;
      continue;
    }
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** NUL cannot be stored in every database text column; U+FFFD marks where it was. */
function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\uFFFD') : text;
}

/** One multi line -> [subtype, value]; a line without the separator is a subtype with value ''. */
function splitLine(line: string, separator: string | undefined): [string, string] {
  if (separator === undefined) {
    const t = line.trim();
    const m = /\s+/.exec(t);
    return m ? [t.slice(0, m.index), t.slice(m.index + m[0].length).trim()] : [t, ''];
  }
  const at = line.indexOf(separator);
  return at < 0 ? [line.trim(), ''] : [line.slice(0, at).trim(), line.slice(at + separator.length).trim()];
}

/**
 * Non-multi: `{default: trimmed output}` (an empty output gives `{default: ''}`).
 * Multi: one fact per line, split at the first separator (default: the first run of whitespace),
 * both sides trimmed; CRLF and blank lines are fine. A subtype on several lines (RHEL keeps several
 * `kernel` packages; IPv4 and IPv6 listeners on one port) keeps every distinct value, in natural
 * order, joined with ", " (an empty value is dropped when the subtype has others). Nothing is
 * truncated.
 */
export function parseOutput(def: CollectionDef, output: string): FactValues {
  const text = withoutNul(output);
  if (!def.multi) return { [DEFAULT_SUBTYPE]: text.trim() };

  const seen = new Map<string, Set<string>>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const [subtype, value] = splitLine(line.replace(/\r$/, ''), def.separator);
    let values = seen.get(subtype);
    if (!values) seen.set(subtype, (values = new Set()));
    values.add(value);
  }
  // fromEntries defines own properties, so even a subtype named `__proto__` is kept as a fact.
  return Object.fromEntries(
    [...seen].map(([subtype, values]) => {
      if (values.size > 1) values.delete('');
      return [subtype, [...values].sort(compareNatural).join(VALUE_JOINER)];
    }),
  );
}
