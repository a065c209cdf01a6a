// `/hosts/:host`: one host. Its inventory row, its last attempts with their error codes, its
// current facts by type (searchable through a GET form, paged), and the history of every fact
// that changed as a timeline: when each value appeared and when it was last seen, and its audit
// results (failing since, fixed at: `facts HOST --audits`). An unknown name is a 404 page with
// similar names.
import { factsView } from '../app/facts-view.js';
import { hostAuditsView, type HostAuditEntry } from '../audits/audits-view.js';
import { hostRecord, type HostRecord } from '../app/hosts-view.js';
import { compareNatural } from '../collections/parse.js';
import type { FactInterval, HostRef } from '../store/queries.js';
import type { Store } from '../store/store.js';
import { hostHref, html, queryString, type Html } from './html.js';
import { age, badge, duration, page, pager, paginate, pageParam, table, when } from './layout.js';
import type { PageResult } from './changes-page.js';
import { timeline, type Span } from './svg.js';
import { auditHref } from './audits-page.js';
import { shortTime } from '../report/table.js';

/** Attempts shown; current facts and changed facts per page. */
const ATTEMPTS = 10;
const FACTS_PAGE = 100;
const HISTORY_PAGE = 25;

export interface HostQuery { q?: string; type?: string; page?: string; hpage?: string }

const matches = (f: { subtype: string; value: string; type: string }, text: string) =>
  text === '' || f.subtype.toLowerCase().includes(text) || f.value.toLowerCase().includes(text) || f.type.toLowerCase().includes(text);

function inventory(row: HostRecord | undefined, now: number): Html {
  if (!row) return html`<p class="empty">Not in the hosts table.</p>`;
  return html`<dl class="inv">
<dt>Production</dt><dd>${row.prod ? 'yes' : 'no'}</dd>
<dt>Status</dt><dd>${row.status ?? '-'}</dd>
<dt>Server type</dt><dd>${row.srvtype ?? '-'}</dd>
<dt>Site (pop)</dt><dd>${row.pop ?? '-'}</dd>
<dt>Last attempt</dt><dd>${age(row.last_attempt_at, now)} ${badge(row.last_outcome)} <span class="mono">${row.last_code ?? ''}</span></dd>
<dt>Last success</dt><dd>${age(row.last_success_at, now)}</dd>
<dt>Agent push</dt><dd>${row.sapi_at ? age(row.sapi_at, now) : '-'}</dd>
${row.last_message ? html`<dt>Last message</dt><dd class="mono">${row.last_message}</dd>` : ''}
</dl>`;
}

/** The host's audit results, failing and most urgent first, each with since when (and for a pass after a fail, when it was fixed). */
function auditsBlock(results: HostAuditEntry[], now: number): Html {
  const failing = results.filter((r) => r.result === 'fail' && !r.stale).length;
  return html`<p class="sub">${results.length ? html`${failing} failing of ${results.length} audits that apply to this host.` : ''} <a href="/audits">Every audit →</a></p>
${table(['Audit', 'Priority#', 'Result', 'Since', 'Fixed at', 'Last evaluated'], results.map((r) => [
    html`<td><a href="${auditHref(r.audit)}">${r.audit}</a></td>`,
    html`<td class="num">${r.priority}</td>`,
    html`<td data-result="${r.result}">${badge(r.result)}${r.stale ? html` <span class="note" title="no fresh collection at the last analyze: kept, not counted">stale</span>` : ''}</td>`,
    html`<td class="when">${when(r.since, now)}${r.result === 'fail' ? html` <span class="note">(${age(r.since, now)})</span>` : ''}</td>`,
    html`<td class="when">${r.fixed_at ? when(r.fixed_at, now) : ''}</td>`,
    html`<td class="when">${age(r.last_seen, now)}</td>`,
  ]), 'No audit applies to this host, or no analyze has run yet (jellyfish analyze).')}`;
}

interface KeyHistory { type: string; subtype: string; intervals: FactInterval[] }

/** Keys (type, subtype) with more than one interval, or whose only one closed: the facts that changed. */
function changedKeys(history: FactInterval[]): KeyHistory[] {
  const byKey = new Map<string, KeyHistory>();
  for (const f of history) {
    const k = `${f.type}\u0000${f.subtype}`;
    let h = byKey.get(k);
    if (!h) byKey.set(k, (h = { type: f.type, subtype: f.subtype, intervals: [] }));
    h.intervals.push(f);
  }
  return [...byKey.values()].filter((h) => h.intervals.length > 1 || !h.intervals[0]!.current);
}

function historyBlock(keys: KeyHistory[], start: number, now: number): Html {
  const rows = keys.map((k) => {
    const spans: Span[] = k.intervals.map((f) => ({ value: f.value, from: Date.parse(f.firstSeen), to: Date.parse(f.lastSeen), current: f.current }));
    const last = k.intervals[k.intervals.length - 1]!;
    return [
      html`<td class="key" data-key="${`${k.type}/${k.subtype}`}"><span class="type">${k.type}</span> <span class="mono">${k.subtype}</span></td>`,
      html`<td class="tl">${timeline(spans, start, now)}</td>`,
      html`<td><details><summary>${last.current ? html`<span class="mono">${last.value}</span>` : badge('removed', 'gone')} <span class="empty">(${k.intervals.length} ${k.intervals.length === 1 ? 'value' : 'values'})</span></summary>
${table(['Value', 'First seen', 'Last seen', 'State'], k.intervals.map((f) => [
      html`<td class="value">${f.value}</td>`,
      html`<td class="when">${when(f.firstSeen, now)}</td>`,
      html`<td class="when">${when(f.lastSeen, now)}</td>`,
      html`<td>${f.current ? badge('ok', 'current') : badge('removed', 'gone')}</td>`,
    ]))}</details></td>`,
    ];
  });
  return html`<div class="timeline">${table(['Fact', `Timeline ${shortTime(new Date(start).toISOString())} → now`, 'Current value (open: every value)'], rows)}</div>`;
}

