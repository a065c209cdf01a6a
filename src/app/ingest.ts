// `ingest`: collection documents pushed by a host agent, in the old collection JSON format.
// Each document is validated on its own (a clear error names it and the field) and stored in its
// own transaction, so one bad document never half-stores or blocks the others.
import os from 'node:os';
import { parseHostField } from '../inventory/csv.js';
import { cell } from '../report/table.js';
import type { Awaitable, PushDocument, PushOutcome, Store } from '../store/store.js';
import { StorageError } from '../core/errors.js';
import { withoutNul } from '../collections/parse.js';
import type { Config } from '../config/load.js';
import { SETTINGS } from '../config/settings.js';
import { formatDuration, parseDuration, parseSize } from '../config/values.js';

export interface RawDoc {
  /** 1-based position in the input */
  index: number;
  /** line of the input where the document starts */
  line: number;
  text: string;
  /** the JSON value of `text`, when splitting already parsed it (a push of one document is parsed once) */
  parsed?: { value: unknown };
}

/**
 * Split input into JSON documents: one object, an array of them, one per line (NDJSON), or
 * objects back to back. Hand-written rather than a streaming JSON parser because a broken
 * document must cost only itself: NDJSON is split by line (a truncated line cannot swallow the
 * next one), an array by its top-level elements, anything else by balanced braces.
 */
export function splitDocuments(input: string): RawDoc[] {
  const text = input.replace(/^\uFEFF/, '');
  const lines = text.split('\n');
  const firstLine = lines.find((l) => l.trim() !== '');
  if (firstLine === undefined) return [];
  const head = firstLine.trim();
  const first = head.startsWith('[') ? undefined : parseJson(head);
  if (first) {
    const docs: RawDoc[] = [];
    lines.forEach((l, i) => {
      if (l.trim() !== '') docs.push({ index: docs.length + 1, line: i + 1, text: l.trim(), ...(docs.length === 0 ? { parsed: first } : {}) });
    });
    return docs;
  }
  return scan(text);
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** Top-level values by balanced brackets; a top-level array yields its elements instead. */
function scan(text: string): RawDoc[] {
  const docs: RawDoc[] = [];
  const push = (from: number, to: number, line: number) => {
    const t = text.slice(from, to).trim();
    if (t !== '') docs.push({ index: docs.length + 1, line, text: t });
  };
  let depth = 0;
  let inString = false;
  let escaped = false;
  let inArray = false;
  let start = -1;
  let startLine = 1;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\n') line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    const ws = /\s/.test(ch);
    if (depth === 0) {
      if (ws) continue;
      if (ch === '[') { inArray = true; depth = 1; start = -1; continue; }
      if (ch === '{') { depth = 1; start = i; startLine = line; continue; }
      // Junk between documents: the rest of the line is one bad document.
      const end = text.indexOf('\n', i);
      push(i, end < 0 ? text.length : end, line);
      if (end < 0) return docs;
      i = end - 1;
      continue;
    }
    if (inArray && depth === 1) {
      if (ch === ',' || ch === ']') {
        if (start >= 0) push(start, i, startLine);
        start = -1;
        if (ch === ']') { inArray = false; depth = 0; }
        continue;
      }
      if (start < 0 && !ws) { start = i; startLine = line; }
    }
    if (ch === '"') { inString = true; continue; }
    if (ch === '{' || ch === '[') { depth++; continue; }
    if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0 && !inArray) { push(start, i + 1, startLine); start = -1; }
    }
  }
  // Unbalanced to the end: what is left is one (bad) document.
  if (depth > 0 && start >= 0) push(start, text.length, startLine);
  return docs;
}

/** Status words an agent writes for a collection that worked, and for one that did not. */
const OK_STATUSES = new Set(['ok', 'success', 'successful', 'succeeded', 'done', 'complete', 'completed', 'true', '0']);
const FAILED_STATUSES = new Set(['fail', 'failed', 'failure', 'error', 'err', 'false', 'ko', 'nok']);
/**
 * A type or subtype name is an identifier (`packages`, `openssl`), shown in tables and indexed:
 * one longer than this is a broken or hostile agent, not a name.
 */
