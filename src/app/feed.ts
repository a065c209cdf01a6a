// `jellyfish feed`: read an offline advisory feed (a file, a folder, a zip or stdin) and write one
// audit file per advisory into a folder. No database. Memory stays bounded: the tracker's JSON is
// scanned member by member, OSV documents are read one at a time (a zip entry by entry).
import fs from 'node:fs';
import path from 'node:path';
import { NoInputError } from '../core/errors.js';
import { readTrackerPackage } from '../feeds/debian-tracker.js';
import type { FeedOptions } from '../feeds/feed-types.js';
import { MemberScanError, MemberScanner } from '../feeds/json-members.js';
import { readOsvAdvisory } from '../feeds/osv.js';
import { AuditWriter, type FeedError, type WriteSummary } from '../feeds/write.js';
import { isZip, ZipError, ZipReader } from '../feeds/zip.js';

export const FEED_SOURCES = ['debian-tracker', 'osv'] as const;
export type FeedSource = (typeof FEED_SOURCES)[number];

/** One source package of the tracker (linux has thousands of CVEs: a few MB) or one OSV document. */
export const MAX_FEED_MEMBER = 64 * 2 ** 20;
/** stdin cannot be read twice: an OSV zip or JSON from stdin is held whole, up to this. */
export const MAX_FEED_STDIN = 512 * 2 ** 20;
const CHUNK = 1024 * 1024;

export interface FeedRequest {
  input: string;
  from: FeedSource;
  out: string;
  releases?: string[];
  minPriority?: number;
}

export interface FeedResult extends WriteSummary {
  from: FeedSource;
  input: string;
  out: string;
  releases: string[] | 'all';
  releases_not_seen?: string[];
  min_priority?: number;
  exitCode: 0 | 65;
}

function label(input: string): string {
  return input === '-' ? 'stdin' : input;
}

function noInput(input: string, e: unknown): NoInputError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'no such file or folder' : err.code === 'EACCES' ? 'permission denied' : err.message;
  return new NoInputError(`${label(input)}: cannot read: ${why}`);
}

async function* chunksOf(input: string, stdin: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  const stream = input === '-' ? stdin : fs.createReadStream(input, { highWaterMark: CHUNK });
  for await (const chunk of stream) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
}

async function readTracker(input: string, stdin: NodeJS.ReadableStream, opts: FeedOptions, out: AuditWriter): Promise<void> {
  const where = label(input);
  if (input !== '-') {
    let st: fs.Stats;
    try { st = fs.statSync(input); } catch (e) { throw noInput(input, e); }
    if (st.isDirectory()) throw new NoInputError(`${where}: is a folder; the tracker feed is one JSON file`);
  }
  const scanner = new MemberScanner(MAX_FEED_MEMBER);
  const seen = new Set<string>();
  try {
    for await (const chunk of chunksOf(input, stdin)) {
      for (const m of scanner.push(chunk)) {
        const at = `${where}:${m.line}`;
        if (seen.has(m.key)) { out.error(`${at}: $[${JSON.stringify(m.key)}]`, 'the source package appears twice: skipped'); out.skip('malformed'); continue; }
        seen.add(m.key);
        let value: unknown;
        try {
          value = JSON.parse(m.value.toString('utf8'));
        } catch (e) {
          out.error(`${at}: $[${JSON.stringify(m.key)}]`, `not JSON: ${(e as Error).message}`);
          out.skip('malformed');
          continue;
        }
        readTrackerPackage(m.key, value, at, opts, out);
      }
    }
    scanner.end();
  } catch (e) {
    if (e instanceof MemberScanError) { out.error(`${where}:${e.line}`, `${e.message}; reading stopped there`); return; }
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EACCES') throw noInput(input, e);
    throw e;
  }
}

function readOsvJson(text: Buffer, where: string, opts: FeedOptions, out: AuditWriter): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    out.error(where, `not JSON: ${(e as Error).message}`);
    out.skip('malformed');
    return;
  }
  // A file may hold one advisory or a list of them.
  if (Array.isArray(doc)) doc.forEach((d, i) => readOsvAdvisory(d, `${where}[${i}]`, opts, out));
  else readOsvAdvisory(doc, where, opts, out);
}

