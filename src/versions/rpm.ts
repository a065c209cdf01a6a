// rpm's EVR ordering (rpmvercmp as in rpm 4.18). Pure, linear time, never throws.
const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigitC = (c: number): boolean => c >= 48 && c <= 57;

export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && !isAlnum(a.charCodeAt(i)) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b.charCodeAt(j)) && b[j] !== '~' && b[j] !== '^') j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++; j++; continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++; j++; continue;
    }
    if (!(i < a.length && j < b.length)) break;
    const numeric = isDigitC(a.charCodeAt(i));
    const test = numeric ? isDigitC : (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    let ie = i; while (ie < a.length && test(a.charCodeAt(ie))) ie++;
    let je = j; while (je < b.length && test(b.charCodeAt(je))) je++;
    if (je === j) return numeric ? 1 : -1;
    let sa = a.slice(i, ie);
    let sb = b.slice(j, je);
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ie; j = je;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** rpm's parseEVR: epoch = leading digits before a colon (none given = "0"); release = after the last `-`, or none. */
export interface RpmEvr { epoch: string; version: string; release: string | null }

export function parseRpm(v: string): RpmEvr {
  const m = /^([0-9]*):/.exec(v);
  const epoch = m ? (m[1] || '0') : '0';
  const rest = m ? v.slice(m[0].length) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) } : { epoch, version: rest, release: null };
}

/**
 * rpmverCmp (rpm 4.18, what `rpm.vercmp` and `rpm -q --qf` comparisons use): epoch, version,
 * then release, where a version without a release sorts before any with one (`1.0` < `1.0-0`).
 */
export function compareRpm(a: string, b: string): -1 | 0 | 1 {
  const pa = parseRpm(a);
  const pb = parseRpm(b);
  const e = rpmvercmp(pa.epoch, pb.epoch);
  if (e !== 0) return e;
  const v = rpmvercmp(pa.version, pb.version);
  if (v !== 0) return v;
  if (pa.release === null || pb.release === null) return pa.release === pb.release ? 0 : pa.release === null ? -1 : 1;
  return rpmvercmp(pa.release, pb.release);
}
