// A tagged-template HTML builder: every interpolated value is escaped unless it is already Html
// (made by this builder, or marked trusted with `raw`). Hosts are untrusted (a fact value, an
// error message, a host name can hold `<script>`), so the safe way is the default way; no
// template engine, because a page here is a few dozen lines of markup and this is 40 of code.

const HTML = Symbol('html');

/** Markup that is safe to insert as it is. */
export interface Html {
  readonly [HTML]: string;
}

/** What a template accepts: text (escaped), numbers, Html, lists of those; null/undefined/false print nothing. */
export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function isHtml(v: unknown): v is Html {
  return typeof v === 'object' && v !== null && HTML in v;
}

/** Trusted markup, inserted unescaped: only for text this program wrote, never for data. */
export function raw(markup: string): Html {
  return { [HTML]: markup };
}

function render(v: Part): string {
  if (v === null || v === undefined || v === false) return '';
  if (isHtml(v)) return v[HTML];
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + (strings[i + 1] ?? '');
  return raw(out);
}

/** The final text of a page. */
export function toText(h: Html): string {
  return h[HTML];
}

/** A query string from the parameters that are set (values encoded), with a leading `?`, or ''. */
export function queryString(params: Record<string, string | number | undefined | null>): string {
  const set = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return set.length ? `?${set.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}` : '';
}

/** The page of one host: its name is path-encoded, so `../` or `?` in a name stays part of it. */
export function hostHref(name: string): string {
  return `/hosts/${encodeURIComponent(name)}`;
}
