// CVSS v3.x base score from its vector (FIRST's v3.1 specification, §7.1 and Appendix A), for
// OSV `severity` entries of type CVSS_V3. Pure.

const AV: Record<string, number> = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 };
const AC: Record<string, number> = { L: 0.77, H: 0.44 };
const PR_UNCHANGED: Record<string, number> = { N: 0.85, L: 0.62, H: 0.27 };
const PR_CHANGED: Record<string, number> = { N: 0.85, L: 0.68, H: 0.5 };
const UI: Record<string, number> = { N: 0.85, R: 0.62 };
const CIA: Record<string, number> = { H: 0.56, L: 0.22, N: 0 };

/** The specification's Roundup: the smallest one-decimal number >= x, computed without float drift. */
function roundUp(x: number): number {
  const i = Math.round(x * 100_000);
  return i % 10_000 === 0 ? i / 100_000 : (Math.floor(i / 10_000) + 1) / 10;
}

/** `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H` -> 9.8; undefined for anything else. */
export function cvss3BaseScore(vector: string): number | undefined {
  const parts = vector.split('/');
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? '')) return undefined;
  const m: Record<string, string> = {};
  for (const p of parts.slice(1)) {
    const [k, v, extra] = p.split(':');
    if (k === undefined || v === undefined || extra !== undefined || k in m) return undefined;
    m[k] = v;
  }
  const scope = m.S;
  if (scope !== 'U' && scope !== 'C') return undefined;
  const av = AV[m.AV ?? ''];
  const ac = AC[m.AC ?? ''];
  const pr = (scope === 'C' ? PR_CHANGED : PR_UNCHANGED)[m.PR ?? ''];
  const ui = UI[m.UI ?? ''];
  const c = CIA[m.C ?? ''];
  const i = CIA[m.I ?? ''];
  const a = CIA[m.A ?? ''];
  if (av === undefined || ac === undefined || pr === undefined || ui === undefined || c === undefined || i === undefined || a === undefined) return undefined;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = scope === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  if (impact <= 0) return 0;
  const exploitability = 8.22 * av * ac * pr * ui;
  return roundUp(Math.min((scope === 'U' ? 1 : 1.08) * (impact + exploitability), 10));
}
