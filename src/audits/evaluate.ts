// Evaluating audits on one host's current facts (pure). A host is in the first bucket, in file
// order, whose filter holds in full (every element of its AND list passes); that bucket's
// comparison decides: fail when any element fails, else pass when any passes, else exempt (the
// host lacks every compared fact, or only has empty values). A host in no bucket: `none`.
import { compareDpkg, compareRpm, versionError } from '../versions/index.js';
import type { Audit, AuditResult, Check, Condition, Verdict } from './types.js';

/**
 * One host's facts as the evaluator reads them (only the types and subtypes the audits name):
 * analyze keeps the fleet's in columns (see fleet-facts.ts), a test in plain maps (mapFacts).
 */
export interface HostFacts {
  value(type: string, subtype: string): string | undefined;
  /** every subtype of a type (for the subtype checks), or undefined when the host has none */
  subtypes(type: string): ReadonlyMap<string, string> | undefined;
}

/** Facts from plain maps: type -> subtype -> value. */
export function mapFacts(m: ReadonlyMap<string, ReadonlyMap<string, string>>): HostFacts {
  return { value: (t, s) => m.get(t)?.get(s), subtypes: (t) => m.get(t) };
}

/** Memo of version and regex answers, per check: most hosts share a handful of values. */
export type CheckMemo = WeakMap<Check, Map<string, AuditResult>>;

/**
 * The host's value of a subtype. A subtype written `name:arch` (the old `dpkg --list` spelling)
 * finds `name` when the host has no `name:arch`.
 */
export function factValue(facts: HostFacts, type: string, subtype: string): string | undefined {
  const v = facts.value(type, subtype);
  if (v !== undefined) return v;
  const colon = subtype.indexOf(':');
  return colon > 0 ? facts.value(type, subtype.slice(0, colon)) : undefined;
}

const INT = /^\s*[-+]?\d+\s*$/;

function versionHolds(c: Extract<Check, { kind: 'version' }>, v: string): AuditResult {
  // A subtype with several installed versions holds them joined with ", ": every one must satisfy.
  let out: AuditResult = 'pass';
  for (const one of v.split(', ')) {
    if (versionError(c.scheme, one)) return 'exempt';
    const cmp = c.scheme === 'dpkg' ? compareDpkg(one, c.value) : compareRpm(one, c.value);
    const ok = c.op === 'ge' ? cmp >= 0 : c.op === 'gt' ? cmp > 0 : c.op === 'le' ? cmp <= 0 : c.op === 'lt' ? cmp < 0 : cmp === 0;
    if (!ok) out = 'fail';
  }
  return out;
}

function subtypeMatches(facts: ReadonlyMap<string, string>, subtype: string, pattern: RegExp | null): boolean {
  let v = facts.get(subtype);
  if (v === undefined) {
    const colon = subtype.indexOf(':');
    if (colon > 0) v = facts.get(subtype.slice(0, colon));
  }
  return v !== undefined && (pattern === null || pattern.test(v));
}

/**
 * The subtype checks, in the meanings of the old analyze: subnonhere fails when any listed
 * subtype is present (with a value matching its pattern; `any` = any value); suballhere passes
 * only when every listed one is present and matches; subknowall fails when the host has a subtype
 * not listed, or a listed one whose value does not match its pattern. A host with no fact of the
 * type at all is exempt.
 */
function subtypesHold(c: Extract<Check, { kind: 'subtypes' }>, facts: HostFacts): AuditResult {
  const t = facts.subtypes(c.type);
  if (!t || t.size === 0) return 'exempt';
  switch (c.mode) {
    case 'subnonhere':
      return c.subtypes.some((s, i) => subtypeMatches(t, s, c.patterns[i]!)) ? 'fail' : 'pass';
    case 'suballhere':
      return c.subtypes.every((s, i) => subtypeMatches(t, s, c.patterns[i]!)) ? 'pass' : 'fail';
    case 'subknowall': {
      const listed = new Map<string, RegExp | null>();
      c.subtypes.forEach((s, i) => {
        listed.set(s, c.patterns[i]!);
        const colon = s.indexOf(':');
        if (colon > 0 && !listed.has(s.slice(0, colon))) listed.set(s.slice(0, colon), c.patterns[i]!);
      });
      for (const [sub, v] of t) {
        if (!listed.has(sub)) return 'fail';
        const p = listed.get(sub);
        if (p && !p.test(v)) return 'fail';
      }
      return 'pass';
    }
  }
}

/** One element: pass, fail, or exempt (the fact is missing or empty, or cannot be read as asked). */
export function checkHolds(c: Check, facts: HostFacts, memo?: CheckMemo): AuditResult {
  if (c.kind === 'subtypes') return subtypesHold(c, facts);
  const v = factValue(facts, c.type, c.subtype);
  if (v === undefined || v === '') return 'exempt';
  switch (c.kind) {
    case 'equal':
      return c.values.includes(v) ? 'pass' : 'fail';
    case 'int': {
      if (!INT.test(v)) return 'exempt';
      const n = Number(v);
      return (c.op === 'gt' ? n > c.value : c.op === 'lt' ? n < c.value : n === c.value) ? 'pass' : 'fail';
    }
    case 'regex':
    case 'version': {
      let m = memo?.get(c);
      const known = m?.get(v);
      if (known !== undefined) return known;
      const r: AuditResult = c.kind === 'version' ? versionHolds(c, v) : (c.regex.test(v) !== c.negate ? 'pass' : 'fail');
      if (memo) {
        if (!m) { m = new Map(); memo.set(c, m); }
        m.set(v, r);
      }
      return r;
    }
  }
}

/** A filter holds when every element passes. */
export function filterHolds(f: Condition, facts: HostFacts, memo?: CheckMemo): boolean {
  return f.checks.every((c) => checkHolds(c, facts, memo) === 'pass');
}

export function comparisonResult(c: Condition, facts: HostFacts, memo?: CheckMemo): AuditResult {
  let passed = false;
  for (const k of c.checks) {
    const r = checkHolds(k, facts, memo);
    if (r === 'fail') return 'fail';
    if (r === 'pass') passed = true;
  }
  return passed ? 'pass' : 'exempt';
}

export interface Evaluation {
  verdict: Verdict;
  /** the bucket the host fell in */
  bucket?: string;
}

/** What `audit` says of a host with these facts. */
export function evaluateAudit(audit: Audit, facts: HostFacts, memo?: CheckMemo): Evaluation {
  for (const b of audit.buckets) {
    if (filterHolds(b.filter, facts, memo)) return { verdict: comparisonResult(b.comparison, facts, memo), bucket: b.name };
  }
  return { verdict: 'none' };
}

/** The (type, subtype) pairs the audits read, and the types read whole (subtype checks). */
export function factsNeeded(audits: readonly Audit[]): { pairs: Map<string, Set<string>>; wholeTypes: Set<string> } {
  const pairs = new Map<string, Set<string>>();
  const wholeTypes = new Set<string>();
  const add = (type: string, subtype: string) => {
    let s = pairs.get(type);
    if (!s) { s = new Set(); pairs.set(type, s); }
    s.add(subtype);
    const colon = subtype.indexOf(':');
    if (colon > 0) s.add(subtype.slice(0, colon));
  };
  for (const a of audits) {
    for (const b of a.buckets) {
      for (const c of [...b.filter.checks, ...b.comparison.checks]) {
        if (c.kind === 'subtypes') wholeTypes.add(c.type);
        else add(c.type, c.subtype);
      }
    }
  }
  for (const t of wholeTypes) pairs.delete(t);
  return { pairs, wholeTypes };
}
