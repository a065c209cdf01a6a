// The one stylesheet of the fleet pages, served from the package at /static/jellyfish.css (a
// string in the build, so `npm pack` needs no asset step). The strict Content-Security-Policy
// forbids inline style attributes: every look, the SVG charts' colours included, is a class here.
// Dark mode follows the browser (prefers-color-scheme); tables scroll sideways on a phone.

export const STYLESHEET = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --text: #1c2330; --muted: #5d6778; --line: #dde1e8; --stripe: #f3f5f8;
  --accent: #2458c6; --accent-soft: #e6edfb;
  --ok: #2f9e5b; --partial: #d39a1c; --failed: #d2453d; --unreachable: #b5332c; --not-started: #a3abb8; --sapi: #3b7dd8; --never: #c4cad4;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #12161d; --panel: #1a2029; --text: #e3e8ef; --muted: #9aa5b5; --line: #2c3441; --stripe: #1f2631;
    --accent: #7ea6ff; --accent-soft: #243150;
    --ok: #46b872; --partial: #e0b04a; --failed: #ec6a62; --unreachable: #d3544c; --not-started: #6d7686; --sapi: #5f9bef; --never: #4a5262;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { background: var(--panel); border-bottom: 1px solid var(--line); }
header.top .bar { max-width: 1180px; margin: 0 auto; padding: 10px 20px; display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: center; }
.brand { font-weight: 700; font-size: 17px; color: var(--text); letter-spacing: .2px; }
.brand span { color: var(--accent); }
nav a { margin-right: 16px; color: var(--muted); font-weight: 500; }
nav a.here { color: var(--text); border-bottom: 2px solid var(--accent); padding-bottom: 2px; }
form.jump { margin-left: auto; display: flex; gap: 6px; }
main { max-width: 1180px; margin: 0 auto; padding: 20px; }
h1 { font-size: 24px; margin: 4px 0 4px; font-weight: 650; }
h2 { font-size: 16px; margin: 0 0 12px; font-weight: 650; }
h3 { font-size: 14px; margin: 16px 0 6px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .4px; }
.sub { color: var(--muted); margin: 0 0 18px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 18px; margin-bottom: 18px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; min-width: 0; margin-bottom: 18px; }
.grid .panel { margin-bottom: 0; }
.panel.wide { grid-column: 1 / -1; }
.panel.slim { padding: 12px 18px; }
.panel.slim .filters { margin-bottom: 0; }
.filters input[type=search] { min-width: 260px; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px 28px; margin-bottom: 10px; }
.kpi b { display: block; font-size: 26px; font-weight: 650; line-height: 1.1; font-variant-numeric: tabular-nums; }
.kpi span { color: var(--muted); font-size: 13px; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12.5px; text-transform: uppercase; letter-spacing: .3px; white-space: nowrap; }
tbody tr:nth-child(even) { background: var(--stripe); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.when { white-space: nowrap; color: var(--muted); font-variant-numeric: tabular-nums; }
td.value, .mono { font-family: var(--mono); font-size: 13px; word-break: break-word; white-space: pre-wrap; }
td.type, span.type { font-weight: 600; }
td.code { font-family: var(--mono); font-size: 12.5px; white-space: nowrap; }
td.key, td.key .mono { white-space: nowrap; word-break: normal; }
td.tl { width: 45%; min-width: 180px; }
details summary { cursor: pointer; }
details[open] summary { margin-bottom: 6px; }
.empty { color: var(--muted); font-style: italic; margin: 6px 0; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12.5px; font-weight: 600; line-height: 20px; white-space: nowrap;
  background: var(--stripe); color: var(--text); border: 1px solid var(--line); }
.badge.ok { color: var(--ok); } .badge.partial { color: var(--partial); } .badge.sapi { color: var(--sapi); }
.badge.failed, .badge.error, .badge.unreachable, .badge.auth_failed, .badge.hostkey_mismatch, .badge.timeout, .badge.removed { color: var(--failed); }
.badge.never, .badge.not-started { color: var(--muted); }
.badge.added, .badge.new_host { color: var(--ok); } .badge.changed { color: var(--partial); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; color: var(--muted); margin: 4px 0 8px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
.sw-ok { background: var(--ok); } .sw-partial { background: var(--partial); } .sw-failed { background: var(--failed); }
.sw-not-started { background: var(--not-started); } .sw-sapi { background: var(--sapi); } .sw-never { background: var(--never); }
.sw-gapfix { background: var(--panel); border: 1.5px solid var(--text); border-radius: 50% !important; }
.sw-duration { background: var(--text); height: 3px !important; border-radius: 0 !important; vertical-align: 3px !important; }
svg.chart { display: block; width: 100%; height: auto; }
svg .axis, svg .tick { stroke: var(--line); stroke-width: 1; }
svg text { fill: var(--muted); font: 11px system-ui, sans-serif; }
svg text.label { fill: var(--text); font-size: 12px; }
.s-pass { fill: var(--ok); } .s-fail { fill: var(--failed); } .s-exempt { fill: var(--not-started); }
.sw-pass { background: var(--ok); } .sw-fail { background: var(--failed); } .sw-exempt { background: var(--not-started); }
.badge.pass { color: var(--ok); } .badge.fail { color: var(--failed); } .badge.exempt { color: var(--not-started); }
.s-ok { fill: var(--ok); } .s-partial { fill: var(--partial); } .s-failed { fill: var(--failed); } .s-unreachable { fill: var(--unreachable); }
.s-not-started { fill: var(--not-started); } .s-sapi { fill: var(--sapi); } .s-never { fill: var(--never); }
.s-error, .s-auth_failed, .s-hostkey_mismatch, .s-timeout, .s-other { fill: var(--failed); }
.s-duration { fill: none; stroke: var(--text); stroke-width: 1.5; }
.s-duration-dot { fill: var(--text); }
.s-duration-dot.gap-fix { fill: var(--panel); stroke: var(--text); stroke-width: 1.2; }
.seg { fill: var(--accent); } .seg.alt { fill: var(--sapi); opacity: .55; } .seg.current { fill: var(--ok); }
.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: flex-end; margin-bottom: 12px; }
.filters label { display: flex; flex-direction: column; font-size: 12.5px; color: var(--muted); gap: 3px; }
input, select, button { font: inherit; font-size: 14px; padding: 5px 9px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--text); }
input[type=search], input[type=text] { min-width: 150px; }
button { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; cursor: pointer; }
.pager { display: flex; gap: 14px; align-items: center; margin-top: 10px; color: var(--muted); font-size: 13.5px; }
dl.inv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.inv dt { color: var(--muted); } dl.inv dd { margin: 0; font-weight: 500; }
.timeline td { vertical-align: middle; }
.timeline svg { margin: 2px 0; }
.warn { color: var(--failed); }
td.heat1 { background: color-mix(in srgb, var(--failed) 10%, transparent); } td.heat2 { background: color-mix(in srgb, var(--failed) 22%, transparent); }
td.heat3 { background: color-mix(in srgb, var(--failed) 36%, transparent); } td.heat4 { background: color-mix(in srgb, var(--failed) 52%, transparent); }
.note { color: var(--muted); font-size: 12.5px; } .prose { white-space: pre-wrap; max-width: 72ch; }
.filters label.check { flex-direction: row; align-items: center; gap: .35rem; padding-bottom: 9px; }
footer { max-width: 1180px; margin: 0 auto; padding: 8px 20px 30px; color: var(--muted); font-size: 12.5px; }
@media (max-width: 640px) {
  main { padding: 12px; }
  .grid { grid-template-columns: 1fr; }
  form.jump { margin-left: 0; width: 100%; }
  form.jump input { flex: 1; }
  th, td { padding: 5px 7px; }
  h1 { font-size: 20px; }
}
`;

/** The favicon: a small SVG, so the browser's request for one never fails. */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="13" r="10" fill="#2458c6"/><path d="M8 20c0 6 2 9 2 9M13 21c0 6 1 9 1 9M19 21c0 6-1 9-1 9M24 20c0 6-2 9-2 9" stroke="#2458c6" stroke-width="2.5" fill="none" stroke-linecap="round"/></svg>`;
