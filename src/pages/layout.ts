// The frame of every page (head, navigation, host jump box, footer) and the small pieces pages
// share: times, badges, tables, pagers. Everything here goes through html``, so a value from a
// host is escaped wherever it lands.
import { html, queryString, raw, type Html, type Part } from './html.js';
import { formatDuration, relativeAge, shortTime } from '../report/table.js';

export type Section = 'fleet' | 'changes' | 'audits' | 'host' | 'none';

export interface PageFrame {
  title: string;
  section: Section;
  body: Part;
  /** when the page was made (footer) */
  now: number;
}

export function page(f: PageFrame): Html {
  const here = (s: Section) => (f.section === s ? 'here' : undefined);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${f.title} · jellyfish</title>
<link rel="stylesheet" href="/static/jellyfish.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<header class="top"><div class="bar">
<a class="brand" href="/">jelly<span>fish</span></a>
<nav><a href="/" class="${here('fleet')}">Fleet</a><a href="/changes" class="${here('changes')}">Changes</a><a href="/audits" class="${here('audits')}">Audits</a></nav>
<form class="jump" method="get" action="/hosts" role="search"><input type="search" name="name" placeholder="Go to host…" aria-label="Host name" required><button type="submit">Go</button></form>
</div></header>
<main>
${f.body}
</main>
<footer>Rendered ${shortTime(new Date(f.now).toISOString())} (times in UTC).</footer>
</body>
</html>
`;
}

/** An ISO time as `2026-11-23 02:00Z` with its age in a tooltip (the exact time for a copy). */
export function when(iso: string | null | undefined, now: number): Html {
  if (!iso) return html`<span class="empty">never</span>`;
  return html`<time datetime="${iso}" title="${iso}">${shortTime(iso)}</time>`;
}

/** `3h ago`, with the exact time as the tooltip. */
export function age(iso: string | null | undefined, now: number): Html {
  if (!iso) return html`<span class="badge never">never</span>`;
  return html`<time datetime="${iso}" title="${shortTime(iso)}">${relativeAge(iso, now)}</time>`;
}

export function duration(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '-' : ms < 1000 ? `${Math.round(ms)} ms` : formatDuration(ms / 1000);
}

/** A CSS class name from a stored word (outcomes, change kinds): letters, digits, _ and - only. */
export function cls(word: string | null | undefined): string {
  return (word ?? 'never').toLowerCase().replace(/[^a-z0-9_-]/g, '-');
}

export function badge(word: string | null | undefined, text?: string): Html {
  return html`<span class="badge ${cls(word)}">${text ?? word ?? 'never'}</span>`;
}

/** A table that scrolls sideways on a narrow screen; headers ending in `#` are numeric columns. */
export function table(headers: string[], rows: Part[][], empty = 'Nothing to show.'): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  const numeric = headers.map((h) => h.endsWith('#'));
  return html`<div class="scroll"><table>
<thead><tr>${headers.map((h, i) => html`<th class="${numeric[i] ? 'num' : undefined}">${numeric[i] ? h.slice(0, -1) : h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r}</tr>\n`)}</tbody>
</table></div>`;
}

/** One page of a list: the slice, and where the others are. Page numbers count from 1. */
export interface Paged<T> { items: T[]; page: number; pages: number; total: number }

export function paginate<T>(all: T[], page: number, size: number): Paged<T> {
  const pages = Math.max(1, Math.ceil(all.length / size));
  const p = Math.min(Math.max(1, page), pages);
  return { items: all.slice((p - 1) * size, p * size), page: p, pages, total: all.length };
}

/** Previous / next links that keep the other parameters; `key` is the page parameter's name. */
export function pager(p: Paged<unknown>, path: string, params: Record<string, string | undefined>, key = 'page'): Html {
  if (p.pages <= 1) return raw('');
  const link = (n: number) => `${path}${queryString({ ...params, [key]: n === 1 ? undefined : String(n) })}`;
  return html`<div class="pager">${p.page > 1 ? html`<a href="${link(p.page - 1)}" rel="prev">← Previous</a>` : ''}
<span>Page ${p.page} of ${p.pages} (${p.total.toLocaleString('en')})</span>
${p.page < p.pages ? html`<a href="${link(p.page + 1)}" rel="next">Next →</a>` : ''}</div>`;
}

/** A positive page number from a query parameter (anything else is page 1). */
export function pageParam(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,6}$/.test(v) ? Number(v) : 1;
  return n >= 1 ? n : 1;
}
