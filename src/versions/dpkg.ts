// Debian version ordering (dpkg's verrevcmp). Pure, linear time, never throws.
export interface DpkgVersion { epoch: number; upstream: string; revision: string }

// Invalid input yields an error object; compareDpkg falls back to comparing the raw strings
// so hostile values still sort deterministically instead of throwing.
export function parseDpkg(v: string): DpkgVersion | { error: string } {
  const s = v.trim();
  if (s === '') return { error: 'empty version' };
  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    const e = s.slice(0, colon);
    if (!/^[0-9]+$/.test(e)) return { error: `epoch is not a number: ${JSON.stringify(e)}` };
    epoch = Number(e);
    if (!Number.isSafeInteger(epoch) || epoch > 2147483647) return { error: 'epoch too large' };
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (upstream === '') return { error: 'empty upstream version' };
  if (!/^[0-9]/.test(upstream)) return { error: 'version must start with a digit' };
  return { epoch, upstream, revision };
}

function order(c: string): number {
  if (c === '~') return -1;
  if (c === '') return 0;
  const code = c.charCodeAt(0);
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return code;
  return code + 256;
}

const isDigit = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a, i)) || (j < b.length && !isDigit(b, j))) {
      const ac = order(i < a.length && !isDigit(a, i) ? a[i]! : '');
      const bc = order(j < b.length && !isDigit(b, j) ? b[j]! : '');
      if (ac !== bc) return ac - bc;
      i++; j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let first = 0;
    while (isDigit(a, i) && isDigit(b, j)) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++; j++;
    }
    if (isDigit(a, i)) return 1;
    if (isDigit(b, j)) return -1;
    if (first !== 0) return first;
  }
  return 0;
}

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);

export function compareDpkg(a: string, b: string): -1 | 0 | 1 {
  const pa = parseDpkg(a);
  const pb = parseDpkg(b);
  if ('error' in pa || 'error' in pb) return sign(a < b ? -1 : a > b ? 1 : 0);
  if (pa.epoch !== pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  const u = verrevcmp(pa.upstream, pb.upstream);
  if (u !== 0) return sign(u);
  return sign(verrevcmp(pa.revision, pb.revision));
}
