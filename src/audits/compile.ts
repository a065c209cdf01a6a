// One audit object as read from a file (JSON, or INI values read as Python literals) -> a checked,
// compiled Audit, or the reasons it is not one. Regular expressions are compiled once here, with
// V8's linear-time engine, so a hostile pattern can never backtrack for ever during analyze.
import v8 from 'node:v8';
import { versionError } from '../versions/index.js';
import type { PyValue } from './literal.js';
import { MATCH_TYPES, SUBTYPE_MATCHES, type Audit, type Bucket, type Check, type Condition, type MatchType } from './types.js';

/** Where the fields of one audit were written, for messages. */
export interface Lines {
  audit: number;
  /** line of a top-level key of the audit (filters, vuln-priority, ...) */
  key(name: string): number;
}

const KNOWN_KEYS = new Set([
  'vuln-name', 'vuln-short-description', 'vuln-long-description', 'vuln-primary-link', 'vuln-additional-links',
  'vuln-priority', 'filters', 'comparisons',
  // written by the old generators and tools, without meaning here
  'jellyfishversion', 'filename', 'auditts', 'now', 'weekago', 'monthago', 'quarterago', 'yearago', 'threeyearago',
]);

export class AuditInvalid extends Error {
  constructor(message: string, readonly line: number) { super(message); }
}

// ---- regular expressions ----

let linear: boolean | undefined;
/**
 * The linear-time engine (V8's `l` flag, enabled once per process): a pattern it cannot run in
 * linear time (backreferences, lookaround) is refused at load rather than risked at analyze.
 */
function linearEngine(): boolean {
  if (linear === undefined) {
    try {
      v8.setFlagsFromString('--enable-experimental-regexp-engine');
      new RegExp('a', 'l');
      linear = true;
    } catch {
      linear = false;
    }
  }
  return linear;
}

/** Nested quantifiers (`(a+)+`), the shape of catastrophic backtracking, for engines without `l`. */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]/;

/** The other case of one character, when it has a single-character one. */
function otherCase(c: string): string | undefined {
  const l = c.toLowerCase();
  const u = c.toUpperCase();
  const o = l !== c ? l : u !== c ? u : undefined;
  return o !== undefined && o.length === 1 && o.toLowerCase() === l ? o : undefined;
}

/** Where the escape at `i` (a backslash) ends: `\xHH`, `\uHHHH`, `\cX`, else the backslash and one character. */
function escapeEnd(p: string, i: number): number {
  const c = p[i + 1];
  return Math.min(p.length, i + (c === 'x' ? 4 : c === 'u' ? 6 : c === 'c' ? 3 : 2));
}

/** The other case of the letter an escape spells (`\x41`: `a`), if it is one. */
function escapedOtherCase(e: string): string | undefined {
  const hex = /^\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4}))$/.exec(e);
  return hex ? otherCase(String.fromCharCode(parseInt(hex[1] ?? hex[2]!, 16))) : undefined;
}

/**
 * `p` with every letter matching either case (`a` -> `[aA]`, `[a-f]` -> `[a-fA-F]`): what the
 * `i` flag does, for the linear-time engine, which has no `i`. Escapes (`\d`, `\W`, `\x4A`) and
 * group names are kept as written.
 */
