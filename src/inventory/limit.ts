// Targeting a run (SPEC §9): `run --limit PATTERN[,PATTERN...]` and `gap-fix --limit` collect only
// the inventory hosts whose name (as written there, port included) matches one of the shell globs.
// Pure: patterns in, hosts out, and a clear word for a pattern that matches nothing.
import { UsageError } from '../core/errors.js';
import type { InventoryHost } from './host.js';

/**
 * One shell glob as an anchored regular expression: `*` any run of characters, `?` one, `[...]`
 * a class (`[!...]` or `[^...]` negated, ranges `a-z`, a `]` first is literal), `\` quotes the
 * next character. Hostnames hold no `/`, so no path rules apply. Case matters, as in a shell.
 * Hand-written (a few lines): Node 20's path.matchesGlob is experimental and path-oriented.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < pattern.length) re += escape(pattern[++i]!);
    else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) { re += '\\['; continue; } // an unclosed `[` is a plain character, as in sh
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      re += `[${negated ? '^' : ''}${body.replace(/[\\\]^[]/g, (x) => `\\${x}`)}]`;
      i = end;
    } else re += escape(c);
  }
  return new RegExp(`^${re}$`, 's');
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, (x) => `\\${x}`);

/** Index of the `]` closing the class opened at `open`, or -1 (a `]` right after `[`, `[!` or `[^` belongs to the class). */
function classEnd(p: string, open: number): number {
  let j = open + 1;
  if (p[j] === '!' || p[j] === '^') j++;
  if (p[j] === ']') j++;
  for (; j < p.length; j++) if (p[j] === ']') return j;
  return -1;
}

export interface LimitSelection {
  hosts: InventoryHost[];
  /** patterns that matched none of the hosts, each with a hint when a name matches it in another case */
  unmatched: { pattern: string; hint?: string }[];
}

/** The hosts (in their order) whose label matches any pattern. */
export function selectLimit(hosts: InventoryHost[], patterns: string[]): LimitSelection {
  const res = patterns.map((p) => ({ pattern: p, re: globToRegExp(p), hit: false }));
  const selected = hosts.filter((h) => {
    let any = false;
    for (const r of res) if (r.re.test(h.label)) { r.hit = true; any = true; }
    return any;
  });
  const unmatched = res.filter((r) => !r.hit).map(({ pattern }) => {
    const folded = new RegExp(globToRegExp(pattern).source, 'is');
    const near = hosts.find((h) => folded.test(h.label));
    return { pattern, ...(near ? { hint: `${near.label} matches it in another case (patterns are case-sensitive)` } : {}) };
  });
  return { hosts: selected, unmatched };
}

/** The hosts --limit selects; a pattern that matches none of them is a usage error (64) naming it and where it looked. */
export function limitHosts(hosts: InventoryHost[], patterns: string[], where: string): InventoryHost[] {
  const sel = selectLimit(hosts, patterns);
  if (sel.unmatched.length) {
    throw new UsageError(sel.unmatched.map((u) => `--limit ${JSON.stringify(u.pattern)} matches no host of ${where}${u.hint ? `; ${u.hint}` : ''}`).join('; '));
  }
  return sel.hosts;
}
