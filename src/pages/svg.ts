// Server-rendered SVG charts: the runs of the last weeks as stacked bars with their duration, the
// fleet's last outcomes as one stacked bar, and a fact's intervals as a timeline. Plain SVG in
// the page (no script, no inline style: colours are stylesheet classes), every number and label
// through html``; each bar segment names its series and count (data-series, data-count) and
// carries a <title>, so a reader, a screen reader and a test all see the figures.
import { html, type Html } from './html.js';
import { cls, duration } from './layout.js';
import { shortTime } from '../report/table.js';
import type { RunTally } from '../store/fleet-history.js';

const round = (n: number) => Math.round(n * 10) / 10;

/** About `count` round steps from 0 to at least `max`: 1, 2 or 5 times a power of ten. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow);
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) {
    ticks.push(Math.round(v * 1e6) / 1e6);
    if (v >= max) break;
  }
  return ticks;
}

export const RUN_SERIES = [
  { key: 'ok', label: 'ok', pick: (r: RunTally) => r.ok },
  { key: 'failed', label: 'failed', pick: (r: RunTally) => r.failed },
  { key: 'not-started', label: 'not started', pick: (r: RunTally) => r.notStarted },
  { key: 'sapi', label: 'pushed (sapi)', pick: (r: RunTally) => r.sapi },
] as const;

/**
 * One bar per run, oldest on the left, evenly spaced (a gap-fix an hour after the nightly run
 * would hide behind it on a time axis), the date under the first run of each day that has room;
 * hosts on the left axis, the run's duration as a line on the right one.
 */
