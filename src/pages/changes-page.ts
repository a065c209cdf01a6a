// `/changes`: the change feed (SPEC §9) with its filters as a GET form, newest first, paged. The
// rows are exactly `jellyfish changes`'s (changesView); a bad time is a 400 page that says what
// it expected, an unknown --host a 404 page with similar names.
import { changesView, type ChangesRequest } from '../app/changes.js';
import { parseTime } from '../app/time-arg.js';
import type { ChangeRow } from '../store/changes.js';
import type { Store } from '../store/store.js';
import { hostHref, html, type Html } from './html.js';
import { badge, page, pager, paginate, pageParam, table, when } from './layout.js';

/** Rows per page of the feed. */
const PAGE_SIZE = 100;
/** The window when the form gives no `since`. */
const DEFAULT_SINCE = '24h';

export const CHANGE_FIELDS = ['since', 'until', 'type', 'subtype', 'host', 'site', 'srvtype', 'prod'] as const;
export type ChangesQuery = Partial<Record<(typeof CHANGE_FIELDS)[number] | 'page', string>>;

export interface PageResult { status: number; body: Html }

/** The change-feed rows as a table (also the front page's latest entries). */
export function changeRowsTable(rows: ChangeRow[], now: number, empty: string): Html {
  return table(['When', 'Host', 'Type', 'Subtype', 'Change', 'Old', 'New'], rows.map((r) => [
    html`<td class="when">${when(r.at, now)}</td>`,
    html`<td><a href="${hostHref(r.host)}">${r.host}</a></td>`,
    html`<td>${r.type ?? ''}</td>`,
    html`<td class="mono">${r.subtype ?? ''}</td>`,
    html`<td>${badge(r.change, r.change === 'new_host' ? 'new host' : r.change)}</td>`,
    html`<td class="value">${r.old ?? ''}</td>`,
    html`<td class="value">${r.new ?? ''}</td>`,
  ]), empty);
}

/** A comma-separated list (sites, srvtypes), as the CLI's repeated or comma-joined flags. */
const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function form(q: ChangesQuery, types: string[]): Html {
  const field = (name: (typeof CHANGE_FIELDS)[number], label: string, placeholder: string, extra?: Html) =>
    html`<label>${label}<input type="text" name="${name}" value="${q[name] ?? ''}" placeholder="${placeholder}"${extra ?? ''}></label>`;
  return html`<form class="filters" method="get" action="/changes">
${field('since', 'Since', DEFAULT_SINCE)}
${field('until', 'Until', 'now')}
${field('type', 'Type', 'any', html` list="fact-types"`)}
${field('subtype', 'Subtype', 'any')}
${field('host', 'Host', 'any')}
${field('site', 'Site (pop)', 'any, or a,b')}
${field('srvtype', 'Server type', 'any, or a,b')}
<label class="check"><input type="checkbox" name="prod" value="1"${q.prod ? html` checked` : ''}> production hosts only</label>
<datalist id="fact-types">${types.map((t) => html`<option value="${t}"></option>`)}</datalist>
<button type="submit">Show</button>
</form>`;
}

export async function changesPage(store: Store, q: ChangesQuery, now = Date.now()): Promise<PageResult> {
  const types = await store.factTypes();
  const problems: string[] = [];
  const time = (name: 'since' | 'until', text: string | undefined, dflt: number): number => {
    if (text === undefined || text.trim() === '') return dflt;
    const ms = parseTime(text, now);
    if (ms === undefined) {
      problems.push(`${name} ${JSON.stringify(text)}: give an ISO 8601 date or date-time (2026-12-01, 2026-12-01T02:00Z; no offset = UTC) or an age (30m, 24h, 7d, 2w)`);
      return dflt;
    }
    return ms;
  };
  const since = time('since', q.since, parseTime(DEFAULT_SINCE, now)!);
  const until = time('until', q.until, now + 1);
  if (!problems.length && since >= until) problems.push(`since must come before until (${new Date(since).toISOString()} is not before ${new Date(until).toISOString()})`);
  const frame = (status: number, content: Html): PageResult => ({
    status,
    body: page({ title: 'Changes', section: 'changes', now, body: html`<h1>Changes</h1>
<p class="sub">Every fact that appeared, changed or disappeared in the window, fleet-wide; newest first. The same rows as <span class="mono">jellyfish changes</span>.</p>
<section class="panel">${form(q, types)}${content}</section>` }),
  });
  if (problems.length) return frame(400, html`${problems.map((p) => html`<p class="warn">${p}</p>`)}`);

  const req: ChangesRequest = {
    since, until,
    ...(q.type ? { type: q.type } : {}),
    ...(q.subtype ? { subtype: q.subtype } : {}),
    ...(q.host ? { host: q.host } : {}),
    ...(list(q.site).length ? { sites: list(q.site) } : {}),
    ...(list(q.srvtype).length ? { srvtypes: list(q.srvtype) } : {}),
    ...(q.prod && q.prod !== '0' ? { prod: true } : {}),
  };
  const view = await changesView(store, req);
  if ('unknownHost' in view) {
    return frame(404, html`<p class="warn">Host ${view.unknownHost} is not in the database (hosts are named as in the inventory).</p>
${view.similar.length ? html`<p>Similar: ${view.similar.map((s, i) => html`${i ? ', ' : ''}<a href="${hostHref(s)}">${s}</a>`)}</p>` : ''}`);
  }
  const newestFirst = [...view.changes].reverse();
  const p = paginate(newestFirst, pageParam(q.page), PAGE_SIZE);
  const keep = Object.fromEntries(CHANGE_FIELDS.map((f) => [f, q[f]]));
  return frame(200, html`<p class="sub">${view.count.toLocaleString('en')} rows from ${when(view.since, now)} to ${when(view.until, now)}${view.new_hosts ? `, ${view.new_hosts} new hosts` : ''}.</p>
${changeRowsTable(p.items, now, 'Nothing changed in this window.')}
${pager(p, '/changes', keep)}`);
}