export const MAX_NAME_CHARS = 512;
/** Before this, a timestamp is an unset agent clock (or seconds since boot), not a collection time. */
const OLDEST_PLAUSIBLE_MS = Date.UTC(2000, 0, 1);
/** Epoch numbers above this are milliseconds (as seconds they would be past the year 5000). */
const EPOCH_MS_ABOVE = 1e11;

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * ISO 8601 (`2026-11-23T02:00:00Z`, `+01:00` offsets, fractions; a time without an offset is
 * UTC, a date alone is midnight UTC) or epoch seconds as text -> epoch ms. Date.parse is not used:
 * it accepts `2024-02-30` (as March 1st) and free-form English dates.
 */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    return value > EPOCH_MS_ABOVE ? Math.round(value) : Math.round(value * 1000);
  }
  if (typeof value !== 'string') return undefined;
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return parseTimestamp(Number(t));
  const m = ISO_8601.exec(t);
  if (!m) return undefined;
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const ms = Math.floor(Number(`0.${m[7] ?? '0'}`) * 1000);
  if (y === undefined || mo === undefined || d === undefined) return undefined;
  const utc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(utc);
  // Date.UTC rolls 2024-02-30 over to March: a date that does not come back unchanged is not one.
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d
    || check.getUTCHours() !== h || check.getUTCMinutes() !== mi || check.getUTCSeconds() !== s) return undefined;
  const zone = m[8];
  if (zone === undefined || zone.toUpperCase() === 'Z') return utc;
  const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!z) return undefined;
  const offH = Number(z[2]);
  const offM = Number(z[3] ?? 0);
  if (offH > 23 || offM > 59) return undefined;
  return utc - (z[1] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
}

