// The api_tokens rows (migration 10) as both engines read and write them: one mapping, so SQLite
// and PostgreSQL answer `token list` and the server's token check alike.
import type { TokenRow } from './store.js';

export const TOKEN_COLUMNS = 'name, scope, hosts, secret_sha256, created_at, last_used_at, revoked_at';

/** Host patterns as stored: one comma list (a pattern never holds a comma), NULL = any host. */
export function hostsText(hosts: string[] | null): string | null {
  return hosts === null ? null : hosts.join(',');
}

export function toTokenRow(r: Record<string, unknown>): TokenRow {
  const hosts = r.hosts as string | null;
  return {
    name: r.name as string,
    scope: r.scope as TokenRow['scope'],
    hosts: hosts === null ? null : hosts.split(',').filter((h) => h !== ''),
    secretSha256: r.secret_sha256 as string,
    createdAt: r.created_at as string,
    lastUsedAt: (r.last_used_at as string | null) ?? null,
    revokedAt: (r.revoked_at as string | null) ?? null,
  };
}
