// Time arguments of the history questions (SPEC §9): an ISO 8601 date or date-time (no offset
// means UTC), or an age meaning that long before now (`30m`, `24h`, `7d`, `2w`).
import { UsageError } from '../core/errors.js';

const AGE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Epoch milliseconds of `text`, or undefined when it is neither an age nor an ISO date-time. */
export function parseTime(text: string, now: number): number | undefined {
  const t = text.trim();
  const age = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(t);
  if (age) return now - Math.round(Number(age[1]) * AGE_UNITS[age[2]!.toLowerCase()]!);
  const m = ISO.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  const offset = zone === undefined || zone.toUpperCase() === 'Z' ? 'Z' : zone.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac.slice(0, 4)}${offset}`);
  // Date.parse rolls 2026-02-31 over to March: a date that does not exist is refused instead.
  if (Number.isNaN(ms)) return undefined;
  if (zone === undefined || offset === 'Z') {
    const back = new Date(ms);
    if (back.getUTCDate() !== Number(d) || back.getUTCMonth() + 1 !== Number(mo)) return undefined;
  }
  return ms;
}

/** parseTime for a command-line flag: a usage error (64) naming the flag when the text is neither. */
export function timeFlag(flag: string, text: string, now: number): number {
  const ms = parseTime(text, now);
  if (ms === undefined) {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: give an ISO 8601 date or date-time (2026-12-01, 2026-12-01T02:00Z; no offset = UTC) or an age (30m, 24h, 7d, 2w)`);
  }
  return ms;
}
