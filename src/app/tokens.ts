// API tokens (SPEC §11): a random secret shown once, only its SHA-256 kept. `jellyfish token` and
// `serve` both go through these functions.
import crypto from 'node:crypto';
import { hostsFieldMatches } from '../ssh/known-hosts.js';
import type { Store, TokenRow } from '../store/store.js';
import { UsageError } from '../core/errors.js';

export const TOKEN_SCOPES = ['push', 'read'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** 32 random bytes: past any guessing, and a plain SHA-256 of them is a safe thing to store. */
const SECRET_BYTES = 32;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A host pattern: the characters of a host name, a port, IPv6 brackets, and glob * ? ! (OpenSSH pattern syntax). */
const PATTERN = /^!?[A-Za-z0-9.:*?\[\]_-]{1,255}$/;

export function hashSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether `secret` hashes to `sha256hex`, in constant time (both sides are 32-byte digests). */
export function secretMatches(secret: string, sha256hex: string): boolean {
  const want = Buffer.from(sha256hex, 'hex');
  const got = crypto.createHash('sha256').update(secret, 'utf8').digest();
  return want.length === got.length && crypto.timingSafeEqual(want, got);
}

export function checkTokenName(name: string): string {
  if (!NAME.test(name)) throw new UsageError(`token name ${JSON.stringify(name)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  return name;
}

/** `--hosts 'web*.ams,db7.ams'` -> patterns; each checked (a typo must not open a token to every host). */
export function parseHostPatterns(text: string): string[] {
  const patterns = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (patterns.length === 0) throw new UsageError('--hosts: give at least one host pattern (web*.ams,db7.ams)');
  for (const p of patterns) {
    if (!PATTERN.test(p)) throw new UsageError(`--hosts: ${JSON.stringify(p)} is not a host pattern (host-name characters and * ? [ ] !, OpenSSH pattern syntax)`);
  }
  if (patterns.every((p) => p.startsWith('!'))) throw new UsageError('--hosts: only negated patterns match no host; add a positive one');
  return patterns;
}

/** Whether a push token may push for `host` (patterns as in known_hosts: any match, no negated match; any case). */
export function tokenAllowsHost(token: Pick<TokenRow, 'hosts'>, host: string): boolean {
  return token.hosts === null || hostsFieldMatches(token.hosts.join(','), host);
}

export interface NewToken { name: string; token: string; scope: TokenScope; hosts: string[] | null }

export async function addToken(store: Store, name: string, scope: TokenScope, hosts: string[] | null): Promise<NewToken> {
  checkTokenName(name);
  if (scope === 'read' && hosts !== null) throw new UsageError('--hosts is for push tokens: a read token reads the whole fleet');
  const token = crypto.randomBytes(SECRET_BYTES).toString('base64url');
  const added = await store.addToken({ name, scope, hosts, secretSha256: hashSecret(token), createdAt: new Date().toISOString() });
  if (!added) throw new UsageError(`a token named ${name} exists already (revoked tokens keep their name): choose another name`);
  return { name, token, scope, hosts };
}

/** What `token list` shows of a token: everything but its hash. */
export interface TokenView { name: string; scope: string; hosts: string[] | null; created_at: string; last_used_at: string | null; revoked_at: string | null }

export function tokenView(t: TokenRow): TokenView {
  return { name: t.name, scope: t.scope, hosts: t.hosts, created_at: t.createdAt, last_used_at: t.lastUsedAt, revoked_at: t.revokedAt };
}
