// Terminal tables for the read commands: aligned columns, relative ages. Hand-written rather than
// cli-table3: left-aligned plain-text columns are all we need (no borders, colours or wrapping),
// plain output pastes cleanly into tickets and greps well, and it saves a dependency.

/**
 * One table cell or line of text, safe to print: fact values, type names and error messages come
 * from remote hosts (a server's DISCONNECT text, a pushed document), so a C0 or C1 control
 * character (ESC and the ANSI sequences it starts, a carriage return) is shown as `\xNN`, never
 * sent to the operator's terminal; printable Unicode stays as it is. Tabs and newlines are shown
 * as `\t` and `\n` for the same reason: one line printed is one line seen. Every table cell, every
 * stderr line (log.ts) and every line of text a command prints goes through it.
 */
export function cell(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** A multi-line value as its first line plus how much was left out (JSON carries the whole value). */
export function firstLine(value: string): string {
  const lines = value.replace(/\r?\n$/, '').split(/\r?\n/);
  if (lines.length <= 1) return value;
  return `${lines[0] ?? ''} … (+${lines.length - 1} lines)`;
}

/**
 * Headers, a dashed rule, then one line per row; every column padded to its widest cell but the
 * last (no trailing blanks). Cells are escaped with `cell`. Without headers (`--no-headers`, for
 * `while read` loops and awk) only the rows are printed, padded to their own widths.
 */
export function renderTable(headers: string[], rows: string[][], opts: { headers?: boolean } = {}): string {
  return [...tableLines(headers, rows, opts.headers ?? true)].join('');
}

/** renderTable's lines (each ending in a newline), made one at a time; `headers` false leaves out the header and rule. */
export function* tableLines(headers: string[], rows: string[][], withHeaders = true): Generator<string> {
  const safe = rows.map((r) => headers.map((_, i) => cell(r[i] ?? '')));
  // A loop, not Math.max(...column): a spread of a million cells overflows the call stack.
  const widths = headers.map((h) => (withHeaders ? h.length : 0));
  for (const r of safe) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? '').length);
  const line = (cells: string[]) => `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()}\n`;
  if (withHeaders) {
    yield line(headers);
    yield line(widths.map((w) => '-'.repeat(w)));
  }
  for (const r of safe) yield line(r);
}

/** `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`, or `never`; a time ahead of ours (clock skew) reads `in 5m`. */
export function relativeAge(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  if (Math.abs(ms) < 1000) return 'just now';
  const span = shortSpan(Math.abs(ms) / 1000);
  return ms < 0 ? `in ${span}` : `${span} ago`;
}

/** The largest whole unit: `42s`, `5m`, `3h`, `2d`. */
function shortSpan(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** An elapsed time with two units where it matters: `42s`, `5m 03s`, `3h 04m`, `2d 03h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${two(Math.floor((s % 86_400) / 3600))}h`;
}

/** `2026-11-23 02:00Z`: a stored ISO time, to the minute, for table columns. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}Z`;
}
