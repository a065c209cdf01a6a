// Files jellyfish writes beside others' (the result JSON, the metrics file, the lock holder) and
// the folders they live in: another local user must not be able to make us write through a link.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Write `file` whole or not at all: a temp file beside it, then rename. The temp name is random
 * and opened with O_CREAT|O_EXCL (`wx`), so a link planted at a guessable name (the old
 * `${file}.${pid}.tmp`) is never followed; rename replaces a link at `file` itself, never its target.
 */
export function writeFileAtomically(file: string, text: string, mode = 0o600): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${crypto.randomBytes(8).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, text);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* closed already */ }
    try { fs.unlinkSync(tmp); } catch { /* renamed or gone */ }
    throw e;
  }
}

/**
 * One warning per folder, among those holding `files` (what -> path), that other users may write
 * to without the sticky bit: there, anyone can replace our files or plant links (the lock holder,
 * the database and its WAL). A folder that does not exist yet is created 0700 by us.
 */
export function unsafeFolderWarnings(files: { what: string; file: string }[]): string[] {
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const dir = path.dirname(path.resolve(f.file));
    byDir.set(dir, [...(byDir.get(dir) ?? []), f.what]);
  }
  const out: string[] = [];
  for (const [dir, whats] of byDir) {
    let mode: number;
    try { mode = fs.statSync(dir).mode; } catch { continue; }
    if ((mode & 0o002) === 0 || (mode & 0o1000) !== 0) continue;
    out.push(`${dir}: the folder of the ${[...new Set(whats)].join(', the ')} is writable by other users without the sticky bit `
      + `(mode ${(mode & 0o7777).toString(8).padStart(4, '0')}): any local user can replace those files or plant links there (chmod o-w, or +t)`);
  }
  return out;
}
