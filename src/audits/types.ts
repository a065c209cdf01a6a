// The audit model after loading: each audit a list of buckets (file order), each bucket a filter
// that picks hosts and a comparison that decides pass or fail. Conditions arrive compiled
// (regular expressions, integers and versions checked once at load), so evaluation never throws
// on a bad file.

export const MATCH_TYPES = [
  'is', 'match', 'nematch', 'gt', 'lt', 'eq',
  'aptge', 'aptgt', 'aptle', 'aptlt', 'apteq',
  'rpmge', 'rpmgt', 'rpmle', 'rpmlt', 'rpmeq',
  'aptis', 'aptmatch',
  'subnonhere', 'suballhere', 'subknowall',
] as const;
export type MatchType = (typeof MATCH_TYPES)[number];

export const SUBTYPE_MATCHES: ReadonlySet<string> = new Set(['subnonhere', 'suballhere', 'subknowall']);

/** What one audit says of one host. `none`: in no bucket (the audit does not apply). */
export type AuditResult = 'pass' | 'fail' | 'exempt';
export type Verdict = AuditResult | 'none';
export const RESULTS: readonly AuditResult[] = ['pass', 'fail', 'exempt'];

/** One element of a condition's AND list: one fact compared one way. */
export type Check =
  | { kind: 'equal'; type: string; subtype: string; values: readonly string[] }
  | { kind: 'regex'; type: string; subtype: string; regex: RegExp; negate: boolean }
  | { kind: 'int'; type: string; subtype: string; op: 'gt' | 'lt' | 'eq'; value: number }
  | { kind: 'version'; type: string; subtype: string; scheme: 'dpkg' | 'rpm'; op: 'ge' | 'gt' | 'le' | 'lt' | 'eq'; value: string }
  | { kind: 'subtypes'; type: string; mode: 'subnonhere' | 'suballhere' | 'subknowall'; subtypes: readonly string[]; patterns: readonly (RegExp | null)[] };

export interface Condition {
  match: MatchType;
  checks: readonly Check[];
}

export interface Bucket {
  name: string;
  filter: Condition;
  comparison: Condition;
  /** a canonical text of the filter: audits sharing a filter share its evaluation */
  filterKey: string;
}

export interface Audit {
  /** the audit's key (INI section, JSON member): unique across the loaded files */
  name: string;
  file: string;
  line: number;
  vulnName: string;
  priority: number;
  shortDescription: string;
  longDescription: string;
  primaryLink: string;
  links: Record<string, string>;
  buckets: readonly Bucket[];
}

/** A problem with an audit file; `audit` when it concerns one audit (the others of the file still run). */
export interface AuditProblem {
  file: string;
  line: number;
  audit?: string;
  message: string;
}
