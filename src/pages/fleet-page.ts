// `/`: the fleet at a glance. Hosts by last outcome (with the hosts of one outcome listed, paged),
// production hosts without a recent success (the [gapfix] max_age gap-fix goes by, with how long
// since), the runs of the last 30 days as a chart, the newest analyze's audit failures by priority
// and pop, and the newest entries of the change feed.
import { changesView, type ChangesView } from '../app/changes.js';
import { auditFailuresView, type AuditFailuresView } from '../audits/audits-view.js';
import { hostsView, type HostRecord } from '../app/hosts-view.js';
import { statusView, type StatusView } from '../app/status-view.js';
import { compareNatural } from '../collections/parse.js';
import type { Config } from '../config/load.js';
import { formatDuration as formatSetting } from '../config/values.js';
import { filterHosts, type HostRow } from '../store/queries.js';
import type { Store } from '../store/store.js';
import type { RunTally } from '../store/fleet-history.js';
import { changeRowsTable } from './changes-page.js';
import { hostHref, html, queryString, type Html } from './html.js';
import { age, badge, duration, page, pager, paginate, pageParam, table, when } from './layout.js';
import { outcomeBar, runsChart, runsLegend } from './svg.js';

const DAY = 86_400_000;
/** How far back the runs chart reaches. */
export const RUNS_WINDOW_DAYS = 30;
/** Rows per page of the host lists, and how many change-feed entries the page shows. */
const LIST_PAGE = 25;
const RECENT_CHANGES = 12;
/** Pops shown as columns of the audit failures; the rest are summed into one column. */
const FAILURE_POPS = 10;

/** Success words first, then failures by name, hosts never attempted last. */
const OUTCOME_ORDER = ['ok', 'partial'];
function outcomeRank(o: string): number {
  const i = OUTCOME_ORDER.indexOf(o);
  return i >= 0 ? i : o === 'never' ? 99 : 10;
}

export interface FleetQuery { outcome?: string; page?: string; stale_page?: string }

/** The newest change-feed rows, newest first: a window found by index walks, widened while a new host folds many events into one row. */
async function recentChanges(store: Store, now: number): Promise<{ rows: ChangesView['changes']; since: string | null }> {
  let since: string | null = null;
  for (const n of [RECENT_CHANGES * 2, RECENT_CHANGES * 40, RECENT_CHANGES * 1000]) {
    since = await store.recentChangeStart(n);
    if (since === null) return { rows: [], since };
    const v = await changesView(store, { since: Date.parse(since), until: now + 1 });
    if ('unknownHost' in v) return { rows: [], since };
    if (v.changes.length >= RECENT_CHANGES || n === RECENT_CHANGES * 1000) return { rows: v.changes.slice(-RECENT_CHANGES).reverse(), since };
  }
  return { rows: [], since };
}

/** A hosts-view record as the store's row, for the shared host filters (failed, stale, prod). */
function asRow(r: HostRecord): HostRow {
  return {
    name: r.host, isProd: r.prod, srvtype: r.srvtype, pop: r.pop, status: r.status,
    lastAttemptAt: r.last_attempt_at, lastSuccessAt: r.last_success_at, lastOutcome: r.last_outcome,
    lastCode: r.last_code, lastMessage: r.last_message, sapiAt: r.sapi_at,
  };
}

/** What is running now, from the status question: the lock holders and the runs that never finished. */
function nowLine(status: StatusView, now: number): Html {
  const running = status.active.map((a) => html`<span class="badge partial">${a.mode} running</span> pid ${a.pid ?? '?'} on ${a.host ?? '?'}${a.started_at ? html`, started ${age(a.started_at, now)}` : ''}${a.scope ? ` (${a.scope})` : ''}`);
  const killed = status.unfinished_runs.filter((u) => u.state === 'interrupted').map((u) => html`<span class="badge failed">${u.mode} #${u.run_id} never finished</span> (started ${when(u.started_at, now)})`);
  const parts = [...running, ...killed];
  return html`<p class="sub">Now: ${parts.length ? parts.map((p, i) => html`${i ? '; ' : ''}${p}`) : html`<span class="badge ok">idle</span> no run or gap-fix is active`}.</p>`;
}

function staleFor(h: HostRow, now: number): string {
  return h.lastSuccessAt ? duration(now - Date.parse(h.lastSuccessAt)) : 'never succeeded';
}

