// Which backend `[storage] database` names: a postgres:// or postgresql:// URL, else a SQLite file;
// and what of such a URL may be shown or must be refused.

export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

/** Query parameters of a PostgreSQL URL that carry a secret (libpq's keywords, any case). */
const SECRET_PARAMS = /^(password|sslpassword)$/i;

/** The secret-bearing query parameters present in `url` (empty when none, or not a URL). */
export function urlSecretParams(url: URL): string[] {
  return [...new Set([...url.searchParams.keys()].filter((k) => SECRET_PARAMS.test(k)))];
}

/**
 * The URL (or any text holding one) as it may be printed: a password in the user part and the
 * value of every secret query parameter become `***`. Text that does not parse is masked by pattern.
 */
export function displayUrl(text: string): string {
  try {
    const u = new URL(text);
    if (u.password) u.password = '***';
    for (const k of urlSecretParams(u)) u.searchParams.set(k, '***');
    // URLSearchParams.set writes `***` percent-encoded; shown as typed.
    return u.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return text
      .replace(/\/\/([^:@/\s]*):[^@/\s]*@/g, '//$1:***@')
      .replace(/([?&](?:password|sslpassword)=)[^&\s]*/gi, '$1***');
  }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

/**
 * A warning when the PostgreSQL server is reached over the network without a verified TLS
 * certificate (sslmode verify-full or verify-ca, in the URL or PGSSLMODE): on the way, the login
 * and every fact can be read, or the connection redirected to a server that is not the database.
 */
export function pgTlsWarning(database: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let u: URL;
  try { u = new URL(database); } catch { return undefined; }
  const host = u.searchParams.get('host') ?? u.hostname;
  // An empty host or a socket folder is this machine.
  if (host === '' || host.startsWith('/') || LOOPBACK.test(host)) return undefined;
  const mode = (u.searchParams.get('sslmode') ?? env.PGSSLMODE ?? '').toLowerCase();
  if (mode === 'verify-full' || mode === 'verify-ca') return undefined;
  return `the PostgreSQL server ${host} is not on this machine and sslmode is ${mode || 'not set'}, not verify-full or verify-ca: `
    + 'the login and the facts can be read or redirected on the way (add ?sslmode=verify-full, with sslrootcert if the CA is private)';
}

/** `jellyfish migrate`: rows per target transaction (~50-100 ms of work each, so a kill loses at most that much). */
export const MIGRATE_BATCH = 5_000;
