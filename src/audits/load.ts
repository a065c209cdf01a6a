// Audit folders -> audits: every *.json and *.ini below each folder (recursively, in name order),
// parsed, checked and compiled. A file or an audit that cannot be used is a problem with file:line
// and is skipped; the others are returned. The first definition of a name wins.
import fs from 'node:fs';
import path from 'node:path';
import { AuditInvalid, compileAudit, type Lines } from './compile.js';
import { readIniAudits } from './ini-audits.js';
import type { PyValue } from './literal.js';
import type { Audit, AuditProblem } from './types.js';

export interface LoadedAudits {
  audits: Audit[];
  /** files or audits skipped */
  errors: AuditProblem[];
  /** used, with something ignored (an unknown key, a comparison without a filter) */
  warnings: AuditProblem[];
  files: number;
}

/** An audit file larger than this is refused (generated files are a few KB). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

function walk(dir: string, out: string[], errors: AuditProblem[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    errors.push({ file: dir, line: 0, message: `cannot read the audit folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out, errors);
    else if ((e.isFile() || e.isSymbolicLink()) && /\.(json|ini)$/i.test(e.name)) out.push(p);
  }
}

function lineAt(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/**
 * Lines of the keys of a JSON document up to depth 2 ("audit" and "audit\0key"): JSON.parse keeps
 * none, and a message must name the line of the audit or field it is about.
 */
export function jsonKeyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const path: (string | undefined)[] = [];
  const stack: ('{' | '[')[] = [];
  let line = 1;
  let pendingKey: string | undefined;
  let lastString: { value: string; line: number } | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') { line++; continue; }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      let value = '';
      try { value = JSON.parse(text.slice(i, j + 1)) as string; } catch { value = text.slice(i + 1, j); }
      lastString = { value, line };
      i = j;
      continue;
    }
    if (c === ':' && lastString && stack[stack.length - 1] === '{') {
      pendingKey = lastString.value;
      path[stack.length - 1] = pendingKey;
      if (stack.length <= 2) {
        const key = path.slice(0, stack.length).join('\0');
        if (!out.has(key)) out.set(key, lastString.line);
      }
      lastString = undefined;
      continue;
    }
    if (c === '{' || c === '[') { stack.push(c); path.length = stack.length; lastString = undefined; continue; }
    if (c === '}' || c === ']') { stack.pop(); path.length = stack.length; lastString = undefined; continue; }
    if (c === ',') lastString = undefined;
  }
  return out;
}

function readJsonAudits(file: string, text: string, errors: AuditProblem[]): { name: string; value: PyValue; lines: Lines }[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const lc = /line (\d+)/.exec(msg);
    errors.push({ file, line: lc ? Number(lc[1]) : pos ? lineAt(text, Number(pos[1])) : 1, message: `not valid JSON: ${msg}` });
    return [];
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    errors.push({ file, line: 1, message: 'a JSON audit file must be an object: audit name -> audit' });
    return [];
  }
  const keyLines = jsonKeyLines(text);
  return Object.entries(doc as Record<string, PyValue>).map(([name, value]) => {
    const at = keyLines.get(name) ?? 1;
    return { name, value, lines: { audit: at, key: (k: string) => keyLines.get(`${name}\0${k}`) ?? at } };
  });
}

/** Every audit below `dirs`. `nowMs` feeds the INI time defaults (%(now)s and the like). */
export function loadAudits(dirs: readonly string[], nowMs = Date.now()): LoadedAudits {
  const errors: AuditProblem[] = [];
  const warnings: AuditProblem[] = [];
  const files: string[] = [];
  for (const d of dirs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch (e) {
      errors.push({ file: d, line: 0, message: `no audit folder here (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
      continue;
    }
    if (st.isDirectory()) walk(d, files, errors);
    else files.push(d);
  }
  const audits: Audit[] = [];
  const seen = new Map<string, Audit>();
  for (const file of files) {
    const before = errors.length;
    loadFile(file);
    // Reading finds some problems and checking the others: each file's in line order.
    const mine = errors.splice(before).sort((a, b) => a.line - b.line);
    errors.push(...mine);
  }
  return { audits, errors, warnings, files: files.length };

  function loadFile(file: string): void {
    let text: string;
    try {
      if (fs.statSync(file).size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES / 1024 / 1024} MB`);
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      errors.push({ file, line: 0, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    const entries = /\.json$/i.test(file)
      ? readJsonAudits(file, text, errors)
      : readIniAudits(file, text, nowMs, errors).map((a) => ({
        name: a.name, value: a.value as PyValue,
        lines: { audit: a.line, key: (k: string) => a.keyLines.get(k) ?? a.line },
      }));
    for (const { name, value, lines } of entries) {
      const first = seen.get(name);
      if (first) {
        errors.push({ file, line: lines.audit, audit: name, message: `audit ${JSON.stringify(name)} is already defined at ${first.file}:${first.line}; this one is skipped` });
        continue;
      }
      try {
        const audit = compileAudit(name, value, file, lines, (line, message) => warnings.push({ file, line, audit: name, message }));
        seen.set(name, audit);
        audits.push(audit);
      } catch (e) {
        if (!(e instanceof AuditInvalid)) throw e;
        errors.push({ file, line: e.line, audit: name, message: e.message });
      }
    }
  }
}
