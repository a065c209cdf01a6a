// `/audits` and `/audits/{name}` (SPEC §12): the audit list with its pass/fail/exempt counts and
// failing production hosts, and one audit's hosts with failing since and fixed at, beside its
// counts over the analyze runs (the collate rows) as a chart. The same views `jellyfish audits`
// prints (audits/audits-view.ts); the filters are a GET form.
import { auditDetailView, auditListView, type AuditsRequest } from '../audits/audits-view.js';
import type { Store } from '../store/store.js';
import { hostHref, html, type Html } from './html.js';
import { badge, page, pager, paginate, pageParam, table, when } from './layout.js';
import { niceTicks } from './svg.js';

export const AUDIT_FIELDS = ['failing', 'site', 'srvtype', 'prod', 'page'] as const;
export type AuditsQuery = Partial<Record<(typeof AUDIT_FIELDS)[number], string>>;

const PAGE_SIZE = 100;
const RESULTS = ['pass', 'fail', 'exempt'] as const;

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const checked = (v: string | undefined) => v === '1' || v === 'on' || v === 'true';

function request(q: AuditsQuery): AuditsRequest {
  const sites = list(q.site);
  const srvtypes = list(q.srvtype);
  return {
    ...(checked(q.failing) ? { failing: true } : {}), ...(sites.length ? { sites } : {}),
    ...(srvtypes.length ? { srvtypes } : {}), ...(checked(q.prod) ? { prod: true } : {}),
  };
}

function form(action: string, q: AuditsQuery, failingLabel: string): Html {
  const box = (name: 'failing' | 'prod', label: string) =>
    html`<label class="check"><input type="checkbox" name="${name}" value="1"${checked(q[name]) ? html` checked` : ''}>${label}</label>`;
  return html`<form class="filters" method="get" action="${action}">
${box('failing', failingLabel)}${box('prod', 'production hosts only')}
<label>Site (pop)<input type="text" name="site" value="${q.site ?? ''}" placeholder="any, or a,b"></label>
<label>Server type<input type="text" name="srvtype" value="${q.srvtype ?? ''}" placeholder="any, or a,b"></label>
<button type="submit">Show</button>
</form>`;
}

/** Only web links are links: an audit file is the operator's, but a `javascript:` URL never becomes one. */
function link(url: string, text: string): Html {
  return /^https?:\/\//i.test(url) ? html`<a href="${url}" rel="noreferrer">${text}</a>` : html`<span class="mono">${url}</span>`;
}

export const auditHref = (name: string) => `/audits/${encodeURIComponent(name)}`;

export interface PageResult { status: number; body: Html }

export async function auditsPage(store: Store, q: AuditsQuery, now = Date.now()): Promise<PageResult> {
  const view = await auditListView(store, request(q));
  const paged = paginate(view.audits, pageParam(q.page), PAGE_SIZE);
  const rows = paged.items.map((a) => [
    html`<td><a href="${auditHref(a.name)}">${a.name}</a>${a.vuln_name !== a.name ? html`<div class="note">${a.vuln_name}</div>` : ''}</td>`,
    html`<td class="num">${a.priority}</td>`,
    html`<td class="num">${a.pass}</td>`,
    html`<td class="num">${a.fail ? badge('fail', String(a.fail)) : '0'}</td>`,
    html`<td class="num">${a.exempt}</td>`,
    html`<td>${a.failing_prod_hosts.slice(0, 5).map((h, i) => html`${i ? ', ' : ''}<a href="${hostHref(h)}">${h}</a>`)}${a.failing_prod_hosts.length > 5 ? html` +${a.failing_prod_hosts.length - 5}` : ''}</td>`,
    html`<td class="when">${when(a.last_analyzed, now)}</td>`,
  ]);
  const failing = view.audits.filter((a) => a.fail > 0).length;
  const body = html`<h1>Audits</h1>
<p class="sub">${view.audits.length} audits${view.last_analyzed ? html`, last analyzed ${when(view.last_analyzed, now)}` : ''}; ${failing} failing on some host. Counts are of the hosts the last analyze evaluated.</p>
${form('/audits', q, 'failing audits only')}
<section class="panel">${table(['Audit', 'Priority', 'Pass', 'Fail', 'Exempt', 'Failing production hosts', 'Analyzed'], rows,
    view.audits.length === 0 && !q.failing ? 'No audit analyzed yet: run jellyfish analyze after a run.' : 'No audit matches.')}
${pager(paged, '/audits', { failing: q.failing, site: q.site, srvtype: q.srvtype, prod: q.prod })}</section>`;
  return { status: 200, body: page({ title: 'Audits', section: 'audits', now, body }) };
}

