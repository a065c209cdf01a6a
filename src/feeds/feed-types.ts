// What the feed readers hand to the writer: audit files, skip reasons and bad entries.
import type { AuditJson } from './audit.js';

/** Why an entry gave no bucket (counted in the summary). */
export type SkipReason =
  | 'not-affected' | 'release-not-requested' | 'unknown-ecosystem' | 'unknown-release' | 'unstable-release'
  | 'undetermined' | 'no-releases' | 'no-ecosystem-range' | 'withdrawn' | 'duplicate' | 'malformed' | 'below-min-priority';

export interface AuditFile {
  /** The file's name before it is made safe (the writer sanitises it): CVE-2024-1234_openssl, DSA-5532-1. */
  base: string;
  audits: Record<string, AuditJson>;
  /** Any bucket of any audit in it is unfixed: the file name says so. */
  unfixed: boolean;
}

export interface FeedOptions {
  /** Bucket names (release codenames, rhel9, ...) to keep; undefined = every release. */
  releases?: ReadonlySet<string>;
  /** Audits of a lower vuln-priority are not written (Debian's `unimportant` entries are 1). */
  minPriority?: number;
}

/** Where the readers report; the writer implements it. */
export interface FeedSink {
  file(f: AuditFile): void;
  skip(reason: SkipReason, n?: number): void;
  /** A bad entry: skipped, reported with where it is (file:line and JSON path). */
  error(where: string, reason: string): void;
  /** A release the feed mentions (for the summary's releases_not_seen). */
  sawRelease(bucket: string): void;
}

/** `$.a["b c"][0]`: a JSON path to show where in a document a bad value is. */
export function jsonPath(parts: (string | number)[]): string {
  return parts.reduce<string>((acc, p) => acc + (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`), '$');
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether an audit is kept under --min-priority; a dropped one is counted. */
export function keepAudit(audit: AuditJson, opts: FeedOptions, sink: FeedSink): boolean {
  if (opts.minPriority === undefined || audit['vuln-priority'] >= opts.minPriority) return true;
  sink.skip('below-min-priority');
  return false;
}
