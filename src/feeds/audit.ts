// The audit objects an advisory feed becomes, in the old generators' JSON form (SPEC §10): one
// bucket per release, whose filter picks the release's hosts and whose comparison holds the
// source package's fixed version. Pure: no I/O.
import { versionError, type VersionScheme } from '../versions/index.js';

export interface AuditFilter {
  'filter-collection-type': string[];
  'filter-collection-subtype': string[];
  'filter-match': 'is';
  'filter-match-value': string[];
}

export interface AuditComparison {
  'comparison-collection-type': string;
  'comparison-collection-subtype': string;
  'comparison-match': 'aptge' | 'rpmge' | 'nematch';
  'comparison-match-value': string;
}

/** One audit exactly as the audit loader reads it: these keys and no others. */
export interface AuditJson {
  'vuln-name': string;
  'vuln-short-description': string;
  'vuln-long-description': string;
  'vuln-primary-link': string;
  'vuln-additional-links': Record<string, string>;
  'vuln-priority': number;
  filters: Record<string, AuditFilter>;
  comparisons: Record<string, AuditComparison>;
}

/** A release an advisory can name, and how its hosts are picked and their versions ordered. */
export interface Target {
  /** The bucket name, also what --releases names: bookworm, jammy, rhel9, ... */
  bucket: string;
  scheme: VersionScheme;
  filter: AuditFilter;
  /** package-sources where the feed names source packages (Debian, Ubuntu), packages where it names binary rpms. */
  compareType: 'package-sources' | 'packages';
}

/** What one advisory says about one package in one release. */
export type Verdict = { fixed: string } | { unfixed: true };

export interface Bucket { target: Target; verdict: Verdict }

/** The marker in an unfixed audit's short description and file name (see docs/audits.md). */
export const UNFIXED = 'unfixed';
/** Audit short descriptions are one line in a table: longer text goes to the long description. */
const SHORT_MAX = 200;
const LONG_MAX = 20_000;
/** The old system's default priority (SPEC §10), used when a feed gives no urgency or severity. */
export const DEFAULT_PRIORITY = 5;

const DEBIAN_CODENAMES: Record<string, string> = {
  7: 'wheezy', 8: 'jessie', 9: 'stretch', 10: 'buster', 11: 'bullseye', 12: 'bookworm', 13: 'trixie', 14: 'forky', 15: 'duke',
};
const UBUNTU_CODENAMES: Record<string, string> = {
  '14.04': 'trusty', '16.04': 'xenial', '18.04': 'bionic', '18.10': 'cosmic', '19.04': 'disco', '19.10': 'eoan',
  '20.04': 'focal', '20.10': 'groovy', '21.04': 'hirsute', '21.10': 'impish', '22.04': 'jammy', '22.10': 'kinetic',
  '23.04': 'lunar', '23.10': 'mantic', '24.04': 'noble', '24.10': 'oracular', '25.04': 'plucky', '25.10': 'questing',
};
/** RPM distributions OSV names, by the word before the version, and their os-release ID. */
const RPM_DISTROS: Record<string, { id: string; prefix: string }> = {
  'Red Hat': { id: 'rhel', prefix: 'rhel' },
  'Rocky Linux': { id: 'rocky', prefix: 'rocky' },
  AlmaLinux: { id: 'almalinux', prefix: 'alma' },
};

function releaseFilter(id: string, key: string, value: string): AuditFilter {
  return {
    'filter-collection-type': ['release', 'release'],
    'filter-collection-subtype': ['ID', key],
    'filter-match': 'is',
    'filter-match-value': [id, value],
  };
}

/** A Debian release by codename (the tracker's keys): hosts whose os-release says ID=debian, VERSION_CODENAME=codename. */
export function debianTarget(codename: string): Target {
  return { bucket: codename, scheme: 'dpkg', filter: releaseFilter('debian', 'VERSION_CODENAME', codename), compareType: 'package-sources' };
}

export function ubuntuTarget(codename: string): Target {
  return { bucket: codename, scheme: 'dpkg', filter: releaseFilter('ubuntu', 'VERSION_CODENAME', codename), compareType: 'package-sources' };
}

/** Unstable has no codename in its os-release, so no host could ever be in its bucket. */
export const DEBIAN_UNSTABLE = new Set(['sid', 'unstable', 'experimental']);

export type EcosystemTarget = { target: Target } | { skip: 'unknown-ecosystem' | 'unknown-release'; detail: string };

/**
 * An OSV ecosystem -> the release it means: `Debian:12` -> bookworm, `Ubuntu:22.04:LTS` and
 * `Ubuntu:Pro:22.04:LTS` -> jammy, `Red Hat:enterprise_linux:9::appstream` -> rhel9 (hosts with
 * ID=rhel and PLATFORM_ID=platform:el9), `Rocky Linux:9`, `AlmaLinux:9`.
 */