export function foldCase(p: string): string {
  let out = '';
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === '\\') {
      const e = escapeEnd(p, i);
      const o = escapedOtherCase(p.slice(i, e));
      out += o ? `[${p.slice(i, e)}${o}]` : p.slice(i, e);
      i = e;
    } else if (c === '(' && p.startsWith('(?<', i) && p[i + 3] !== '=' && p[i + 3] !== '!') {
      const e = p.indexOf('>', i);
      const end = e < 0 ? p.length : e + 1;
      out += p.slice(i, end);
      i = end;
    } else if (c === '[') {
      let j = i + 1;
      let body = '[';
      if (p[j] === '^') { body += '^'; j++; }
      const extra: string[] = [];
      while (j < p.length && p[j] !== ']') {
        let a: string;
        let aEnd: number;
        if (p[j] === '\\') { aEnd = escapeEnd(p, j); a = p.slice(j, aEnd); } else { a = p[j]!; aEnd = j + 1; }
        if (p[aEnd] === '-' && aEnd + 1 < p.length && p[aEnd + 1] !== ']') {
          let b: string;
          let bEnd: number;
          if (p[aEnd + 1] === '\\') { bEnd = escapeEnd(p, aEnd + 1); b = p.slice(aEnd + 1, bEnd); } else { b = p[aEnd + 1]!; bEnd = aEnd + 2; }
          body += `${a}-${b}`;
          const oa = a.length === 1 ? otherCase(a) : undefined;
          const ob = b.length === 1 ? otherCase(b) : undefined;
          // Only a range within one case of the ASCII letters has a range of the other case.
          if (oa && ob && /^[a-z]$/.test(a) === /^[a-z]$/.test(b) && /^[A-Za-z]{2}$/.test(a + b)) extra.push(`${oa}-${ob}`);
          j = bEnd;
        } else {
          body += a;
          const o = a.length === 1 ? otherCase(a) : escapedOtherCase(a);
          if (o) extra.push(o);
          j = aEnd;
        }
      }
      out += `${body}${extra.join('')}]`;
      i = j + 1;
    } else {
      const o = otherCase(c);
      out += o ? `[${c}${o}]` : c;
      i++;
    }
  }
  return out;
}

/** A Python `re` pattern as a JS RegExp: `(?P<n>` named groups, leading `(?i)` style flags, `\A` and `\Z`. */
export function compilePattern(pattern: string): RegExp {
  let p = pattern;
  let flags = '';
  const inline = /^\(\?([aiLmsux]+)\)/.exec(p);
  if (inline) {
    for (const f of inline[1]!) {
      if (f === 'i' || f === 'm' || f === 's') flags += flags.includes(f) ? '' : f;
    }
    p = p.slice(inline[0].length);
  }
  p = p.replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>').replace(/\\A/g, '^').replace(/\\Z/g, '$');
  if (/\(\?P=/.test(p)) throw new Error('backreferences are not supported (they cannot be matched in linear time)');
  // The linear engine has no case-insensitive mode: a case-insensitive pattern runs there with
  // both cases of every letter spelled out. Without the linear engine, the ordinary one runs it,
  // refused when it nests quantifiers.
  if (linearEngine()) {
    try {
      if (!flags.includes('i')) return new RegExp(p, flags + 'l');
      new RegExp(p, flags); // only compiled, never run: a syntax error names the pattern as written
      return new RegExp(foldCase(p), flags.replace('i', '') + 'l');
    } catch (e) {
      const msg = (e as Error).message;
      if (/linear time/.test(msg)) throw new Error('backreferences and lookaround are not supported (they cannot be matched in linear time)');
      throw new Error(msg.replace(/^Invalid regular expression: /, ''));
    }
  }
  if (NESTED_QUANTIFIER.test(p)) throw new Error('a quantified group that holds a quantifier (such as (a+)+) can take exponential time: refused');
  try {
    return new RegExp(p, flags);
  } catch (e) {
    throw new Error((e as Error).message.replace(/^Invalid regular expression: /, ''));
  }
}

// ---- conditions ----

function asList(v: PyValue | undefined): PyValue[] {
  return Array.isArray(v) ? v : [v ?? null];
}

function scalarText(v: PyValue, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`${what} must be a string or a number, not ${v === null ? 'None' : Array.isArray(v) ? 'a list' : 'a dict'}`);
}

