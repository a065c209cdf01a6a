// Audit files into the output folder: names made safe from whatever the feed says (a hostile feed
// cannot write outside the folder), each file written whole or not at all, 0600 in a 0700 folder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CannotCreateError } from '../core/errors.js';
import { writeFileAtomically } from '../app/safe-files.js';
import { UNFIXED } from './audit.js';
import type { AuditFile, FeedSink, SkipReason } from './feed-types.js';

/** A file name keeps to these characters; anything else becomes `_`. */
const UNSAFE = /[^A-Za-z0-9._+-]/g;
const BASE_MAX = 150;
/** The summary lists this many bad entries; the rest are counted. */
export const ERRORS_LISTED = 100;

/**
 * `CVE-2024-1234_openssl` -> itself, `RHSA-2024:1234` -> `RHSA-2024_1234`; anything that had to change (a `/`, a leading dot, a name
 * that looks unfixed, too long) gets a short hash of the original, so two different ids never
 * share a file.
 */
export function safeBase(base: string): string {
  // RHSA-2024:1234 -> RHSA-2024_1234 without a hash: a colon is what such ids have (and a file
  // name with one is awkward for scp and rsync).
  const plain = base.replace(/:/g, '_');
  let s = plain.replace(UNSAFE, '_').replace(/^[.-]/, '_');
  let changed = s !== plain;
  if (s.length > BASE_MAX) { s = s.slice(0, BASE_MAX); changed = true; }
  if (s === '') s = '_';
  if (new RegExp(`\\.${UNFIXED}$`, 'i').test(s)) changed = true;
  if (changed) s = `${s}-${crypto.createHash('sha256').update(base).digest('hex').slice(0, 10)}`;
  return s;
}

/** The file an audit file goes to, and the one it replaces (its fixed or unfixed counterpart). */
export function fileNames(f: Pick<AuditFile, 'base' | 'unfixed'>): { name: string; counterpart: string } {
  const base = safeBase(f.base);
  const fixed = `${base}.json`;
  const open = `${base}.${UNFIXED}.json`;
  return f.unfixed ? { name: open, counterpart: fixed } : { name: fixed, counterpart: open };
}

export interface FeedError { where: string; reason: string }

export interface WriteSummary {
  files_written: number;
  audits_written: number;
  unfixed_files: number;
  /** Counterparts removed: an audit that became fixed (or unfixed) since the last feed. */
  replaced: number;
  skipped: Partial<Record<SkipReason, number>>;
  errors: FeedError[];
  errors_left_off: number;
}

export class AuditWriter implements FeedSink {
  private readonly written = new Map<string, string>();
  private readonly skipped = new Map<SkipReason, number>();
  private readonly errors: FeedError[] = [];
  private errorCount = 0;
  private audits = 0;
  private unfixedFiles = 0;
  private replaced = 0;
  readonly releasesSeen = new Set<string>();

  constructor(readonly outDir: string, private readonly onError: (e: FeedError) => void = () => {}) {
    try {
      fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new CannotCreateError(`--out ${outDir}: cannot create the folder: ${(e as Error).message}`);
    }
    if (!fs.statSync(outDir).isDirectory()) throw new CannotCreateError(`--out ${outDir}: not a folder`);
  }

  file(f: AuditFile): void {
    const { name, counterpart } = fileNames(f);
    // Keyed by the safe base: a fixed and an unfixed file of one id would be one audit twice.
    const key = safeBase(f.base);
    const first = this.written.get(key);
    if (first !== undefined) {
      this.error(f.base, `a second advisory for the same file ${key}.json (first from ${first}): skipped`);
      this.skip('duplicate');
      return;
    }
    this.written.set(key, f.base);
    const file = path.join(this.outDir, name);
    // safeBase leaves no separator or leading dot; this is the last line of defence.
    if (path.dirname(file) !== path.resolve(this.outDir) && path.dirname(file) !== this.outDir) throw new Error(`unsafe audit file name ${name}`);
    try {
      writeFileAtomically(file, `${JSON.stringify(f.audits, null, 2)}\n`);
      const other = path.join(this.outDir, counterpart);
      // Only a file or link we may have written: never a folder someone put there.
      if (fs.lstatSync(other, { throwIfNoEntry: false })?.isDirectory() === false) {
        fs.unlinkSync(other);
        this.replaced += 1;
      }
    } catch (e) {
      throw new CannotCreateError(`${file}: cannot write: ${(e as Error).message}`);
    }
    this.audits += Object.keys(f.audits).length;
    if (f.unfixed) this.unfixedFiles += 1;
  }

  skip(reason: SkipReason, n = 1): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + n);
  }

  error(where: string, reason: string): void {
    this.errorCount += 1;
    const e = { where, reason };
    if (this.errors.length < ERRORS_LISTED) this.errors.push(e);
    this.onError(e);
  }

  sawRelease(bucket: string): void {
    this.releasesSeen.add(bucket);
  }

  get hasErrors(): boolean { return this.errorCount > 0; }

  summary(): WriteSummary {
    return {
      files_written: this.written.size,
      audits_written: this.audits,
      unfixed_files: this.unfixedFiles,
      replaced: this.replaced,
      skipped: Object.fromEntries([...this.skipped].sort(([a], [b]) => (a < b ? -1 : 1))),
      errors: this.errors,
      errors_left_off: this.errorCount - this.errors.length,
    };
  }
}