export function ecosystemTarget(ecosystem: string): EcosystemTarget {
  const parts = ecosystem.split(':');
  const family = parts[0] ?? '';
  if (family === 'Debian') {
    const codename = DEBIAN_CODENAMES[parts[1] ?? ''];
    return codename ? { target: debianTarget(codename) } : { skip: 'unknown-release', detail: ecosystem };
  }
  if (family === 'Ubuntu') {
    const version = parts.slice(1).find((p) => /^\d\d\.\d\d$/.test(p));
    const codename = version === undefined ? undefined : UBUNTU_CODENAMES[version];
    return codename ? { target: ubuntuTarget(codename) } : { skip: 'unknown-release', detail: ecosystem };
  }
  const rpm = RPM_DISTROS[family];
  if (rpm) {
    const major = parts.slice(1).map((p) => /^(\d+)(\.\d+)*$/.exec(p)?.[1]).find((m) => m !== undefined);
    if (major === undefined) return { skip: 'unknown-release', detail: ecosystem };
    return {
      target: {
        bucket: `${rpm.prefix}${major}`, scheme: 'rpm', filter: releaseFilter(rpm.id, 'PLATFORM_ID', `platform:el${major}`), compareType: 'packages',
      },
    };
  }
  return { skip: 'unknown-ecosystem', detail: ecosystem };
}

/** Source package names as dpkg allows them (Debian policy §5.6.1); rpm names as rpm allows them. */
const NAME_RE: Record<VersionScheme, RegExp> = {
  dpkg: /^[a-z0-9][a-z0-9+.-]+$/,
  rpm: /^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/,
};
const NAME_MAX = 200;

export function packageNameError(scheme: VersionScheme, name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'expected a package name';
  if (name.length > NAME_MAX || !NAME_RE[scheme].test(name)) return `${JSON.stringify(name.slice(0, 80))} is not a ${scheme === 'dpkg' ? 'Debian' : 'rpm'} package name`;
  return undefined;
}

/** Why a fixed version cannot be compared in the release's order, else undefined. */
export function fixedVersionError(scheme: VersionScheme, v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return 'expected a version string';
  if (/\s|,/.test(v)) return `${JSON.stringify(v.slice(0, 80))}: a version has no spaces or commas`;
  const why = versionError(scheme, v);
  return why === undefined ? undefined : `${JSON.stringify(v.slice(0, 80))}: ${scheme === 'dpkg' ? 'dpkg' : 'rpm'} refuses it (${why})`;
}

/** Text from a feed for an audit field: control characters out (newlines and tabs kept), bounded. */
export function cleanText(text: unknown, max: number): string {
  if (typeof text !== 'string') return '';
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, '').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Only http(s) links go into an audit: a page may render them, and javascript: is not a link. */
export function safeUrl(u: unknown): string | undefined {
  if (typeof u !== 'string' || u.length > 2000) return undefined;
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const PRIORITY_WORDS: Record<string, number> = {
  unimportant: 1, negligible: 1, 'end-of-life': DEFAULT_PRIORITY, 'not yet assigned': DEFAULT_PRIORITY,
  low: 3, medium: 5, moderate: 5, high: 8, important: 8, critical: 10,
};

/** An urgency or severity word (Debian's urgency, Ubuntu's priority, a CVSS rating) -> 0-10. */
export function priorityOfWord(word: unknown): number | undefined {
  if (typeof word !== 'string') return undefined;
  // The tracker marks guessed urgencies with a trailing `**` (low**).
  return PRIORITY_WORDS[word.toLowerCase().replace(/\*+$/, '').trim()];
}

export interface AuditInput {
  name: string;
  /** The advisory id for the text: CVE-2024-1234, DSA-5532-1. */
  id: string;
  pkg: string;
  summary: string;
  details: string;
  primaryLink: string;
  links: Record<string, string>;
  priority: number;
  buckets: Bucket[];
}

/** The releases of an audit whose entry is unfixed (in bucket order). */
export function unfixedIn(buckets: Bucket[]): string[] {
  return buckets.filter((b) => 'unfixed' in b.verdict).map((b) => b.target.bucket);
}

/**
 * An audit object. An unfixed release's comparison is `nematch .*` on the package: every host
 * with the package fails it (no version is fixed) and hosts without it are exempt.
 */
export function buildAudit(a: AuditInput): AuditJson {
  const filters: Record<string, AuditFilter> = {};
  const comparisons: Record<string, AuditComparison> = {};
  for (const b of a.buckets) {
    filters[b.target.bucket] = b.target.filter;
    comparisons[b.target.bucket] = {
      'comparison-collection-type': b.target.compareType,
      'comparison-collection-subtype': a.pkg,
      ...('fixed' in b.verdict
        ? { 'comparison-match': b.target.scheme === 'dpkg' ? 'aptge' : 'rpmge', 'comparison-match-value': b.verdict.fixed }
        : { 'comparison-match': 'nematch', 'comparison-match-value': '.*' }),
    } as AuditComparison;
  }
  const open = unfixedIn(a.buckets);
  const marker = open.length === 0 ? '' : open.length === a.buckets.length ? `${UNFIXED}: ` : `${UNFIXED} in ${open.join(', ')}: `;
  const summary = oneLine(a.summary) || oneLine(a.details).split(/(?<=\.)\s/)[0] || 'no description in the feed';
  const status = a.buckets.map((b) => `- ${b.target.bucket}: ${'fixed' in b.verdict ? `fixed in ${b.verdict.fixed}` : `${UNFIXED}: no fixed version yet`}`);
  return {
    'vuln-name': a.name,
    'vuln-short-description': cleanText(`${marker}${a.id} in ${a.pkg}: ${summary}`, SHORT_MAX),
    'vuln-long-description': cleanText(`${a.details || a.summary}\n\n${a.pkg}:\n${status.join('\n')}`, LONG_MAX),
    'vuln-primary-link': a.primaryLink,
    'vuln-additional-links': a.links,
    'vuln-priority': Math.max(0, Math.min(10, Math.round(a.priority))),
    filters,
    comparisons,
  };
}
