// OpenSSH known_hosts: parse, match (patterns, negation, hashed |1|salt|hash entries) and
// verify a presented host key. Pure apart from the cached file read.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { KnownHostEntry } from '../core/ssh-types.js';
import { HashedNames, sameWords, words } from './hashed-name.js';

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (parts[0] === '@revoked' || parts[0] === '@cert-authority') marker = parts.shift() as KnownHostEntry['marker'];
    const [hosts, keyType, keyBase64] = parts;
    if (!hosts || !keyType || !keyBase64) continue;
    out.push({ ...(marker ? { marker } : {}), hosts, keyType, keyBase64 });
  }
  return out;
}

/** How the host is written in known_hosts: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Compiled patterns: the same few patterns are tested for every host of a run. */
const patternCache = new Map<string, RegExp>();
const PATTERN_CACHE_MAX = 50_000;

function globToRegExp(pattern: string, caseSensitive = false): RegExp {
  const key = `${caseSensitive ? 's' : 'i'}${pattern}`;
  let compiled = patternCache.get(key);
  if (!compiled) {
    const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    compiled = new RegExp(`^${re}$`, caseSensitive ? '' : 'i');
    if (patternCache.size >= PATTERN_CACHE_MAX) patternCache.clear();
    patternCache.set(key, compiled);
  }
  return compiled;
}

function hashedMatches(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  const mac = crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return mac === hash;
}

/** OpenSSH semantics: any negated pattern that matches vetoes the line; else any positive match. */
export function hostsFieldMatches(field: string, name: string, caseSensitive = false): boolean {
  if (field.startsWith('|1|')) return hashedMatches(field, name);
  let matched = false;
  for (const pat of field.split(',')) {
    if (pat.startsWith('!')) {
      if (globToRegExp(pat.slice(1), caseSensitive).test(name)) return false;
    } else if (globToRegExp(pat, caseSensitive).test(name)) {
      matched = true;
    }
  }
  return matched;
}

export type Verdict =
  | { kind: 'ok' }
  | { kind: 'unknown' }
  | { kind: 'mismatch'; message: string }
  | { kind: 'revoked'; message: string }
  | { kind: 'unsupported'; message: string };

/** The key type named inside an SSH public key blob (its first string). */
export function blobKeyType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

