// The output formats of the read commands (SPEC §9): the terminal table, one JSON document,
// ndjson (one JSON object a line, for jq and log pipelines) and csv (RFC 4180, for spreadsheets
// and awk). Pure: a command describes its answer once, each format takes the part it needs.
import { renderJson, renderJsonChunks } from './status-json.js';
import { tableLines } from './table.js';

export const OUTPUT_FORMATS = ['table', 'json', 'ndjson', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputOptions {
  format: OutputFormat;
  /** json on one line */
  compact: boolean;
  /** table and csv header rows (`--no-headers` drops them) */
  headers: boolean;
}

/** A read command's answer, in the shapes the formats print. */
export interface Printable {
  /** `--format json`: the whole answer, one document */
  json(): unknown;
  /** `--format table`: aligned columns (cells escaped for the terminal), or ready text */
  table(): { headers: string[]; rows: string[][] } | string;
  /** ndjson lines and csv rows: one flat record per row; csv prints `columns`, in that order */
  columns?: readonly string[];
  records?(): Record<string, unknown>[];
}

/** One csv field: quoted when it holds a comma, a quote, CR or LF; quotes doubled (RFC 4180 §2). */
export function csvField(value: unknown): string {
  const text = value === null || value === undefined ? ''
    : typeof value === 'object' ? renderJson(value, true) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The csv header row. */
function csvHeader(columns: readonly string[]): string {
  return `${columns.map(csvField).join(',')}\r\n`;
}

/** One csv record: CRLF line end (RFC 4180 §2.1). */
function csvLine(columns: readonly string[], r: Record<string, unknown>): string {
  return `${columns.map((c) => csvField(r[c])).join(',')}\r\n`;
}

/** One compact JSON object (sorted keys) and its newline. */
function ndjsonLine(r: unknown): string {
  return `${renderJson(r, true)}\n`;
}

/** Rows of fields, CRLF line ends, the header row first unless left out. */
export function renderCsv(columns: readonly string[], records: Record<string, unknown>[], headers = true): string {
  return (headers ? csvHeader(columns) : '') + records.map((r) => csvLine(columns, r)).join('');
}

/** One compact JSON object (sorted keys) per line. */
export function renderNdjson(records: unknown[]): string {
  return records.map(ndjsonLine).join('');
}

/**
 * The answer in the asked format, piece by piece (a line, a list element): an answer of millions
 * of rows is written as it is made, never held as one string.
 */
export function* outputChunks(o: OutputOptions, p: Printable): Generator<string> {
  switch (o.format) {
    case 'json':
      yield* renderJsonChunks(p.json(), o.compact);
      yield '\n';
      return;
    case 'table': {
      const t = p.table();
      if (typeof t === 'string') yield t;
      else yield* tableLines(t.headers, t.rows, o.headers);
      return;
    }
    case 'ndjson':
    case 'csv': {
      if (!p.records || !p.columns) throw new Error(`this command has no ${o.format} form`);
      const columns = p.columns;
      if (o.format === 'csv' && o.headers) yield csvHeader(columns);
      for (const r of p.records()) yield o.format === 'csv' ? csvLine(columns, r) : ndjsonLine(r);
    }
  }
}

/**
 * ndjson lines or csv rows (header first unless left out) of records coming in batches, a batch
 * of text at a time. `flat`: every record is flat (no object values) with its keys already in
 * sorted order, so an ndjson line is JSON.stringify's text as it is (renderJson's, without its check).
 */
export async function* streamedRecordChunks(o: OutputOptions, columns: readonly string[], batches: AsyncIterable<readonly Record<string, unknown>[]>, flat = false): AsyncGenerator<string> {
  if (o.format === 'csv' && o.headers) yield csvHeader(columns);
  for await (const batch of batches) {
    const parts: string[] = [];
    for (const r of batch) parts.push(o.format === 'csv' ? csvLine(columns, r) : flat ? `${JSON.stringify(r)}\n` : ndjsonLine(r));
    yield parts.join('');
  }
}

export function renderOutput(o: OutputOptions, p: Printable): string {
  return [...outputChunks(o, p)].join('');
}