/** A name or value as quoted in a message: control bytes escaped, long runs cut. */
function shown(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 60)}… (${text.length} characters)` : text;
  return cell(cut);
}

/** `collection_data.packages.openssl`; a key that is not a short plain word is quoted (and cut): `["a.b"]`. */
function fieldPath(...keys: string[]): string {
  return keys.map((k, i) => (/^[A-Za-z0-9_-]{1,80}$/.test(k) ? `${i ? '.' : ''}${k}` : `[${JSON.stringify(shown(k))}]`)).join('');
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A setting's default from the settings table, so a caller without a Config gets what the INI would. */
function sapiDefault(key: string): string {
  return SETTINGS.find((d) => d.section === 'sapi' && d.key === key)?.default as string;
}

export interface ValidateOptions {
  /** epoch ms, for the clock-skew check */
  now?: number;
  /**
   * [sapi] max_skew: how far ahead of our clock a timestamp may be. A document from the future
   * would set the host's sapi time ahead and keep it skipped for that much longer.
   */
  maxSkewMs?: number;
  /** [sapi] max_document: the largest document, in bytes (UTF-8), checked before it is parsed */
  maxDocumentBytes?: number;
  /** [collector] prod_statuses, lower case: a pushed `status` in it makes the host production */
  prodStatuses?: string[];
}

/** The validation settings of a Config: `ingest` and the storage API check pushes alike. */
export function pushOptions(config: Pick<Config, 'collector' | 'sapi'>): ValidateOptions {
  return { prodStatuses: config.collector.prodStatuses, maxSkewMs: config.sapi.maxSkewMs, maxDocumentBytes: config.sapi.maxDocumentBytes };
}

/** Why a document was refused; `host` once its collection_hostname was read. */
export interface DocumentError {
  error: string;
  host?: string;
}

/**
 * One pushed document checked and turned into what the store takes, or the reason it is refused
 * (naming the field). The one validation of a push: `ingest` and the storage API both call it.
 */
export function validateDocument(raw: RawDoc, opts: ValidateOptions = {}): PushDocument | DocumentError {
  const now = opts.now ?? Date.now();
  const maxSkewMs = opts.maxSkewMs ?? parseDuration(sapiDefault('max_skew'))!;
  const maxBytes = opts.maxDocumentBytes ?? parseSize(sapiDefault('max_document'))!;
  const bytes = Buffer.byteLength(raw.text);
  if (bytes > maxBytes) return { error: `the document is ${bytes} bytes, more than [sapi] max_document (${maxBytes} bytes)` };
  let v: unknown;
  try {
    v = raw.parsed ? raw.parsed.value : JSON.parse(raw.text);
  } catch (e) {
    return { error: `not valid JSON (${shown((e as Error).message)})` };
  }
  if (!isObject(v)) return { error: `expected a JSON object, got ${kind(v)}` };
  const host = v.collection_hostname;
  if (typeof host !== 'string' || host.trim() === '') return { error: `collection_hostname: expected a non-empty string${host === undefined ? ' (missing)' : `, got ${kind(host)}`}` };
  // A trailing dot is the same DNS name; the inventory never writes it.
  const name = host.trim().replace(/(?<=[^.])\.$/, '');
  const parsed = parseHostField(name);
  if ('reason' in parsed) return { error: `collection_hostname: ${parsed.reason}` };
  const fail = (error: string): DocumentError => ({ error, host: name });

  if (v.collection_timestamp === undefined) return fail('collection_timestamp: missing (ISO 8601 or epoch seconds)');
  const timestamp = parseTimestamp(v.collection_timestamp);
  if (timestamp === undefined) {
    const got = typeof v.collection_timestamp === 'string' ? `'${shown(v.collection_timestamp)}'` : kind(v.collection_timestamp);
    return fail(`collection_timestamp: expected an ISO 8601 time or epoch seconds, got ${got}`);
  }
  if (timestamp > now + maxSkewMs) return fail(`collection_timestamp: ${new Date(timestamp).toISOString()} is in the future, more than [sapi] max_skew (${formatDuration(maxSkewMs)}) ahead (agent clock?)`);
  if (timestamp < OLDEST_PLAUSIBLE_MS) return fail(`collection_timestamp: ${new Date(timestamp).toISOString()} is before 2000 (agent clock not set?)`);

  const statusRaw = v.collection_status ?? 'ok';
  let ok: boolean;
  if (typeof statusRaw === 'boolean') ok = statusRaw;
  else if (typeof statusRaw === 'number') ok = statusRaw === 0;
  else if (typeof statusRaw === 'string' && OK_STATUSES.has(statusRaw.trim().toLowerCase())) ok = true;
  else if (typeof statusRaw === 'string' && FAILED_STATUSES.has(statusRaw.trim().toLowerCase())) ok = false;
  else if (typeof statusRaw === 'string') return fail(`collection_status: '${shown(statusRaw)}' is not a known status (success: ${[...OK_STATUSES].join(', ')}; failure: ${[...FAILED_STATUSES].join(', ')})`);
  else return fail(`collection_status: expected a string, got ${kind(statusRaw)}`);

  const data = v.collection_data;
  if (!isObject(data)) return fail(`collection_data: expected an object of {type: {subtype: value}}, got ${data === undefined ? 'nothing (missing)' : kind(data)}`);
  // Null-prototype records: a type or subtype named __proto__ is stored like any other name.
  const out: Record<string, Record<string, string>> = Object.create(null);
  for (const [type, subs] of Object.entries(data)) {
    if (type.trim() === '') return fail('collection_data: a type name is empty');
    if (type.length > MAX_NAME_CHARS) return fail(`${fieldPath('collection_data', type)}: the type name is ${type.length} characters, more than ${MAX_NAME_CHARS}`);
    if (!isObject(subs)) return fail(`${fieldPath('collection_data', type)}: expected an object of {subtype: value}, got ${kind(subs)}`);
    const values: Record<string, string> = Object.create(null);
    for (const [sub, value] of Object.entries(subs)) {
      if (sub === '') return fail(`${fieldPath('collection_data', type)}: a subtype name is empty`);
      if (sub.length > MAX_NAME_CHARS) return fail(`${fieldPath('collection_data', type, sub)}: the subtype name is ${sub.length} characters, more than ${MAX_NAME_CHARS}`);
      // NUL becomes U+FFFD, as in collected output: SQLite's text functions stop at a NUL.
      if (typeof value === 'string') values[sub] = withoutNul(value);
      else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') values[sub] = String(value);
      else return fail(`${fieldPath('collection_data', type, sub)}: expected a string (numbers and booleans are taken as text), got ${kind(value)}`);
    }
    out[type] = values;
  }

  const optional: Partial<Record<'pop' | 'srvtype' | 'status', string>> = {};
  for (const k of ['pop', 'srvtype', 'status'] as const) {
    const val = v[k];
    if (val === undefined || val === null) continue;
    if (typeof val !== 'string') return fail(`${k}: expected a string, got ${kind(val)}`);
    if (val.trim() !== '') optional[k] = val.trim();
  }
  const doc: PushDocument = { host: name, timestamp, ok, statusText: String(statusRaw), data: out, ...optional };
  if (optional.status !== undefined && opts.prodStatuses) doc.isProd = opts.prodStatuses.includes(optional.status.toLowerCase());
  return doc;
}

export interface Rejected {
  doc: number;
  line: number;
  /** the document's collection_hostname, once it was read */
  host?: string;
  error: string;
}

export interface IngestSummary {
  stored: number;
  rejected: Rejected[];
  skipped_types: { doc: number; host: string; types: string[] }[];
}

export interface IngestOptions extends ValidateOptions {
  /** told about each rejected document as it is met (the CLI writes it to stderr) */
  onRejected?: (r: Rejected) => void;
  /** told about each stored document (the storage API flags hosts outside the inventory) */
  onStored?: (raw: RawDoc, doc: PushDocument, outcome: PushOutcome) => void;
  /**
   * runs each store call (the run row, each document, the run's end): the storage API passes one
   * that queues the calls of concurrent requests and retries a busy SQLite file; default: call it
   */
  write?: <T>(fn: () => Awaitable<T>) => Promise<T>;
}

/** A document that passed validation, with where it came from. */
export interface CheckedDocument { raw: RawDoc; doc: PushDocument }

export interface CheckedInput {
  /** documents found in the input */
  count: number;
  valid: CheckedDocument[];
  rejected: Rejected[];
}

/** Split and validate every document of `input`; nothing is stored (the storage API checks token patterns in between). */
export function checkDocuments(input: string, opts: IngestOptions = {}): CheckedInput {
  const docs = splitDocuments(input);
  const out: CheckedInput = { count: docs.length, valid: [], rejected: [] };
  for (const raw of docs) {
    const doc = validateDocument(raw, opts);
    if ('error' in doc) {
      const r: Rejected = { doc: raw.index, line: raw.line, ...(doc.host ? { host: doc.host } : {}), error: doc.error };
      out.rejected.push(r);
      opts.onRejected?.(r);
    } else out.valid.push({ raw, doc });
  }
  return out;
}

/**
 * Store the valid documents of a checked input. The push is recorded as a runs row of mode
 * `ingest` with one attempt per stored document, so `hosts`, `status` and the attempts history
 * show it like a collection. Exit code: 0 all stored, 65 some document invalid or none found.
 */
export async function storeDocuments(store: Store, input: CheckedInput, opts: IngestOptions = {}): Promise<{ summary: IngestSummary; exitCode: number }> {
  const write = opts.write ?? (async <T>(fn: () => Awaitable<T>): Promise<T> => fn());
  const summary: IngestSummary = { stored: 0, rejected: input.rejected, skipped_types: [] };
  const runId = await write(() => store.beginRun({ mode: 'ingest', startedAt: new Date(), pid: process.pid, hostname: os.hostname(), threads: 0, workers: 0 }));
  try {
    for (const { raw, doc } of input.valid) {
      const r = await write(() => store.recordPush(runId, doc));
      summary.stored++;
      if (r.skippedTypes.length) summary.skipped_types.push({ doc: raw.index, host: r.host, types: r.skippedTypes });
      opts.onStored?.(raw, doc, r);
    }
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    // Each stored document is committed: say how far it got, so a retry knows what it repeats.
    try { await write(() => store.finishRun(runId, new Date(), 74, JSON.stringify(summary))); } catch { /* the database is the problem */ }
    throw new StorageError(`${e.message} (${summary.stored} of ${input.count} documents were stored before this)`);
  }
  const exitCode = summary.rejected.length > 0 || input.count === 0 ? 65 : 0;
  await write(() => store.finishRun(runId, new Date(), exitCode, JSON.stringify(summary)));
  return { summary, exitCode };
}

/** Validate and store every document of `input` (`jellyfish ingest`). */
export async function ingestText(store: Store, input: string, opts: IngestOptions = {}): Promise<{ summary: IngestSummary; exitCode: number }> {
  return storeDocuments(store, checkDocuments(input, opts), opts);
}