function commaList(v: PyValue, what: string): string[] {
  const items = Array.isArray(v) ? v.map((x) => scalarText(x, what)) : scalarText(v, what).split(',');
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

const VERSION_OPS: Record<string, 'ge' | 'gt' | 'le' | 'lt' | 'eq'> = { ge: 'ge', gt: 'gt', le: 'le', lt: 'lt', eq: 'eq' };

function compileCheck(match: MatchType, type: string, subtypeRaw: PyValue, valueRaw: PyValue, what: string): Check {
  if (SUBTYPE_MATCHES.has(match)) {
    const subtypes = commaList(subtypeRaw, `${what} subtype`);
    if (subtypes.length === 0) throw new Error(`${what}: ${match} needs at least one subtype`);
    const texts = commaList(valueRaw, `${what} value`);
    if (texts.length !== subtypes.length && texts.length !== 1) {
      throw new Error(`${what}: ${subtypes.length} subtypes but ${texts.length} match values (give one per subtype, or one for all)`);
    }
    const patterns = subtypes.map((_, i) => {
      const t = texts.length === 1 ? texts[0]! : texts[i]!;
      return t === 'any' ? null : compilePattern(t);
    });
    return { kind: 'subtypes', type, mode: match as 'subnonhere', subtypes, patterns };
  }
  const subtype = scalarText(subtypeRaw, `${what} subtype`);
  if (match === 'is' || match === 'aptis') {
    const values = Array.isArray(valueRaw) ? valueRaw.map((x) => scalarText(x, `${what} value`)) : [scalarText(valueRaw, `${what} value`)];
    return { kind: 'equal', type, subtype, values };
  }
  const value = scalarText(valueRaw, `${what} value`);
  if (match === 'match' || match === 'aptmatch' || match === 'nematch') {
    try {
      return { kind: 'regex', type, subtype, regex: compilePattern(value), negate: match === 'nematch' };
    } catch (e) {
      throw new Error(`${what}: bad regular expression ${JSON.stringify(value)}: ${(e as Error).message}`);
    }
  }
  if (match === 'gt' || match === 'lt' || match === 'eq') {
    if (!/^\s*[-+]?\d+\s*$/.test(value)) throw new Error(`${what}: ${match} compares integers, and ${JSON.stringify(value)} is not one`);
    return { kind: 'int', type, subtype, op: match, value: Number(value) };
  }
  const scheme = match.startsWith('apt') ? 'dpkg' : 'rpm';
  const op = VERSION_OPS[match.slice(3)]!;
  const err = versionError(scheme, value);
  if (err) throw new Error(`${what}: ${JSON.stringify(value)} is not a ${scheme} version: ${err}`);
  return { kind: 'version', type, subtype, scheme, op, value };
}

function compileCondition(raw: PyValue, prefix: 'filter' | 'comparison', where: string): Condition {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where} must be a dict`);
  const get = (k: string) => raw[`${prefix}-${k}`];
  const match = get('match');
  if (typeof match !== 'string' || !(MATCH_TYPES as readonly string[]).includes(match)) {
    throw new Error(`${where}: ${prefix}-match ${match === undefined ? 'is missing' : `${JSON.stringify(match)} is not a known match type`} (one of ${MATCH_TYPES.join(', ')})`);
  }
  for (const k of ['collection-type', 'collection-subtype', 'match-value']) {
    if (get(k) === undefined) throw new Error(`${where}: ${prefix}-${k} is missing`);
  }
  const types = asList(get('collection-type'));
  const subtypes = asList(get('collection-subtype'));
  let values = asList(get('match-value'));
  // `is` with one fact and a list of values means "one of them".
  if ((match === 'is' || match === 'aptis') && types.length === 1 && subtypes.length === 1 && values.length > 1) values = [values];
  if (types.length !== subtypes.length || types.length !== values.length) {
    throw new Error(`${where}: ${prefix}-collection-type, -collection-subtype and -match-value must be lists of one length (they have ${types.length}, ${subtypes.length} and ${values.length})`);
  }
  if (types.length === 0) throw new Error(`${where}: the lists are empty`);
  const checks = types.map((t, i) => compileCheck(match as MatchType, scalarText(t, `${where} type`), subtypes[i]!, values[i]!, types.length > 1 ? `${where} item ${i + 1}` : where));
  return { match: match as MatchType, checks };
}

function text(v: PyValue | undefined, key: string, fallback: string): string {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new Error(`${key} must be a string`);
}

/**
 * The audit `name`, or AuditInvalid naming the line. `warn` gets keys that are not part of the
 * format (kept out, as the old loader kept them out).
 */
export function compileAudit(name: string, raw: PyValue, file: string, lines: Lines, warn: (line: number, message: string) => void): Audit {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new AuditInvalid('an audit must be a dict of its fields', lines.audit);
  const field = <T>(key: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof AuditInvalid) throw e;
      throw new AuditInvalid((e as Error).message, lines.key(key));
    }
  };
  for (const k of Object.keys(raw)) if (!KNOWN_KEYS.has(k)) warn(lines.key(k), `unknown key ${JSON.stringify(k)} ignored`);
  const priority = field('vuln-priority', () => {
    const p = raw['vuln-priority'];
    if (p === undefined || p === null) return 5;
    const n = typeof p === 'string' && /^\s*\d+\s*$/.test(p) ? Number(p) : p;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 10) throw new Error(`vuln-priority must be a whole number from 0 to 10, not ${JSON.stringify(p)}`);
    return n;
  });
  const links = field('vuln-additional-links', () => {
    const l = raw['vuln-additional-links'];
    if (l === undefined || l === null) return {};
    if (typeof l !== 'object' || Array.isArray(l)) throw new Error('vuln-additional-links must be a dict of description -> link');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(l)) out[k] = scalarText(v, `vuln-additional-links ${JSON.stringify(k)}`);
    return out;
  });
  const filters = raw.filters;
  const comparisons = raw.comparisons;
  const buckets = field('filters', () => {
    if (filters === undefined) throw new Error('filters is missing');
    if (filters === null || typeof filters !== 'object' || Array.isArray(filters)) throw new Error('filters must be a dict of bucket -> filter');
    if (Object.keys(filters).length === 0) throw new Error('filters has no bucket');
    return Object.keys(filters);
  });
  const compared = field('comparisons', () => {
    if (comparisons === undefined) throw new Error('comparisons is missing');
    if (comparisons === null || typeof comparisons !== 'object' || Array.isArray(comparisons)) throw new Error('comparisons must be a dict of bucket -> comparison');
    const missing = buckets.filter((b) => !(b in comparisons));
    if (missing.length) throw new Error(`bucket ${missing.map((b) => JSON.stringify(b)).join(', ')} has a filter but no comparison`);
    return comparisons;
  });
  for (const b of Object.keys(compared)) if (!buckets.includes(b)) warn(lines.key('comparisons'), `bucket ${JSON.stringify(b)} has a comparison but no filter: never used`);
  const out: Bucket[] = buckets.map((b) => {
    const filter = field('filters', () => compileCondition((filters as Record<string, PyValue>)[b]!, 'filter', `filter of bucket ${JSON.stringify(b)}`));
    const comparison = field('comparisons', () => compileCondition(compared[b]!, 'comparison', `comparison of bucket ${JSON.stringify(b)}`));
    return { name: b, filter, comparison, filterKey: conditionKey(filter) };
  });
  return {
    name, file, line: lines.audit,
    vulnName: field('vuln-name', () => text(raw['vuln-name'], 'vuln-name', name)),
    priority,
    shortDescription: field('vuln-short-description', () => text(raw['vuln-short-description'], 'vuln-short-description', '')),
    longDescription: field('vuln-long-description', () => text(raw['vuln-long-description'], 'vuln-long-description', '')),
    primaryLink: field('vuln-primary-link', () => text(raw['vuln-primary-link'], 'vuln-primary-link', '')),
    links,
    buckets: out,
  };
}

/** A canonical text of a condition (equal texts: the same condition). */
export function conditionKey(c: Condition): string {
  return JSON.stringify([c.match, c.checks.map((k) => {
    switch (k.kind) {
      case 'equal': return [k.type, k.subtype, k.values];
      case 'regex': return [k.type, k.subtype, k.regex.source, k.regex.flags, k.negate];
      case 'int': return [k.type, k.subtype, k.op, k.value];
      case 'version': return [k.type, k.subtype, k.scheme, k.op, k.value];
      case 'subtypes': return [k.type, k.mode, k.subtypes, k.patterns.map((p) => (p ? `${p.source}/${p.flags}` : null))];
    }
  })]);
}
