// OSV advisories (https://ossf.github.io/osv-schema/) -> one audit file per advisory, one audit per
// package in it, one bucket per release (ecosystem). Pure: a parsed document in, audit files,
// skips and errors out through the sink.
import { compareVersions } from '../versions/index.js';
import {
  buildAudit, cleanText, DEFAULT_PRIORITY, ecosystemTarget, fixedVersionError, packageNameError, priorityOfWord, safeUrl, unfixedIn,
  type AuditJson, type Bucket, type Target, type Verdict,
} from './audit.js';
import { cvss3BaseScore } from './cvss.js';
import { isObject, jsonPath, keepAudit, type FeedOptions, type FeedSink } from './feed-types.js';

/** OSV ids: DSA-5532-1, USN-6500-1, DEBIAN-CVE-2024-1234, RHSA-2024:1234, ALSA-2024:1234. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const MAX_LINKS = 50;
const MAX_TEXT = 20_000;

/** The priority (0-10) a severity entry or word gives, else undefined. */
function priorityOf(value: unknown): number | undefined {
  if (typeof value === 'string') return priorityOfWord(value);
  if (!isObject(value)) return undefined;
  if (typeof value.score === 'string') {
    if (value.type === 'CVSS_V3') {
      const score = cvss3BaseScore(value.score);
      return score === undefined ? undefined : Math.round(score);
    }
    // Ubuntu's records carry its own priority word (negligible, low, medium, high, critical).
    return priorityOfWord(value.score);
  }
  return undefined;
}

/** The highest priority anything in `sources` gives: severity lists, `severity`/`urgency`/`priority` words. */
function highestPriority(sources: unknown[]): number | undefined {
  let best: number | undefined;
  const consider = (p: number | undefined) => { if (p !== undefined) best = Math.max(best ?? 0, p); };
  for (const s of sources) {
    if (Array.isArray(s)) for (const e of s) consider(priorityOf(e));
    else if (isObject(s)) for (const k of ['severity', 'urgency', 'priority']) consider(priorityOf(s[k]));
  }
  return best;
}

type RangeResult = { verdict: Verdict } | { error: string; path: (string | number)[] } | { skip: 'no-ecosystem-range' };

/**
 * ECOSYSTEM ranges -> one verdict. A range still open at its end (introduced with no later
 * fixed), or ending in last_affected (no fixed version named), makes the package unfixed there;
 * otherwise the highest fixed version of all ranges is what hosts must reach. (Distribution
 * packages have one line per release, so several ranges are rare; the highest fixed version is
 * the conservative choice: it may fail a host between two ranges, never pass a vulnerable one.)
 */
function rangesVerdict(ranges: unknown, target: Target): RangeResult {
  // `versions` alone (no ranges) lists affected versions but names no fix: nothing to compare.
  if (ranges === undefined) return { skip: 'no-ecosystem-range' };
  if (!Array.isArray(ranges)) return { error: 'expected a list of ranges', path: ['ranges'] };
  let open = false;
  let fixed: string | undefined;
  let any = false;
  for (const [r, range] of ranges.entries()) {
    if (!isObject(range)) return { error: 'expected an object', path: ['ranges', r] };
    if (range.type !== 'ECOSYSTEM') continue;
    any = true;
    if (!Array.isArray(range.events) || range.events.length === 0) return { error: 'expected a non-empty list of events', path: ['ranges', r, 'events'] };
    let affected = false;
    for (const [e, ev] of range.events.entries()) {
      const at = ['ranges', r, 'events', e];
      if (!isObject(ev)) return { error: 'expected an event object', path: at };
      const keys = Object.keys(ev).filter((k) => ['introduced', 'fixed', 'last_affected', 'limit'].includes(k));
      if (keys.length !== 1) return { error: 'expected exactly one of introduced, fixed, last_affected, limit', path: at };
      const kind = keys[0] as string;
      const v = ev[kind];
      if (typeof v !== 'string' || v === '') return { error: 'expected a version string', path: [...at, kind] };
      if (kind === 'introduced') affected = true;
      else if (kind === 'fixed') {
        const why = fixedVersionError(target.scheme, v);
        if (why) return { error: why, path: [...at, kind] };
        if (fixed === undefined || compareVersions(target.scheme, v, fixed) > 0) fixed = v;
        affected = false;
      } else if (kind === 'last_affected') {
        open = true;
        affected = false;
      }
    }
    if (affected) open = true;
  }
  if (!any) return { skip: 'no-ecosystem-range' };
  if (open) return { verdict: { unfixed: true } };
  if (fixed === undefined) return { error: 'no introduced or fixed event in any ECOSYSTEM range', path: ['ranges'] };
  return { verdict: { fixed } };
}

/** Two entries for one package and release: unfixed wins, else the higher fixed version. */
function merge(a: Verdict, b: Verdict, target: Target): Verdict {
  if ('unfixed' in a) return a;
  if ('unfixed' in b) return b;
  return compareVersions(target.scheme, b.fixed, a.fixed) > 0 ? b : a;
}

