// The output formats of the read commands (SPEC §9): the terminal table, one JSON document,
// ndjson (one JSON object a line, for jq and log pipelines) and csv (RFC 4180, for spreadsheets
// and awk). Pure: a command describes its answer once, each format takes the part it needs.
import { renderJson } from './status-json.js';
import { renderTable } from './table.js';

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

/** Rows of fields, CRLF line ends (RFC 4180 §2.1), the header row first unless left out. */
export function renderCsv(columns: readonly string[], records: Record<string, unknown>[], headers = true): string {
  const lines = records.map((r) => columns.map((c) => csvField(r[c])).join(','));
  if (headers) lines.unshift(columns.map(csvField).join(','));
  return lines.map((l) => `${l}\r\n`).join('');
}

/** One compact JSON object (sorted keys) per line. */
export function renderNdjson(records: unknown[]): string {
  return records.map((r) => `${renderJson(r, true)}\n`).join('');
}

export function renderOutput(o: OutputOptions, p: Printable): string {
  switch (o.format) {
    case 'json':
      return renderJson(p.json(), o.compact) + '\n';
    case 'table': {
      const t = p.table();
      return typeof t === 'string' ? t : renderTable(t.headers, t.rows, { headers: o.headers });
    }
    case 'ndjson':
    case 'csv': {
      if (!p.records || !p.columns) throw new Error(`this command has no ${o.format} form`);
      return o.format === 'csv' ? renderCsv(p.columns, p.records(), o.headers) : renderNdjson(p.records());
    }
  }
}