export async function hostPage(store: Store, name: string, q: HostQuery, now = Date.now()): Promise<PageResult> {
  // The facts question (every interval, oldest first); an unknown host comes back with similar names.
  const answer = await factsView(store, name, { history: true });
  if ('unknownHost' in answer) {
    const { similar } = answer;
    return {
      status: 404,
      body: page({ title: 'Unknown host', section: 'none', now, body: html`<h1>Unknown host</h1>
<section class="panel"><p class="warn">${name} is not in the database (hosts are named as in the inventory).</p>
${similar.length ? html`<p>Similar names:</p><ul>${similar.map((s) => html`<li><a href="${hostHref(s)}">${s}</a></li>`)}</ul>` : html`<p class="empty">No stored name contains it.</p>`}
</section>` }),
    };
  }
  const ref: HostRef = (await store.findHost(answer.view.host))!;
  const history: FactInterval[] = answer.view.facts.map((f) => ({ type: f.type, subtype: f.subtype, value: f.value, firstSeen: f.first_seen, lastSeen: f.last_seen, current: f.current }));
  const stored = await store.hostRow(ref);
  const row = stored ? hostRecord(stored) : undefined;
  const attempts = await store.hostAttempts(ref, ATTEMPTS);
  const audits = await hostAuditsView(store, ref.id);
  const types = [...new Set(history.map((f) => f.type))].sort(compareNatural);
  const text = (q.q ?? '').trim().toLowerCase();
  const type = q.type && types.includes(q.type) ? q.type : undefined;
  const current = history.filter((f) => f.current && (type === undefined || f.type === type) && matches(f, text));
  const factPage = paginate(current, pageParam(q.page), FACTS_PAGE);
  const changed = changedKeys(history.filter((f) => (type === undefined || f.type === type))).filter((k) => k.intervals.some((f) => matches(f, text)));
  const histPage = paginate(changed, pageParam(q.hpage), HISTORY_PAGE);
  const start = Math.min(now - 3_600_000, ...history.map((f) => Date.parse(f.firstSeen)));
  const keep = { q: q.q, type };
  const self = hostHref(ref.name);

  let previous: string | undefined;
  const factRows = factPage.items.map((f) => {
    const first = f.type !== previous;
    previous = f.type;
    return [
      html`<td class="type">${first ? f.type : ''}</td>`,
      html`<td class="mono">${f.subtype}</td>`,
      html`<td class="value">${f.value}</td>`,
      html`<td class="when">${when(f.firstSeen, now)}</td>`,
      html`<td class="when">${age(f.lastSeen, now)}</td>`,
    ];
  });

  const body = html`<h1>${ref.name}</h1>
<p class="sub">${row?.srvtype ?? ''}${row?.pop ? ` · ${row.pop}` : ''}${row?.status ? ` · ${row.status}` : ''} · ${current.length === 0 && !text && !type ? 'no current facts' : `${history.filter((f) => f.current).length.toLocaleString('en')} current facts`}</p>
<div class="grid">
<section class="panel" id="inventory"><h2>Inventory</h2>${inventory(row, now)}</section>
<section class="panel" id="attempts"><h2>Last attempts</h2>
${table(['When', 'Run', 'Outcome', 'Code', 'Took#', 'Failed'], attempts.map((a) => [
    html`<td class="when">${when(a.finishedAt, now)}</td>`,
    html`<td class="code">${a.mode} #${a.runId}</td>`,
    html`<td>${badge(a.outcome)}</td>`,
    html`<td class="code" title="${a.message ?? ''}">${a.code ?? ''}</td>`,
    html`<td class="num">${duration(a.durationMs)}</td>`,
    html`<td class="mono">${a.failedTypes.join(' ')}</td>`,
  ]), 'No attempt recorded.')}
</section>
</div>
<section class="panel" id="audits"><h2>Audit results</h2>
${auditsBlock(audits, now)}
</section>
<section class="panel slim" id="search">
<form class="filters" method="get" action="${self}">
<label>Search this host's facts (history and current)<input type="search" name="q" value="${q.q ?? ''}" placeholder="subtype or value"></label>
<label>Type<select name="type"><option value="">all types</option>${types.map((t) => html`<option value="${t}"${t === type ? html` selected` : ''}>${t}</option>`)}</select></label>
<button type="submit">Filter</button>${text || type ? html` <a href="${self}">clear</a>` : ''}
</form>
</section>
<section class="panel" id="history"><h2>History of the facts that changed</h2>
<p class="sub">Each value from when it was first seen to when it was last seen (hover for the dates); the current one runs to now.</p>
${changed.length ? historyBlock(histPage.items, start, now) : html`<p class="empty">${text || type ? 'No changed fact matches.' : 'No fact of this host has changed.'}</p>`}
${pager(histPage, self, { ...keep, page: q.page }, 'hpage')}
</section>
<section class="panel" id="facts"><h2>Current facts</h2>
${table(['Type', 'Subtype', 'Value', 'Since', 'Last seen'], factRows, text || type ? 'No current fact matches.' : 'No current facts.')}
${pager(factPage, self, { ...keep, hpage: q.hpage })}
</section>
<p><a href="${`/changes${queryString({ host: ref.name, since: '30d' })}`}">This host in the change feed (30 days) →</a></p>`;
  return { status: 200, body: page({ title: ref.name, section: 'host', now, body }) };
}