/** Pass / fail / exempt hosts per analyze run, oldest left, as stacked bars. */
export function auditChart(points: { at: string; pass: number; fail: number; exempt: number }[]): Html {
  const W = 760;
  const H = 220;
  const m = { top: 12, right: 16, bottom: 34, left: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const yTicks = niceTicks(Math.max(1, ...points.map((p) => p.pass + p.fail + p.exempt)));
  const yMax = yTicks[yTicks.length - 1]!;
  const slot = pw / Math.max(points.length, 1);
  const bw = Math.max(2, Math.min(26, slot * 0.7));
  const round = (v: number) => Math.round(v * 10) / 10;
  const x = (i: number) => m.left + slot * i + (slot - bw) / 2;
  const y = (v: number) => m.top + ph - (v / yMax) * ph;
  const series = RESULTS.map((key, k) => html`<g class="series" data-series="${key}">${points.map((p, i) => {
    const n = p[key];
    if (!n) return '';
    const below = RESULTS.slice(0, k).reduce((s, r) => s + p[r], 0);
    return html`<rect class="s-${key}" data-count="${n}" x="${round(x(i))}" y="${round(y(below + n))}" width="${round(bw)}" height="${round(y(below) - y(below + n))}"><title>${p.at.slice(0, 16).replace('T', ' ')}Z: ${n} ${key}</title></rect>`;
  })}</g>`);
  const first = points[0];
  const last = points[points.length - 1];
  return html`<svg class="chart audit" viewBox="0 0 ${W} ${H}" role="img" aria-label="Hosts passing, failing and exempt per analyze run">
<g>${yTicks.map((v) => html`<line class="tick" x1="${m.left}" x2="${W - m.right}" y1="${round(y(v))}" y2="${round(y(v))}"/><text x="${m.left - 6}" y="${round(y(v)) + 4}" text-anchor="end">${v.toLocaleString('en')}</text>`)}</g>
<text x="${m.left - 40}" y="${m.top + ph / 2}" transform="rotate(-90 ${m.left - 40} ${m.top + ph / 2})" text-anchor="middle">hosts</text>
${series}
<line class="axis" x1="${m.left}" x2="${W - m.right}" y1="${m.top + ph}" y2="${m.top + ph}"/>
${first ? html`<text x="${m.left}" y="${H - m.bottom + 16}">${first.at.slice(0, 10)}</text>` : ''}
${last && points.length > 1 ? html`<text x="${W - m.right}" y="${H - m.bottom + 16}" text-anchor="end">${last.at.slice(0, 10)}</text>` : ''}
<text x="${m.left + pw / 2}" y="${H - 4}" text-anchor="middle">analyze runs, oldest left</text>
</svg>`;
}

export async function auditPage(store: Store, name: string, q: AuditsQuery, now = Date.now()): Promise<PageResult> {
  const view = await auditDetailView(store, name, request(q));
  if ('unknownAudit' in view) {
    const body = html`<h1>No audit named ${name}</h1><section class="panel"><p>No analyze has evaluated an audit of that name.</p>
${view.similar.length ? html`<p>Similar: ${view.similar.map((s, i) => html`${i ? ', ' : ''}<a href="${auditHref(s)}">${s}</a>`)}</p>` : ''}
<p><a href="/audits">All audits</a></p></section>`;
    return { status: 404, body: page({ title: 'Unknown audit', section: 'audits', now, body }) };
  }
  const [stored] = await store.storedAudits(view.audit.name);
  const collate = stored ? await store.auditCollate(stored.id, 60) : [];
  const byRun = new Map<number, { at: string; pass: number; fail: number; exempt: number }>();
  for (const c of collate) {
    const p = byRun.get(c.runId) ?? { at: c.at, pass: 0, fail: 0, exempt: 0 };
    if (c.result === 'pass' || c.result === 'fail' || c.result === 'exempt') p[c.result] += c.hosts;
    byRun.set(c.runId, p);
  }
  const points = [...byRun.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
  const paged = paginate(view.hosts, pageParam(q.page), PAGE_SIZE);
  const rows = paged.items.map((h) => [
    html`<td><a href="${hostHref(h.host)}">${h.host}</a>${h.prod ? html` <span class="note">prod</span>` : ''}</td>`,
    html`<td>${badge(h.result)}${h.stale ? html` <span class="note">stale</span>` : ''}</td>`,
    html`<td class="when">${when(h.since, now)}</td>`,
    html`<td class="when">${h.fixed_at ? when(h.fixed_at, now) : ''}</td>`,
    html`<td>${h.bucket ?? ''}</td>`,
    html`<td>${h.pop ?? ''}</td>`,
    html`<td>${h.srvtype ?? ''}</td>`,
  ]);
  const a = view.audit;
  const extra = Object.entries(a.links);
  const body = html`<h1>${a.name}</h1>
<p class="sub">${a.vuln_name !== a.name ? html`${a.vuln_name} · ` : ''}priority ${a.priority}${a.primary_link ? html` · ${link(a.primary_link, 'advisory')}` : ''}${extra.map(([label, url]) => html` · ${link(url, label)}`)}</p>
${a.short_description ? html`<p>${a.short_description}</p>` : ''}
<section class="panel"><h2>${view.fail} failing, ${view.pass} passing, ${view.exempt} exempt</h2>
${points.length ? auditChart(points) : html`<p>No analyze run counted this audit yet.</p>`}
<div class="legend">${RESULTS.map((r) => html`<span><i class="sw-${r}"></i>${r}</span>`)}</div></section>
${form(auditHref(a.name), q, 'failing hosts only')}
<section class="panel"><h2>Hosts</h2>${table(['Host', 'Result', 'Since', 'Fixed at', 'Bucket', 'Site', 'Server type'], rows, 'No host has a result for this audit.')}
${pager(paged, auditHref(a.name), { failing: q.failing, site: q.site, srvtype: q.srvtype, prod: q.prod })}</section>
${a.long_description ? html`<section class="panel"><h2>About</h2><p class="prose">${a.long_description}</p><p class="note">From ${a.file}:${a.line}</p></section>` : ''}`;
  return { status: 200, body: page({ title: a.name, section: 'audits', now, body }) };
}
