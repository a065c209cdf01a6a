// Where the locks live: the run lock is [GLOBAL] lockfile; gap-fix has its own beside it, so two
// gap-fix runs never overlap while a full run (and its lock) is left alone.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/load.js';

export function gapfixLockFile(config: Config): string {
  const f = config.lockfile;
  return f.endsWith('.lock') ? `${f.slice(0, -'.lock'.length)}-gapfix.lock` : `${f}-gapfix`;
}

/**
 * analyze's own lock: [analyze] lockfile when set, else beside the run lock
 * (`jellyfish.lock` -> `jellyfish-analyze.lock`).
 */
export function analyzeLockFile(config: Config): string {
  if (config.explicit.has('analyze.lockfile')) return config.analyze.lockfile;
  const f = config.lockfile;
  return f.endsWith('.lock') ? `${f.slice(0, -'.lock'.length)}-analyze.lock` : `${f}-analyze`;
}

/**
 * The lock file of a site collector on SQLite: one per scope beside the run lock
 * (`jellyfish.lock` -> `jellyfish.site_ams.lock`); the whole inventory keeps the file itself.
 */
export function scopedLockFile(file: string, scope: string): string {
  if (scope === 'all') return file;
  const slug = scope.replace(/[^A-Za-z0-9._-]+/g, '_');
  return file.endsWith('.lock') ? `${file.slice(0, -'.lock'.length)}.${slug}.lock` : `${file}.${slug}`;
}

/** The lock files of a mode: its own, and those of site collectors beside it (`jellyfish.site_ams.lock`). */
export function modeLockFiles(file: string): { file: string; scope?: string }[] {
  const out: { file: string; scope?: string }[] = [{ file }];
  const dir = path.dirname(file);
  const base = path.basename(file);
  const stem = base.endsWith('.lock') ? base.slice(0, -'.lock'.length) : base;
  let names: string[] = [];
  try { names = fs.readdirSync(dir); } catch { return out; }
  for (const n of names.sort()) {
    if (!n.startsWith(`${stem}.`) || n === base || n.endsWith('.lock.lock') || n.endsWith('.tmp')) continue;
    const slug = base.endsWith('.lock') ? (n.endsWith('.lock') ? n.slice(stem.length + 1, -'.lock'.length) : '') : n.slice(stem.length + 1);
    if (!slug || slug.includes('.')) continue;
    out.push({ file: path.join(dir, n), scope: slug });
  }
  return out;
}
