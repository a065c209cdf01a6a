// Value syntaxes shared by scheduler.ini and collector.ini: durations, booleans, sizes, lists,
// site lists and shards. Each parser returns undefined for text it does not accept, so callers
// can name file:line.
import { MAX_SHARDS, normalizeSite, type Shard } from '../inventory/sites.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30`, `30s`, `1.5m`, `8h`, `3d`, `250ms` -> milliseconds. A bare number is seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = DURATION_UNITS[(m[2] ?? 's').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

const TRUE_WORDS = new Set(['true', 'yes', '1', 'on']);
const FALSE_WORDS = new Set(['false', 'no', '0', 'off']);

export function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  return undefined;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
};

/** `8MB`, `512k`, `1048576` -> bytes (binary multiples, as operators usually mean them). */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

export function parseInteger(text: string): number | undefined {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : undefined;
}

export function parseList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * `ams, FRA` -> ['ams', 'fra'] (lower-cased, each name once); empty text = no site
 * named. A name must not be empty (`ams,,fra` is a typo) nor hold spaces, or `/`, which the lock
 * scope uses as a separator.
 */
export function parseSites(text: string): string[] | undefined {
  if (text.trim() === '') return [];
  const names = text.split(',').map(normalizeSite);
  if (names.some((n) => n === '' || /[\s/]/.test(n))) return undefined;
  return [...new Set(names)];
}

/** `2/4` -> { index: 2, count: 4 }; whole numbers with 1 <= K <= N <= MAX_SHARDS. */
export function parseShard(text: string): Shard | undefined {
  const m = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(text);
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index >= 1 && index <= count && count <= MAX_SHARDS ? { index, count } : undefined;
}

/** Milliseconds -> `1h30m`, `45s`: for messages and --help defaults. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