export function runsChart(runs: RunTally[], opts: { width?: number; height?: number } = {}): Html {
  const W = opts.width ?? 760;
  const H = opts.height ?? 260;
  const m = { top: 14, right: 58, bottom: 40, left: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const total = (r: RunTally) => RUN_SERIES.reduce((s, x) => s + (x.pick(r) ?? 0), 0);
  const yTicks = niceTicks(Math.max(1, ...runs.map(total)));
  const yMax = yTicks[yTicks.length - 1]!;
  const durations = runs.map((r) => (r.finishedAt ? Date.parse(r.finishedAt) - Date.parse(r.startedAt) : null));
  const dTicks = niceTicks(Math.max(1, ...durations.map((d) => (d ?? 0) / 1000)));
  const dMax = dTicks[dTicks.length - 1]!;
  const slot = pw / Math.max(runs.length, 1);
  const bw = Math.max(2, Math.min(26, slot * 0.7));
  const x = (i: number) => m.left + slot * i + (slot - bw) / 2;
  const y = (v: number) => m.top + ph - (v / yMax) * ph;
  const yd = (s: number) => m.top + ph - (s / dMax) * ph;

  const series = RUN_SERIES.map((s) => {
    const rects = runs.map((r, i) => {
      const n = s.pick(r);
      if (!n) return '';
      const below = RUN_SERIES.slice(0, RUN_SERIES.findIndex((o) => o.key === s.key)).reduce((sum, o) => sum + (o.pick(r) ?? 0), 0);
      const top = y(below + n);
      return html`<rect class="s-${s.key}" data-run="${r.id}" data-count="${n}" x="${round(x(i))}" y="${round(top)}" width="${round(bw)}" height="${round(y(below) - top)}"><title>${r.mode} #${r.id} ${shortTime(r.startedAt)}: ${n} ${s.label}</title></rect>`;
    });
    return html`<g class="series" data-series="${s.key}">${rects}</g>`;
  });

  const dots = runs.flatMap((r, i) => (durations[i] === null ? [] : [{ cx: x(i) + bw / 2, cy: yd(durations[i]! / 1000), r, ms: durations[i]! }]));
  // One line per mode: a nightly run and the short gap-fix after it are different series.
  const line = (['run', 'gap-fix'] as const).map((mode) => {
    const own = dots.filter((d) => d.r.mode === mode);
    return own.length > 1 ? html`<polyline class="s-duration" data-mode="${mode}" points="${own.map((d) => `${round(d.cx)},${round(d.cy)}`).join(' ')}"/>` : '';
  });
  const dotMarks = dots.map((d) => html`<circle class="s-duration-dot ${d.r.mode}" data-run="${d.r.id}" data-ms="${d.ms}" cx="${round(d.cx)}" cy="${round(d.cy)}" r="2.6"><title>${d.r.mode} #${d.r.id}: ${duration(d.ms)}</title></circle>`);

  // Date labels: the first run of each day, when the previous label is far enough to the left.
  let lastLabel = -Infinity;
  let lastDay = '';
  const xLabels = runs.map((r, i) => {
    const day = r.startedAt.slice(0, 10);
    const cx = x(i) + bw / 2;
    if (day === lastDay || cx - lastLabel < 52) return '';
    lastDay = day;
    lastLabel = cx;
    return html`<text x="${round(cx)}" y="${H - m.bottom + 16}" text-anchor="middle">${day.slice(5)}</text>`;
  });
  const unfinished = runs.map((r, i) => (r.finishedAt ? '' : html`<text x="${round(x(i) + bw / 2)}" y="${m.top + ph - 4}" text-anchor="middle" class="label"><title>${r.mode} #${r.id} has not finished (running, or killed)</title>…</text>`));

  return html`<svg class="chart runs" viewBox="0 0 ${W} ${H}" role="img" aria-label="Runs over the last 30 days: hosts ok, failed, not started per run, and each run's duration">
<g>${yTicks.map((v) => html`<line class="tick" x1="${m.left}" x2="${W - m.right}" y1="${round(y(v))}" y2="${round(y(v))}"/><text x="${m.left - 6}" y="${round(y(v)) + 4}" text-anchor="end">${v.toLocaleString('en')}</text>`)}</g>
<g>${dTicks.map((s) => html`<text x="${W - m.right + 6}" y="${round(yd(s)) + 4}">${duration(s * 1000)}</text>`)}</g>
<text x="${m.left - 40}" y="${m.top + ph / 2}" transform="rotate(-90 ${m.left - 40} ${m.top + ph / 2})" text-anchor="middle">hosts</text>
<text x="${W - 8}" y="${m.top + ph / 2}" transform="rotate(90 ${W - 8} ${m.top + ph / 2})" text-anchor="middle">duration</text>
${series}
${line}${dotMarks}
${unfinished}
<line class="axis" x1="${m.left}" x2="${W - m.right}" y1="${m.top + ph}" y2="${m.top + ph}"/>
<g>${xLabels}</g>
<text x="${m.left + pw / 2}" y="${H - 6}" text-anchor="middle">run start (UTC date), oldest left</text>
</svg>`;
}

/** The legend of the runs chart (HTML, beside the SVG). */
export function runsLegend(): Html {
  return html`<div class="legend">${RUN_SERIES.map((s) => html`<span><i class="sw-${s.key}"></i>${s.label}</span>`)}<span><i class="sw-duration"></i>duration (right axis; <i class="sw-gapfix"></i>gap-fix)</span></div>`;
}

/** Hosts by last outcome as one stacked bar, widest first. */
export function outcomeBar(counts: { outcome: string; count: number }[], opts: { width?: number } = {}): Html {
  const W = opts.width ?? 600;
  const H = 26;
  const sum = counts.reduce((s, c) => s + c.count, 0) || 1;
  let at = 0;
  const parts = counts.map((c) => {
    const w = (c.count / sum) * W;
    const r = html`<rect class="s-${cls(c.outcome)}" data-series="${c.outcome}" data-count="${c.count}" x="${round(at)}" y="0" width="${round(Math.max(w, c.count ? 1 : 0))}" height="${H}"><title>${c.outcome}: ${c.count}</title></rect>`;
    at += w;
    return r;
  });
  return html`<svg class="chart outcomes" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="Hosts by last outcome">${parts}</svg>`;
}

export interface Span { value: string; from: number; to: number; current: boolean }

/**
 * A fact's intervals on one time line from `start` to `end` (epoch ms): a segment per interval,
 * from when the value was first seen to when it was last seen (a current one runs to `end`),
 * at least 3 px wide so a value seen once still shows. Neighbouring values alternate in shade.
 */
export function timeline(spans: Span[], start: number, end: number, opts: { width?: number } = {}): Html {
  const W = opts.width ?? 560;
  const H = 16;
  const range = Math.max(1, end - start);
  const x = (t: number) => ((Math.min(Math.max(t, start), end) - start) / range) * (W - 3);
  const segs = spans.map((s, i) => {
    const x0 = x(s.from);
    const x1 = s.current ? W : Math.max(x(s.to), x0) + 3;
    const kind = s.current ? 'seg current' : i % 2 ? 'seg alt' : 'seg';
    return html`<rect class="${kind}" data-value="${s.value}" x="${round(x0)}" y="2" width="${round(Math.max(3, x1 - x0))}" height="${H - 4}" rx="2"><title>${s.value}: ${shortTime(new Date(s.from).toISOString())} → ${s.current ? 'now' : shortTime(new Date(s.to).toISOString())}</title></rect>`;
  });
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="intervals">${segs}</svg>`;
}
