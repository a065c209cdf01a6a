// `ingest`: collection documents pushed by a host agent, in the old collection JSON format.
// Each document is validated on its own (a clear error names it and the field) and stored in its
// own transaction, so one bad document never half-stores or blocks the others.
import { parseHostField } from '../inventory/csv.js';
import type { PushDocument } from '../store/store.js';

export interface RawDoc {
  index: number;
  line: number;
  text: string;
}

/** Split input into JSON documents: one array, one object, NDJSON, or objects back to back. */
export function splitDocuments(input: string): RawDoc[] {
  const text = input.replace(/^\uFEFF/, '');
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const arr = JSON.parse(trimmed) as unknown[];
      if (Array.isArray(arr)) return arr.map((v, i) => ({ index: i + 1, line: 1, text: JSON.stringify(v) }));
    } catch { /* fall through: reported per document below */ }
  }
  const docs: RawDoc[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') { inString = true; if (start < 0) { start = i; startLine = line; } continue; }
    if (ch === '{' || ch === '[') { if (depth === 0) { start = i; startLine = line; } depth++; continue; }
    if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0 && start >= 0) { docs.push({ index: docs.length + 1, line: startLine, text: text.slice(start, i + 1) }); start = -1; }
      if (depth < 0) { docs.push({ index: docs.length + 1, line, text: text.slice(i) }); return docs; }
      continue;
    }
    if (depth === 0 && !/\s/.test(ch ?? '')) {
      // Junk between documents: take the rest of the line as one bad document.
      const end = text.indexOf('\n', i);
      docs.push({ index: docs.length + 1, line, text: text.slice(i, end < 0 ? undefined : end) });
      if (end < 0) break;
      i = end - 1;
    }
  }
  if (depth > 0 && start >= 0) docs.push({ index: docs.length + 1, line: startLine, text: text.slice(start) });
  return docs;
}

const OK_STATUSES = new Set(['ok', 'success', 'succeeded', 'done', '0', 'true']);
/** A pushed timestamp this far ahead of our clock is a broken agent clock, not the future. */
const MAX_CLOCK_SKEW_MS = 60 * 60 * 1000;

export function validateDocument(raw: RawDoc, now = Date.now()): PushDocument | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(raw.text);
  } catch (e) {
    return { error: `not valid JSON (${(e as Error).message})` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected a JSON object' };
  const d = v as Record<string, unknown>;
  const host = d.collection_hostname;
  if (typeof host !== 'string' || host.trim() === '') return { error: 'collection_hostname: expected a non-empty string' };
  const parsed = parseHostField(host.trim());
  if ('reason' in parsed) return { error: `collection_hostname: ${parsed.reason}` };
  const ts = d.collection_timestamp;
  let timestamp: number;
  if (typeof ts === 'number' && Number.isFinite(ts)) timestamp = ts > 1e11 ? ts : ts * 1000;
  else if (typeof ts === 'string' && ts.trim() !== '' && Number.isFinite(Date.parse(ts))) timestamp = Date.parse(ts);
  else if (typeof ts === 'string' && /^\d+(\.\d+)?$/.test(ts.trim())) timestamp = Number(ts) * 1000;
  else return { error: 'collection_timestamp: expected an ISO 8601 time or epoch seconds' };
  if (timestamp > now + MAX_CLOCK_SKEW_MS) return { error: `collection_timestamp: ${new Date(timestamp).toISOString()} is in the future` };
  const statusRaw = d.collection_status ?? 'ok';
  if (!['string', 'number', 'boolean'].includes(typeof statusRaw)) return { error: 'collection_status: expected a string' };
  const statusText = String(statusRaw);
  const data = d.collection_data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { error: 'collection_data: expected an object of {type: {subtype: value}}' };
  const out: Record<string, Record<string, string>> = {};
  for (const [type, subs] of Object.entries(data as Record<string, unknown>)) {
    if (typeof subs !== 'object' || subs === null || Array.isArray(subs)) return { error: `collection_data.${type}: expected an object of {subtype: value}` };
    const values: Record<string, string> = {};
    for (const [sub, value] of Object.entries(subs as Record<string, unknown>)) {
      if (typeof value === 'string') values[sub] = value.replace(/\u0000/g, '\uFFFD');
      else if (typeof value === 'number' || typeof value === 'boolean') values[sub] = String(value);
      else return { error: `collection_data.${type}.${sub}: expected a string (or number/boolean), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` };
    }
    out[type] = values;
  }
  const opt = (k: string): string | undefined => (typeof d[k] === 'string' ? (d[k] as string) : undefined);
  const pop = opt('pop');
  const srvtype = opt('srvtype');
  const status = opt('status');
  return {
    host: host.trim(),
    timestamp,
    ok: OK_STATUSES.has(statusText.trim().toLowerCase()),
    statusText,
    data: out,
    ...(pop !== undefined ? { pop } : {}),
    ...(srvtype !== undefined ? { srvtype } : {}),
    ...(status !== undefined ? { status } : {}),
  };
}