function runsSummary(runs: RunTally[]): Html {
  const done = runs.filter((r) => r.finishedAt && r.ok !== null);
  const last = [...done].reverse().find((r) => r.mode === 'run') ?? done[done.length - 1];
  const nights = runs.filter((r) => r.mode === 'run').length;
  const gapfixes = runs.filter((r) => r.mode === 'gap-fix').length;
  return html`<div class="kpis">
<div class="kpi"><b>${nights}</b><span>runs</span></div>
<div class="kpi"><b>${gapfixes}</b><span>gap-fixes</span></div>
${last ? html`<div class="kpi"><b>${last.ok ?? '-'} / ${(last.ok ?? 0) + (last.failed ?? 0) + (last.notStarted ?? 0) + (last.sapi ?? 0)}</b><span>ok in the last ${last.mode} (#${last.id})</span></div>
<div class="kpi"><b>${duration(Date.parse(last.finishedAt!) - Date.parse(last.startedAt))}</b><span>its duration${last.timedOut ? ' (deadline hit)' : ''}</span></div>` : ''}
</div>`;
}

/** A shade class for a count against the largest of its table (0 = none, 1-4 = light to strong). */
function heat(n: number, max: number): string {
  if (n <= 0 || max <= 0) return 'heat0';
  return `heat${Math.min(4, Math.max(1, Math.ceil((4 * n) / max)))}`;
}

/** The newest analyze's failing results by audit priority (rows) and pop (columns), each cell a link to those audits. */
function auditFailuresPanel(v: AuditFailuresView, now: number): Html {
  if (v.run_id === null) {
    return html`<p class="empty">No analyze has run yet: <code>jellyfish analyze</code> evaluates the audits on the fresh hosts.</p>`;
  }
  if (v.priorities.length === 0) {
    return html`<p class="sub">The newest analyze (${when(v.analyzed_at, now)}) found no failing host. <a href="/audits">Every audit →</a></p>`;
  }
  const totals = new Map(v.pops.map((p) => [p, v.priorities.reduce((n, r) => n + (r.by_pop[p] ?? 0), 0)]));
  const shown = [...v.pops].sort((a, b) => (totals.get(b) ?? 0) - (totals.get(a) ?? 0) || compareNatural(a, b)).slice(0, FAILURE_POPS).sort(compareNatural);
  const rest = v.pops.filter((p) => !shown.includes(p));
  const max = Math.max(...v.priorities.flatMap((r) => shown.map((p) => r.by_pop[p] ?? 0)));
  const popLabel = (p: string) => (p === '' ? '(no pop)' : p);
  const headers = ['Priority', 'Audits failing#', 'Failing results#', ...shown.map((p) => `${popLabel(p)}#`), ...(rest.length ? [`${rest.length} other pops#`] : [])];
  const rows = v.priorities.map((r) => [
    html`<td><b>${r.priority}</b></td>`,
    html`<td class="num">${r.audits.toLocaleString('en')}</td>`,
    html`<td class="num">${r.results.toLocaleString('en')}</td>`,
    ...shown.map((p) => {
      const n = r.by_pop[p] ?? 0;
      return html`<td class="num ${heat(n, max)}" data-pop="${p}">${n ? html`<a href="${`/audits${queryString({ failing: '1', site: p || undefined })}`}">${n.toLocaleString('en')}</a>` : ''}</td>`;
    }),
    ...(rest.length ? [html`<td class="num">${rest.reduce((n, p) => n + (r.by_pop[p] ?? 0), 0).toLocaleString('en')}</td>`] : []),
  ]);
  return html`<p class="sub">Failing (audit, host) results of the newest analyze (${when(v.analyzed_at, now)}), by the audit's priority (10 = most urgent) and the host's pop. <a href="/audits?failing=1">The failing audits →</a></p>
${table(headers, rows)}`;
}

export async function fleetPage(store: Store, config: Config, q: FleetQuery, now = Date.now()): Promise<Html> {
  // One hosts question (natural order); the lists below are its rows through the hosts filters.
  const hosts = (await hostsView(store)).hosts.map(asRow);
  const byOutcome = new Map<string, number>();
  for (const h of hosts) byOutcome.set(h.lastOutcome ?? 'never', (byOutcome.get(h.lastOutcome ?? 'never') ?? 0) + 1);
  const counts = [...byOutcome].map(([outcome, count]) => ({ outcome, count }))
    .sort((a, b) => outcomeRank(a.outcome) - outcomeRank(b.outcome) || b.count - a.count || compareNatural(a.outcome, b.outcome));

  const chosen = q.outcome !== undefined && byOutcome.has(q.outcome) ? q.outcome : undefined;
  const listed = chosen !== undefined ? hosts.filter((h) => (h.lastOutcome ?? 'never') === chosen) : filterHosts(hosts, { failed: true });
  const listPage = paginate(listed, pageParam(q.page), LIST_PAGE);

  const maxAge = config.gapfix.maxAgeMs;
  const stale = filterHosts(hosts, { prod: true, staleBefore: now - maxAge })
    .sort((a, b) => ((a.lastSuccessAt ?? '') < (b.lastSuccessAt ?? '') ? -1 : (a.lastSuccessAt ?? '') > (b.lastSuccessAt ?? '') ? 1 : 0));
  const stalePage = paginate(stale, pageParam(q.stale_page), LIST_PAGE);
  const prodCount = hosts.filter((h) => h.isProd).length;

  // The status question over this store (kept open: the proxy's close does nothing).
  const status = await statusView(config, { now, open: async () => Object.create(store, { close: { value: async () => {} } }) as Store });
  const runs = await store.runsSince(new Date(now - RUNS_WINDOW_DAYS * DAY).toISOString());
  const recent = await recentChanges(store, now);
  const failures = await auditFailuresView(store);
  const keep = { outcome: chosen, page: q.page, stale_page: q.stale_page };

  const body = html`<h1>Fleet</h1>
<p class="sub">${hosts.length.toLocaleString('en')} hosts in the database, ${prodCount.toLocaleString('en')} in production.</p>
<div class="grid">
<section class="panel" id="outcomes"><h2>Hosts by last outcome</h2>
${hosts.length ? outcomeBar(counts) : ''}
${table(['Outcome', 'Hosts#'], counts.map((c) => [
    html`<td><a href="${`/${queryString({ outcome: c.outcome })}#hosts`}">${badge(c.outcome)}</a></td>`,
    html`<td class="num" data-outcome="${c.outcome}">${c.count.toLocaleString('en')}</td>`,
  ]), 'No host has been collected yet.')}
</section>
<section class="panel" id="stale"><h2>Stale production hosts <span class="badge ${stale.length ? 'failed' : 'ok'}">${stale.length}</span></h2>
<p class="sub">No success within ${formatSetting(maxAge)} ([gapfix] max_age): what the next gap-fix collects.</p>
${table(['Host', 'Last success', 'Stale for', 'Last outcome'], stalePage.items.map((h) => [
    html`<td><a href="${hostHref(h.name)}">${h.name}</a></td>`,
    html`<td class="when">${age(h.lastSuccessAt, now)}</td>`,
    html`<td class="when">${staleFor(h, now)}</td>`,
    html`<td>${badge(h.lastOutcome)} <span class="mono">${h.lastCode ?? ''}</span></td>`,
  ]), 'Every production host has a recent success.')}
${pager(stalePage, '/', { ...keep, stale_page: undefined }, 'stale_page')}
</section>
</div>
<section class="panel wide" id="runs"><h2>Runs over the last ${RUNS_WINDOW_DAYS} days</h2>
${nowLine(status, now)}
${runsSummary(runs)}
${runs.length ? html`${runsLegend()}${runsChart(runs)}` : html`<p class="empty">No run or gap-fix in the last ${RUNS_WINDOW_DAYS} days.</p>`}
</section>
<section class="panel wide" id="audit-failures"><h2>Audit failures by priority and pop</h2>
${auditFailuresPanel(failures, now)}
</section>
<section class="panel wide" id="hosts"><h2>${chosen !== undefined ? html`Hosts whose last outcome is ${badge(chosen)}` : 'Hosts whose last attempt failed'}</h2>
${table(['Host', 'Prod', 'Last attempt', 'Last success', 'Outcome', 'Code', 'Message'], listPage.items.map((h) => [
    html`<td><a href="${hostHref(h.name)}">${h.name}</a></td>`,
    html`<td>${h.isProd ? 'yes' : 'no'}</td>`,
    html`<td class="when">${age(h.lastAttemptAt, now)}</td>`,
    html`<td class="when">${age(h.lastSuccessAt, now)}</td>`,
    html`<td>${badge(h.lastOutcome)}</td>`,
    html`<td class="code">${h.lastCode ?? ''}</td>`,
    html`<td class="value">${h.lastMessage ?? ''}</td>`,
  ]), chosen !== undefined ? 'No host.' : 'No host failed its last attempt.')}
${pager(listPage, '/', { ...keep, page: undefined })}
</section>
<section class="panel wide" id="changes"><h2>Latest changes</h2>
${recent.since ? html`<p class="sub">The newest entries of the change feed, newest first (since ${when(recent.since, now)}). <a href="/changes">The whole feed →</a></p>` : ''}
${changeRowsTable(recent.rows, now, 'No fact has changed yet.')}
</section>`;
  return page({ title: 'Fleet', section: 'fleet', body, now });
}
