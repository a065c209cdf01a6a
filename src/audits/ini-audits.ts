// The INI form of the old audit files, read as Python's configparser read them: sections are
// audits ([GLOBAL] and [DEFAULT] are not), `key = value` or `key: value`, keys in any case,
// whole-line comments (# or ;), a value continued on indented lines, %(name)s interpolation
// from the section, [DEFAULT] and the time defaults (now, weekago, monthago, quarterago,
// yearago, threeyearago: epoch seconds). Each value is then a Python literal, as the old loader
// passed it through ast.literal_eval; vuln-long-description is taken as text.
import { LiteralError, parsePythonLiteral, type PyValue } from './literal.js';
import type { AuditProblem } from './types.js';

export interface IniAudit {
  name: string;
  line: number;
  keyLines: Map<string, number>;
  value: Record<string, PyValue>;
}

interface RawSection { name: string; line: number; keys: Map<string, { lines: string[]; line: number }>; bad?: boolean }

/** The time defaults of the old loader (its figures: a month is 2,628,000 s, a year 31,540,000 s). */
export function timeDefaults(nowMs: number): Record<string, string> {
  const now = Math.floor(nowMs / 1000);
  return {
    now: String(now), weekago: String(now - 604_800), monthago: String(now - 2_628_000),
    quarterago: String(now - 7_844_000), yearago: String(now - 31_540_000), threeyearago: String(now - 94_610_000),
  };
}

/** configparser's limit on %(name)s chains. */
const MAX_INTERPOLATION_DEPTH = 10;
/** Keys read as plain text when they are not a quoted literal (old files left them unquoted). */
const TEXT_KEYS = new Set(['vuln-name', 'vuln-short-description', 'vuln-primary-link']);

/**
 * Sections and their keys with lines. A line that is not `key = value` makes the file unreadable
 * (configparser refused such a file whole); a section or key given twice makes only that
 * section unusable, reported once.
 */
function splitSections(file: string, text: string, problems: AuditProblem[]): RawSection[] | undefined {
  const sections: RawSection[] = [];
  let cur: RawSection | undefined;
  let key: { lines: string[]; line: number } | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const n = i + 1;
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const indented = /^\s/.test(line);
    if (indented && key) { key.lines.push(trimmed); continue; }
    const header = /^\[(.*)\]\s*$/.exec(trimmed);
    if (header && !indented) {
      const name = header[1]!.trim();
      const first = sections.find((s) => s.name === name);
      cur = { name, line: n, keys: new Map() };
      if (first) {
        problems.push({ file, line: n, audit: name, message: `section [${name}] appears twice (first at line ${first.line}); this one is skipped` });
        cur.bad = true;
      } else sections.push(cur);
      key = undefined;
      continue;
    }
    if (!cur) {
      problems.push({ file, line: n, message: 'a key before the first [section]' });
      return undefined;
    }
    const d = /[=:]/.exec(trimmed);
    if (!d || d.index === 0) {
      problems.push({ file, line: n, audit: cur.name, message: `not a key = value line: ${JSON.stringify(trimmed.slice(0, 60))}` });
      return undefined;
    }
    const k = trimmed.slice(0, d.index).trim().toLowerCase();
    key = { lines: [trimmed.slice(d.index + 1).trim()], line: n };
    if (cur.bad) continue;
    if (cur.keys.has(k)) {
      problems.push({ file, line: n, audit: cur.name, message: `key ${k} appears twice in [${cur.name}] (first at line ${cur.keys.get(k)!.line}); the audit is skipped` });
      cur.bad = true;
      continue;
    }
    cur.keys.set(k, key);
  }
  return sections;
}

function interpolate(value: string, lookup: (name: string) => string | undefined, depth = 0): string {
  if (depth > MAX_INTERPOLATION_DEPTH) throw new Error(`%(...)s references nested deeper than ${MAX_INTERPOLATION_DEPTH} levels`);
  return value.replace(/%(%|\(([^)]*)\)s|.|$)/g, (all, what: string, name: string | undefined) => {
    if (what === '%') return '%';
    if (name === undefined) throw new Error(`a lone % (write %% for a percent sign, or %(name)s): ${JSON.stringify(value.slice(0, 60))}`);
    const v = lookup(name.toLowerCase());
    if (v === undefined) throw new Error(`%(${name})s names no key of this section, [DEFAULT] or the time defaults`);
    return interpolate(v, lookup, depth + 1);
  });
}

/** The audits of one INI file; problems (with lines) for what cannot be read. */
export function readIniAudits(file: string, text: string, nowMs: number, problems: AuditProblem[]): IniAudit[] {
  const sections = splitSections(file, text, problems);
  if (!sections) return [];
  const defaults = new Map<string, string>(Object.entries(timeDefaults(nowMs)));
  const defSection = sections.find((s) => s.name === 'DEFAULT');
  for (const [k, v] of defSection?.keys ?? []) defaults.set(k, v.lines.join('\n'));
  const out: IniAudit[] = [];
  for (const s of sections) {
    if (s.name === 'DEFAULT' || s.name === 'GLOBAL' || s.bad) continue;
    const own = new Map([...s.keys].map(([k, v]) => [k, v.lines.join('\n')]));
    const lookup = (name: string) => own.get(name) ?? defaults.get(name);
    const value: Record<string, PyValue> = {};
    const keyLines = new Map<string, number>();
    let bad = false;
    for (const [k, v] of s.keys) {
      keyLines.set(k, v.line);
      try {
        const raw = interpolate(own.get(k)!, lookup);
        value[k] = readValue(k, raw);
      } catch (e) {
        const at = e instanceof LiteralError ? ` (at character ${e.offset + 1} of the value)` : '';
        problems.push({ file, line: v.line, audit: s.name, message: `${k}: ${(e as Error).message}${at}` });
        bad = true;
        break;
      }
    }
    if (!bad) out.push({ name: s.name, line: s.line, keyLines, value });
  }
  return out;
}

function readValue(key: string, raw: string): PyValue {
  if (key === 'vuln-long-description') {
    // Prose over several lines: a quoted literal is unquoted, anything else kept as written.
    try {
      const v = parsePythonLiteral(raw);
      if (typeof v === 'string') return v;
    } catch { /* plain text */ }
    return raw;
  }
  // As the old loader: continuation lines are joined without a separator before parsing.
  const joined = raw.split('\n').join('');
  try {
    return parsePythonLiteral(joined);
  } catch (e) {
    // JSON's true/false/null are not Python; a value written as JSON is read as JSON.
    try { return JSON.parse(joined) as PyValue; } catch { /* report the literal's error */ }
    if (TEXT_KEYS.has(key)) return raw.split('\n').join(' ');
    if (key === 'vuln-priority' && /^\s*\d+\s*$/.test(joined)) return Number(joined);
    throw e;
  }
}
