// Debian version ordering: dpkg's parseversion and verrevcmp (lib/dpkg/version.c,
// parsehelp.c, dpkg 1.21). Pure, linear time, never throws.
export interface DpkgVersion {
  epoch: number;
  upstream: string;
  revision: string;
  /** what dpkg warns about but still compares (no leading digit, a character outside its set) */
  warning?: string;
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/**
 * The version split as dpkg splits it. What dpkg refuses outright (`dpkg --compare-versions`
 * exits 2: an empty or non-numeric epoch, an empty revision, embedded spaces, ...) is an error
 * object; what it only warns about is parsed, with the warning, and compared as dpkg compares it.
 */
export function parseDpkg(v: string): DpkgVersion | { error: string } {
  let start = 0;
  while (isBlank(v[start])) start++;
  if (start === v.length) return { error: 'version string is empty' };
  let end = start;
  while (end < v.length && !isBlank(v[end])) end++;
  for (let i = end; i < v.length; i++) if (!isBlank(v[i])) return { error: 'version string has embedded spaces' };
  let s = v.slice(start, end);
  let epoch = 0;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    // strtol: C white space, then a sign, then digits, exactly up to the first colon.
    const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(s.slice(0, colon))!;
    if (m[2] === '') return { error: 'epoch in version is empty' };
    if (m[0].length !== colon) return { error: 'epoch in version is not number' };
    const n = Number(m[2]);
    if (m[1] === '-' && n !== 0) return { error: 'epoch in version is negative' };
    if (n > 2147483647) return { error: 'epoch in version is too big' };
    if (colon + 1 === s.length) return { error: 'nothing after colon in version number' };
    epoch = n;
    s = s.slice(colon + 1);
  }
  const dash = s.lastIndexOf('-');
  const upstream = dash >= 0 ? s.slice(0, dash) : s;
  const revision = dash >= 0 ? s.slice(dash + 1) : '';
  if (dash >= 0 && revision === '') return { error: 'revision number is empty' };
  if (upstream === '') return { error: 'version number is empty' };
  const parsed: DpkgVersion = { epoch, upstream, revision };
  if (!/^[0-9]/.test(upstream)) parsed.warning = 'version number does not start with digit';
  else if (!/^[0-9A-Za-z.+~:-]*$/.test(upstream)) parsed.warning = 'invalid character in version number';
  else if (!/^[0-9A-Za-z.+~]*$/.test(revision)) parsed.warning = 'invalid character in revision number';
  return parsed;
}

const isDigit = (b: number): boolean => b >= 48 && b <= 57;

/**
 * dpkg's sort weight of one byte: `~` first, then the end of the string and digits, then ASCII
 * letters, then everything else. dpkg reads the bytes as (signed, on amd64) chars, so a UTF-8 byte
 * weighs 128..255: after the letters, before ASCII punctuation. Past the end, charCodeAt is NaN.
 */
function order(b: number): number {
  if (Number.isNaN(b) || isDigit(b)) return 0;
  if ((b >= 65 && b <= 90) || (b >= 97 && b <= 122)) return b;
  if (b === 126) return -1;
  return b >= 128 ? b : b + 256;
}

/** The bytes dpkg sees, one char per byte: the string itself when it is ASCII (most versions), else its UTF-8. */
const NON_ASCII = /[^\x00-\x7f]/;
const bytesOf = (s: string): string => (NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s);

function verrevcmp(as: string, bs: string): number {
  const a = bytesOf(as);
  const b = bytesOf(bs);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(a.charCodeAt(i));
      const bc = order(b.charCodeAt(j));
      if (ac !== bc) return ac - bc;
      i++; j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    let first = 0;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++; j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (first !== 0) return first;
  }
  return 0;
}

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);

/**
 * dpkg's order. A version dpkg refuses has no place in it: it sorts before every valid one, and
 * two refused ones by their text, so a sort stays total; ask `versionError` before trusting an
 * answer about such a value (a query leaves it out).
 */
export function compareDpkg(a: string, b: string): -1 | 0 | 1 {
  const pa = parseDpkg(a);
  const pb = parseDpkg(b);
  if ('error' in pa || 'error' in pb) {
    if ('error' in pa && 'error' in pb) return sign(a < b ? -1 : a > b ? 1 : 0);
    return 'error' in pa ? -1 : 1;
  }
  if (pa.epoch !== pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  const u = verrevcmp(pa.upstream, pb.upstream);
  if (u !== 0) return sign(u);
  return sign(verrevcmp(pa.revision, pb.revision));
}