function readOsvZip(zip: ZipReader, where: string, opts: FeedOptions, out: AuditWriter): void {
  try {
    for (const entry of zip.entries) {
      if (entry.name.endsWith('/') || !/\.json$/i.test(entry.name)) continue;
      const at = `${where}!${entry.name}`;
      let data: Buffer;
      try {
        data = zip.read(entry, MAX_FEED_MEMBER);
      } catch (e) {
        if (e instanceof ZipError) throw e;
        out.error(at, (e as Error).message);
        out.skip('malformed');
        continue;
      }
      readOsvJson(data, at, opts, out);
    }
  } finally {
    zip.close();
  }
}

/** Regular files named *.json under `dir`, in name order (links and other files are not followed). */
function jsonFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.json$/i.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function readFileBounded(file: string, out: AuditWriter): Buffer | undefined {
  const size = fs.statSync(file).size;
  if (size > MAX_FEED_MEMBER) {
    out.error(file, `${size} bytes, more than the ${MAX_FEED_MEMBER / 2 ** 20} MB allowed for one OSV file (use a folder or a zip of advisories)`);
    out.skip('malformed');
    return undefined;
  }
  return fs.readFileSync(file);
}

async function readOsv(input: string, stdin: NodeJS.ReadableStream, opts: FeedOptions, out: AuditWriter): Promise<void> {
  const where = label(input);
  if (input === '-') {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of chunksOf(input, stdin)) {
      n += chunk.length;
      if (n > MAX_FEED_STDIN) { out.error(where, `more than ${MAX_FEED_STDIN / 2 ** 20} MB on stdin: give the file's name instead`); return; }
      parts.push(chunk);
    }
    const data = Buffer.concat(parts);
    if (isZip(data)) readZipSafely(() => ZipReader.fromBuffer(data), where, opts, out);
    else readOsvJson(data, where, opts, out);
    return;
  }
  let st: fs.Stats;
  try { st = fs.statSync(input); } catch (e) { throw noInput(input, e); }
  if (st.isDirectory()) {
    let files: string[];
    try { files = jsonFilesUnder(input); } catch (e) { throw noInput(input, e); }
    if (files.length === 0) { out.error(where, 'no *.json file in the folder'); return; }
    for (const f of files) {
      const data = readFileBounded(f, out);
      if (data) readOsvJson(data, f, opts, out);
    }
    return;
  }
  let head: Buffer;
  try {
    const fd = fs.openSync(input, 'r');
    head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
  } catch (e) { throw noInput(input, e); }
  if (isZip(head)) readZipSafely(() => ZipReader.openFile(input), where, opts, out);
  else {
    const data = readFileBounded(input, out);
    if (data) readOsvJson(data, where, opts, out);
  }
}

function readZipSafely(open: () => ZipReader, where: string, opts: FeedOptions, out: AuditWriter): void {
  try {
    readOsvZip(open(), where, opts, out);
  } catch (e) {
    if (!(e instanceof ZipError)) throw e;
    out.error(where, `${e.message}; reading stopped there`);
  }
}

export async function runFeed(req: FeedRequest, opts: { stdin?: NodeJS.ReadableStream; onError?: (e: FeedError) => void } = {}): Promise<FeedResult> {
  // A wrong input name must not leave an empty output folder behind.
  if (req.input !== '-') {
    try { fs.statSync(req.input); } catch (e) { throw noInput(req.input, e); }
  }
  const out = new AuditWriter(req.out, opts.onError);
  const feedOpts: FeedOptions = {
    ...(req.releases ? { releases: new Set(req.releases) } : {}),
    ...(req.minPriority !== undefined ? { minPriority: req.minPriority } : {}),
  };
  const stdin = opts.stdin ?? process.stdin;
  if (req.from === 'debian-tracker') await readTracker(req.input, stdin, feedOpts, out);
  else await readOsv(req.input, stdin, feedOpts, out);
  const summary = out.summary();
  return {
    from: req.from,
    input: label(req.input),
    out: req.out,
    releases: req.releases ?? 'all',
    ...(req.minPriority !== undefined ? { min_priority: req.minPriority } : {}),
    ...(req.releases ? { releases_not_seen: req.releases.filter((r) => !out.releasesSeen.has(r)) } : {}),
    ...summary,
    exitCode: out.hasErrors ? 65 : 0,
  };
}