export function verifyHostKey(entries: KnownHostEntry[], name: string, blob: Buffer): Verdict {
  const keyType = blobKeyType(blob);
  const b64 = blob.toString('base64');
  if (entries.some((e) => e.marker === '@revoked' && e.keyBase64 === b64)) {
    return { kind: 'revoked', message: `the ${keyType} host key presented by ${name} is marked @revoked in known_hosts` };
  }
  const forHost = entries.filter((e) => e.marker === undefined && hostsFieldMatches(e.hosts, name));
  if (forHost.length === 0) {
    // Trusting a host through its CA needs the certificate, which ssh2 does not verify: never learn such a host as new.
    if (entries.some((e) => e.marker === '@cert-authority' && hostsFieldMatches(e.hosts, name))) {
      return { kind: 'unsupported', message: `known_hosts vouches for ${name} only through a @cert-authority line: host certificates are not supported (ssh2 cannot verify them); add the host's own key to known_hosts` };
    }
    return { kind: 'unknown' };
  }
  if (forHost.some((e) => e.keyType === keyType && e.keyBase64 === b64)) return { kind: 'ok' };
  const fp = `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  if (forHost.some((e) => e.keyType === keyType)) {
    return { kind: 'mismatch', message: `host key for ${name} has CHANGED: ${keyType} ${fp} does not match known_hosts` };
  }
  const known = [...new Set(forHost.map((e) => e.keyType))].join(', ');
  return { kind: 'mismatch', message: `${name} presented a ${keyType} key (${fp}) but known_hosts holds only ${known} for it` };
}

/** Key types already known for a host, so the client asks for those first (as OpenSSH does). */
export function knownKeyTypes(entries: KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => e.marker === undefined && hostsFieldMatches(e.hosts, name)).map((e) => e.keyType))];
}

/**
 * Hashed known_hosts lines above which finding one host costs more CPU than collecting it (about
 * 4 ms of controller CPU per host on the fixture fleet, docs/benchmarks.md): a lookup is one
 * HMAC-SHA1 per distinct salt, ~1.35 µs each (bench/known-hosts.mjs), and `ssh-keygen -H` and
 * HashKnownHosts give every line a salt of its own.
 */
export const HASHED_LINES_COSTLY = 3000;
export const HMAC_MICROSECONDS = 1.35;

/**
 * known_hosts indexed by host name. A line that names hosts literally (the usual case, and what
 * accept-new writes) is found by a map lookup; hashed lines are grouped by salt, so a name costs
 * one HMAC per distinct salt (the salt's HMAC state made once, not per lookup); lines with wildcards or
 * negations are tested one by one. Without the index every host of a run tested every line: with
 * 10,000 lines, 2,000 hosts spent their 3 s connect_timeout matching and 1,991 failed.
 */
export class KnownHosts {
  private readonly byName = new Map<string, number[]>();
  /** lines whose host field has a pattern or a negation (or an unknown hash format) */
  private readonly scanned: number[] = [];
  /** `|1|salt|hash` lines by salt (base64): the salt's HMAC, and each hash with its lines */
  private readonly hashed = new Map<string, { names: HashedNames; hashes: { digest: Int32Array; lines: number[] }[] }>();
  private hashedCount = 0;
  /** @revoked and @cert-authority lines: verifyHostKey looks at them whatever the host */
  private readonly marked: number[] = [];

  constructor(readonly entries: KnownHostEntry[]) {
    entries.forEach((e, i) => {
      if (e.marker) { this.marked.push(i); return; }
      const [, kind, salt, hash] = e.hosts.split('|');
      if (kind === '1' && salt && hash) { this.addHashed(salt, hash, i); return; }
      const names = e.hosts.split(',');
      if (e.hosts.startsWith('|') || names.some((n) => /[*?!]/.test(n))) { this.scanned.push(i); return; }
      for (const n of names) {
        const key = n.toLowerCase();
        const list = this.byName.get(key);
        if (list) list.push(i); else this.byName.set(key, [i]);
      }
    });
  }

  private addHashed(salt: string, hash: string, i: number): void {
    this.hashedCount++;
    let group = this.hashed.get(salt);
    if (!group) this.hashed.set(salt, group = { names: new HashedNames(Buffer.from(salt, 'base64')), hashes: [] });
    const bytes = Buffer.from(hash, 'base64');
    // Not a SHA-1 digest in base64: no name can match it (as before, when the base64 text was compared).
    if (bytes.length !== 20 || bytes.toString('base64') !== hash) return;
    const digest = words(bytes);
    const same = group.hashes.find((h) => sameWords(h.digest, digest));
    if (same) same.lines.push(i); else group.hashes.push({ digest, lines: [i] });
  }

  get size(): number { return this.entries.length; }
  /** `|1|` lines: each lookup costs one HMAC per distinct salt among them */
  get hashedLines(): number { return this.hashedCount; }

  /** The lines that can concern `name` (as knownHostsName writes it), in file order. */
  relevantTo(name: string): KnownHostEntry[] {
    const found = new Set([...(this.byName.get(name.toLowerCase()) ?? []), ...this.marked]);
    const bytes = Buffer.from(name);
    for (const g of this.hashed.values()) {
      const digest = g.names.hash(bytes);
      for (const h of g.hashes) if (sameWords(digest, h.digest)) for (const i of h.lines) found.add(i);
    }
    for (const i of this.scanned) if (hostsFieldMatches((this.entries[i] as KnownHostEntry).hosts, name)) found.add(i);
    return [...found].sort((a, b) => a - b).map((i) => this.entries[i] as KnownHostEntry);
  }
}

const EMPTY = new KnownHosts([]);
const cache = new Map<string, { mtimeMs: number; size: number; known: KnownHosts }>();

/** known_hosts, re-read only when the file changed (one read and index per thread per run, typically). */
export function loadKnownHosts(file: string): KnownHosts {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return EMPTY;
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.known;
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return EMPTY; }
  const known = new KnownHosts(parseKnownHosts(text));
  cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, known });
  return known;
}
