// One version module for dpkg and rpm ordering (SPEC §9, §10).
import { compareDpkg, parseDpkg } from './dpkg.js';
import { compareRpm } from './rpm.js';
export { compareDpkg, parseDpkg } from './dpkg.js';
export { compareRpm, parseRpm, rpmvercmp } from './rpm.js';

export type VersionScheme = 'dpkg' | 'rpm';

export function compareVersions(scheme: VersionScheme, a: string, b: string): -1 | 0 | 1 {
  return scheme === 'dpkg' ? compareDpkg(a, b) : compareRpm(a, b);
}

const DPKG = new Set(['debian', 'ubuntu']);
const RPM = new Set(['rhel', 'fedora', 'centos', 'suse', 'opensuse', 'sles', 'rocky', 'almalinux', 'amzn', 'ol']);

// ID is checked before ID_LIKE so a distribution's own name wins over its ancestry.
export function schemeForRelease(id: string | undefined, idLike: string | undefined): VersionScheme | undefined {
  for (const field of [id, idLike]) {
    const words = (field ?? '').toLowerCase().replace(/"/g, '').split(/\s+/).filter(Boolean);
    for (const w of words) {
      if (DPKG.has(w)) return 'dpkg';
      if (RPM.has(w) || w.startsWith('opensuse')) return 'rpm';
    }
  }
  return undefined;
}

/** Why a version cannot be ordered (dpkg refuses it; rpm refuses only an empty one), else undefined. */
export function versionError(scheme: VersionScheme, v: string): string | undefined {
  if (scheme === 'rpm') return v === '' ? 'empty version' : undefined;
  const p = parseDpkg(v);
  return 'error' in p ? p.error : undefined;
}