function links(doc: Record<string, unknown>, id: string): { primary: string; extra: Record<string, string> } {
  const extra: Record<string, string> = {};
  let primary: string | undefined;
  const add = (label: string, url: string) => {
    if (Object.keys(extra).length >= MAX_LINKS || Object.values(extra).includes(url)) return;
    let key = label;
    for (let n = 2; key in extra; n++) key = `${label} ${n}`;
    extra[key] = url;
  };
  for (const ref of Array.isArray(doc.references) ? doc.references : []) {
    if (!isObject(ref)) continue;
    const url = safeUrl(ref.url);
    if (!url) continue;
    const type = typeof ref.type === 'string' && /^[A-Z_]{1,20}$/.test(ref.type) ? ref.type : 'WEB';
    if (primary === undefined && type === 'ADVISORY') { primary = url; continue; }
    add(type, url);
  }
  for (const alias of Array.isArray(doc.aliases) ? doc.aliases : []) {
    if (typeof alias === 'string' && ID_RE.test(alias)) add(alias, `https://osv.dev/vulnerability/${encodeURIComponent(alias)}`);
  }
  return { primary: primary ?? `https://osv.dev/vulnerability/${encodeURIComponent(id)}`, extra };
}

/** One OSV advisory document. `where` names it (file, zip entry) for errors. */
export function readOsvAdvisory(doc: unknown, where: string, opts: FeedOptions, sink: FeedSink): void {
  const bad = (path: (string | number)[], reason: string) => { sink.error(`${where}: ${jsonPath(path)}`, reason); sink.skip('malformed'); };
  if (!isObject(doc)) return bad([], 'expected an OSV advisory object');
  const id = doc.id;
  if (typeof id !== 'string' || !ID_RE.test(id)) return bad(['id'], typeof id === 'string' ? `${JSON.stringify(id.slice(0, 80))} is not an advisory id` : 'expected the advisory id');
  if (typeof doc.withdrawn === 'string' && doc.withdrawn !== '') return sink.skip('withdrawn');
  if (!Array.isArray(doc.affected)) return bad(['affected'], 'expected a list of affected packages');
  const advisoryPriority = highestPriority([doc.severity, doc.database_specific]);
  const byPackage = new Map<string, { buckets: Map<string, Bucket>; priority: number | undefined }>();
  for (const [i, affected] of doc.affected.entries()) {
    const at = ['affected', i];
    if (!isObject(affected) || !isObject(affected.package)) { bad([...at, 'package'], 'expected an object with a package'); continue; }
    const { ecosystem, name } = affected.package;
    if (typeof ecosystem !== 'string' || ecosystem === '') { bad([...at, 'package', 'ecosystem'], 'expected an ecosystem'); continue; }
    const mapped = ecosystemTarget(ecosystem);
    if ('skip' in mapped) { sink.skip(mapped.skip); continue; }
    const target = mapped.target;
    sink.sawRelease(target.bucket);
    if (opts.releases && !opts.releases.has(target.bucket)) { sink.skip('release-not-requested'); continue; }
    const nameError = packageNameError(target.scheme, name);
    if (nameError) { bad([...at, 'package', 'name'], nameError); continue; }
    const result = rangesVerdict(affected.ranges, target);
    if ('skip' in result) { sink.skip(result.skip); continue; }
    if ('error' in result) { bad([...at, ...result.path], result.error); continue; }
    const pkg = name as string;
    const entry = byPackage.get(pkg) ?? { buckets: new Map<string, Bucket>(), priority: undefined };
    byPackage.set(pkg, entry);
    const before = entry.buckets.get(target.bucket);
    entry.buckets.set(target.bucket, { target, verdict: before ? merge(before.verdict, result.verdict, target) : result.verdict });
    const p = highestPriority([affected.severity, affected.ecosystem_specific, affected.database_specific]);
    if (p !== undefined) entry.priority = Math.max(entry.priority ?? 0, p);
  }
  if (byPackage.size === 0) return;
  const summary = cleanText(doc.summary, MAX_TEXT);
  const details = cleanText(doc.details, MAX_TEXT);
  const aliases = (Array.isArray(doc.aliases) ? doc.aliases : []).filter((a): a is string => typeof a === 'string' && ID_RE.test(a));
  const { primary, extra } = links(doc, id);
  const audits: Record<string, AuditJson> = {};
  let unfixed = false;
  for (const [pkg, entry] of byPackage) {
    const buckets = [...entry.buckets.values()];
    const name = `${id} ${pkg}`;
    const given = [advisoryPriority, entry.priority].filter((p): p is number => p !== undefined);
    const audit = buildAudit({
      name, id, pkg, summary, details: aliases.length > 0 ? `${details || summary}\n\nAliases: ${aliases.join(', ')}` : details,
      primaryLink: primary, links: extra, priority: given.length > 0 ? Math.max(...given) : DEFAULT_PRIORITY, buckets,
    });
    if (!keepAudit(audit, opts, sink)) continue;
    audits[name] = audit;
    if (unfixedIn(buckets).length > 0) unfixed = true;
  }
  if (Object.keys(audits).length > 0) sink.file({ base: id, audits, unfixed });
}
