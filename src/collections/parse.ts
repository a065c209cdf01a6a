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
  // A scan over both texts, token by token (runs of ASCII digits, runs of anything else), without
  // building the tokens: sorting 10,000 host names calls this 140,000 times.
  const la = a.length;
  const lb = b.length;
  let i = 0;
  let j = 0;
  while (i < la && j < lb) {
    const ad = isDigit(a.charCodeAt(i));
    const bd = isDigit(b.charCodeAt(j));
    let ie = i + 1;
    while (ie < la && isDigit(a.charCodeAt(ie)) === ad) ie++;
    let je = j + 1;
    while (je < lb && isDigit(b.charCodeAt(je)) === bd) je++;
    if (ad && bd) {
      // Digit runs by value, without Number() (they may exceed 2^53): leading zeros off, then
      // the longer run is the larger number, then digit by digit.
      let is = i;
      while (is < ie - 1 && a.charCodeAt(is) === 48) is++;
      let js = j;
      while (js < je - 1 && b.charCodeAt(js) === 48) js++;
      if (ie - is !== je - js) return (ie - is) - (je - js);
      for (let k = 0; k < ie - is; k++) {
        const d = a.charCodeAt(is + k) - b.charCodeAt(js + k);
        if (d !== 0) return d < 0 ? -1 : 1;
      }
    } else {
      // Other runs (or a digit run against another kind) in plain code-unit order.
      const n = Math.min(ie - i, je - j);
      for (let k = 0; k < n; k++) {
        const d = a.charCodeAt(i + k) - b.charCodeAt(j + k);
        if (d !== 0) return d < 0 ? -1 : 1;
      }
      if (ie - i !== je - j) return ie - i < je - j ? -1 : 1;
    }
    i = ie;
    j = je;
  }
  const rest = tokensFrom(a, i) - tokensFrom(b, j);
  if (rest !== 0) return rest;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** How many digit and non-digit runs `s` has from `at` on. */
function tokensFrom(s: string, at: number): number {
  let n = 0;
  for (let k = at; k < s.length; k++) if (k === at || isDigit(s.charCodeAt(k)) !== isDigit(s.charCodeAt(k - 1))) n++;
  return n;
}

/** NUL cannot be stored in every database text column; U+FFFD marks where it was. */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\uFFFD') : text;
}

/** One multi line -> [subtype, value]; a line without the separator is a subtype with value ''. */
function splitLine(line: string, separator: string): [string, string] {
  const at = line.indexOf(separator);
  return at < 0 ? [line.trim(), ''] : [line.slice(0, at).trim(), line.slice(at + separator.length).trim()];
}

const SPACE = /\s/;
/**
 * Whether a UTF-16 code unit is white space as `String.prototype.trim` and `/\s/` see it (the
 * two agree): ASCII tests inline, anything else asks the regex (no astral character is space).
 */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || (c > 127 && SPACE.test(String.fromCharCode(c)));
}

/** Every value of one subtype: the first as a plain string, a Set only once a second one differs. */
type Seen = Map<string, string | Set<string>>;

function addValue(seen: Seen, subtype: string, value: string): void {
  const prev = seen.get(subtype);
  if (prev === undefined) seen.set(subtype, value);
  else if (typeof prev === 'string') { if (prev !== value) seen.set(subtype, new Set([prev, value])); }
  else prev.add(value);
}

/**
 * Non-multi: `{default: trimmed output}` (an empty output gives `{default: ''}`).
 * Multi: one fact per line, split at the first separator (default: the first run of whitespace),
 * both sides trimmed; CRLF and blank lines are fine. A subtype on several lines (RHEL keeps several
 * `kernel` packages; IPv4 and IPv6 listeners on one port) keeps every distinct value, in natural
 * order, joined with ", " (an empty value is dropped when the subtype has others). Nothing is
 * truncated: an output of more than `maxFacts` subtypes gives undefined (the collection fails
 * with FACT_CAP) rather than part of its facts, and parsing stops there, so a host cannot make
 * the collector hold millions of facts.
 *
 * This runs for every collection of every host (~900 lines a host for the shipped set), in the
 * thread that also does the SSH work, so the default-separator case scans each line once by
 * hand instead of trimming, matching and slicing it several times over.
 */
export function parseOutput(def: CollectionDef, output: string, maxFacts = Infinity): FactValues | undefined {
  const text = withoutNul(output);
  if (!def.multi) return { [DEFAULT_SUBTYPE]: text.trim() };

  const seen: Seen = new Map();
  const separator = def.separator;
  if (separator === undefined) {
    // Split at '\n' only: a '\r' left at a line's end (CRLF) is white space, trimmed like any other.
    let from = 0;
    const n = text.length;
    while (from <= n) {
      let nl = text.indexOf('\n', from);
      if (nl < 0) nl = n;
      let s = from;
      let e = nl;
      from = nl + 1;
      while (s < e && isSpace(text.charCodeAt(s))) s++;
      if (s === e) continue; // a blank line
      while (isSpace(text.charCodeAt(e - 1))) e--;
      let k = s;
      while (k < e && !isSpace(text.charCodeAt(k))) k++;
      let v = k;
      while (v < e && isSpace(text.charCodeAt(v))) v++;
      addValue(seen, text.slice(s, k), text.slice(v, e));
      if (seen.size > maxFacts) return undefined;
    }
  } else {
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const [subtype, value] = splitLine(line.replace(/\r$/, ''), separator);
      addValue(seen, subtype, value);
      if (seen.size > maxFacts) return undefined;
    }
  }
  const facts = manyKeysObject();
  for (const [subtype, values] of seen) {
    let value: string;
    if (typeof values === 'string') value = values;
    else {
      values.delete('');
      value = [...values].sort(compareNatural).join(VALUE_JOINER);
    }
    // Defined, not assigned: even a subtype named `__proto__` is kept as an own property, a fact.
    if (subtype === '__proto__') Object.defineProperty(facts, subtype, { value, enumerable: true, writable: true, configurable: true });
    else facts[subtype] = value;
  }
  return facts;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** parseOutput of a collection's raw output bytes: invalid UTF-8 becomes U+FFFD. */
export function parseBytes(def: CollectionDef, output: Buffer, maxFacts = Infinity): FactValues | undefined {
  return parseOutput(def, utf8.decode(output), maxFacts);
}

/**
 * An empty plain object ready for many keys. V8 gives an object literal a new hidden class for
 * every property added, ~0.25 µs each past a few hundred (a host's 715 packages: most of this
 * parser's time); an object put in dictionary mode first (one property added and deleted) takes
 * them at ~0.05 µs. It is still an ordinary object: same prototype, same key order.
 */
function manyKeysObject(): FactValues {
  const o: FactValues = { dictionary: '' };
  delete o.dictionary;
  return o;
}
