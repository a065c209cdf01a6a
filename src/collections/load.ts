// collector.ini -> the collection definitions, in file order, each checked and frozen.
//
// A small line-tracking reader instead of the `ini` package, for three reasons: `ini` cuts a value
// at the first unescaped `;` or `#` (an inline comment) and strips quotes, which breaks shell
// commands; it has no continuation lines, so a long command would have to sit on one line; and it
// drops line numbers, which every error here must name. The syntax read is the one Python's
// configparser accepted for the old file: `key = value` or `key: value`, whole-line `#`/`;`
// comments, a line indented deeper than its key continues the value, keys case-insensitive,
// section names verbatim, a [DEFAULT] section giving defaults. Values are never interpolated.
import fs from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { parseBool, parseDuration } from '../config/values.js';
import type { CollectionDef } from './types.js';

/** Used when neither the section nor [DEFAULT] sets `timeout` (SPEC §3). */
export const DEFAULT_COLLECTION_TIMEOUT_MS = 30_000;

const KEYS = ['collection', 'multi', 'timeout', 'separator', 'enabled'] as const;
type Key = (typeof KEYS)[number];
const DEFAULT_SECTION = 'DEFAULT';

/** A key's value, where it was set, and in which section (a default comes from [DEFAULT]). */
interface Entry { value: string; line: number; section: string }

interface Section {
  name: string;
  line: number;
  entries: Map<Key, Entry>;
}

function isKey(text: string): text is Key {
  return (KEYS as readonly string[]).includes(text);
}

function indentOf(text: string): number {
  return /^[ \t]*/.exec(text)?.[0].length ?? 0;
}

/** The raw sections with every key's value and line; syntax errors name file:line. */
function readSections(file: string, raw: string): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  // The value being built and how deep its key line was indented (continuations go deeper).
  let open: { entry: Entry; indent: number } | undefined;
  const lines = raw.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((text, i) => {
    const line = i + 1;
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    const indent = indentOf(text);
    if (open && indent > open.indent) {
      open.entry.value = open.entry.value === '' ? trimmed : `${open.entry.value}\n${trimmed}`;
      return;
    }
    open = undefined;
    const header = /^\[([^\]]*)\]\s*(?:[#;].*)?$/.exec(trimmed);
    if (header) {
      const name = (header[1] ?? '').trim();
      if (name === '' || /[\s\u0000-\u001f\u007f]/.test(name)) {
        throw new ConfigError(`${file}:${line}: section [${name}]: expected a collection type name without spaces or control characters`);
      }
      const twice = sections.find((s) => s.name === name);
      if (twice) throw new ConfigError(`${file}:${line}: section [${name}] appears twice (first on line ${twice.line})`);
      current = { name, line, entries: new Map() };
      sections.push(current);
      return;
    }
    const at = trimmed.search(/[=:]/);
    const key = (at < 0 ? trimmed : trimmed.slice(0, at)).trim().toLowerCase();
    if (current === undefined) throw new ConfigError(`${file}:${line}: '${key}' is outside any [section]`);
    if (at < 0 || key === '') throw new ConfigError(`${file}:${line}: [${current.name}]: expected 'key = value', got '${trimmed}'`);
    if (!isKey(key)) {
      throw new ConfigError(`${file}:${line}: [${current.name}] unknown key '${key}'; allowed keys: ${KEYS.join(', ')}`);
    }
    const seen = current.entries.get(key);
    if (seen) throw new ConfigError(`${file}:${line}: [${current.name}] ${key} is set twice (first on line ${seen.line})`);
    const entry = { value: trimmed.slice(at + 1).trim(), line, section: current.name };
    current.entries.set(key, entry);
    open = { entry, indent };
  });
  return sections;
}

/** `"..."` keeps leading/trailing spaces; `\t` is a tab and `\\` a backslash. */
function unquoteSeparator(text: string): string {
  const inner = text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
  return inner.replace(/\\([t\\])/g, (_m, c: string) => (c === 't' ? '\t' : '\\'));
}

function toDef(file: string, section: Section, defaults: Map<Key, Entry>): CollectionDef {
  const get = (key: Key): Entry | undefined => section.entries.get(key) ?? defaults.get(key);
  const bad = (key: Key, entry: Entry, expected: string): never => {
    const from = entry.section === section.name ? `[${section.name}]` : `[${entry.section}] (default for [${section.name}])`;
    throw new ConfigError(`${file}:${entry.line}: ${from} ${key} = '${entry.value}': expected ${expected}`);
  };

  const collection = section.entries.get('collection');
  if (!collection) throw new ConfigError(`${file}:${section.line}: [${section.name}] has no 'collection' (the shell command to run)`);
  if (collection.value === '') bad('collection', collection, 'a shell command');

  const flag = (key: 'multi' | 'enabled', fallback: boolean): boolean => {
    const entry = get(key);
    if (!entry) return fallback;
    return parseBool(entry.value) ?? bad(key, entry, 'a boolean (true/false, yes/no, 1/0)');
  };
  const multi = flag('multi', false);
  const enabled = flag('enabled', true);

  let timeoutMs = DEFAULT_COLLECTION_TIMEOUT_MS;
  const timeout = get('timeout');
  if (timeout) {
    const ms = parseDuration(timeout.value);
    timeoutMs = ms !== undefined && ms > 0 ? ms : bad('timeout', timeout, 'a duration above zero (30, 30s, 5m, 1h)');
  }

  const def: CollectionDef = { type: section.name, command: collection.value, multi, timeoutMs, enabled };
  const sep = get('separator');
  if (sep) {
    const separator = unquoteSeparator(sep.value);
    if (separator === '') bad('separator', sep, 'a non-empty text (quote it to keep spaces: " = ")');
    if (/[\r\n]/.test(separator)) bad('separator', sep, 'text without line breaks');
    def.separator = separator;
  }
  return Object.freeze(def);
}

/** Every collection in the file, in file order (disabled ones too, with `enabled: false`). */
export function loadCollections(path: string): CollectionDef[] {
  let raw: string;
  try {
    raw = fs.readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(`${path}: cannot read: ${err.code === 'EISDIR' ? 'is a directory' : err.message}`);
  }
  const sections = readSections(path, raw);
  const defaultSection = sections.find((s) => s.name === DEFAULT_SECTION);
  const defaults = defaultSection?.entries ?? new Map<Key, Entry>();
  const dc = defaults.get('collection');
  if (dc) throw new ConfigError(`${path}:${dc.line}: [${DEFAULT_SECTION}] collection: a command must belong to its own section`);
  // Check the defaults themselves, so a bad one is reported even where every section overrides it.
  if (defaultSection) {
    const probe = new Map(defaultSection.entries).set('collection', { value: 'true', line: defaultSection.line, section: DEFAULT_SECTION });
    toDef(path, { ...defaultSection, entries: probe }, new Map());
  }

  const defs = sections.filter((s) => s !== defaultSection).map((s) => toDef(path, s, defaults));
  if (!defs.some((d) => d.enabled)) {
    throw new ConfigError(`${path}: no enabled collection (${defs.length === 0 ? 'the file has no [section]' : `all ${defs.length} have enabled = false`})`);
  }
  return defs;
}
