// Token checks as Fastify preHandlers: `requireScope('push' | 'read')`. The fleet pages use the read
// one too (ui_auth = token). Secrets are compared as SHA-256 digests with timingSafeEqual; failed
// authentications are counted per client address and answered 429 past a limit, so a token cannot
// be guessed at network speed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { secretMatches, type TokenScope } from '../app/tokens.js';
import type { Awaitable, TokenRow } from '../store/store.js';

export interface AuthOptions {
  /** the live and revoked tokens (read on every check: a revoke takes effect at once) */
  tokens: () => Awaitable<TokenRow[]>;
  /** a token was used (recorded at most once a minute per token) */
  touch?: (name: string) => void;
  /** failed authentications from one address within `windowMs` before it gets 429 */
  maxFailures?: number;
  windowMs?: number;
}

/** 20 failures a minute: an agent with a stale token retries far less, a guesser far more. */
const MAX_FAILURES = 20;
const WINDOW_MS = 60_000;
/** Addresses remembered at most (a flood of spoofed-looking addresses cannot grow the map forever). */
const MAX_TRACKED = 100_000;
const TOUCH_EVERY_MS = 60_000;

declare module 'fastify' {
  interface FastifyInstance {
    jellyfishAuth: Authenticator;
  }
  interface FastifyRequest {
    /** the token that authenticated this request */
    jellyfishToken: TokenRow | null;
  }
}

/** An HTTP answer the auth check gives. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly headers: Record<string, string> = {}, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

/** Failures per address in a fixed window (a small own limiter: @fastify/rate-limit counts every request, this only failures). */
class FailureLimiter {
  private readonly seen = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly max: number, private readonly windowMs: number) {}

  /** seconds until the address may try again, or 0 */
  blockedFor(address: string, now = Date.now()): number {
    const e = this.seen.get(address);
    if (!e || e.resetAt <= now) return 0;
    return e.count >= this.max ? Math.ceil((e.resetAt - now) / 1000) : 0;
  }

  fail(address: string, now = Date.now()): void {
    let e = this.seen.get(address);
    if (!e || e.resetAt <= now) {
      if (this.seen.size >= MAX_TRACKED) this.sweep(now);
      e = { count: 0, resetAt: now + this.windowMs };
      this.seen.set(address, e);
    }
    e.count++;
  }

  private sweep(now: number): void {
    for (const [k, v] of this.seen) if (v.resetAt <= now) this.seen.delete(k);
    if (this.seen.size >= MAX_TRACKED) this.seen.clear();
  }
}

export class Authenticator {
  private readonly limiter: FailureLimiter;
  private readonly touched = new Map<string, number>();

  constructor(private readonly opts: AuthOptions) {
    this.limiter = new FailureLimiter(opts.maxFailures ?? MAX_FAILURES, opts.windowMs ?? WINDOW_MS);
  }

  /**
   * The token of an Authorization header: `Bearer SECRET`, the old agents' `NAME:SECRET`
   * (`/sapi/puthostjson/`), or HTTP Basic with NAME and SECRET (a browser on the fleet pages).
   * Throws HttpError 401/403/429.
   */
  async check(header: string | undefined, address: string, scope: TokenScope): Promise<TokenRow> {
    const wait = this.limiter.blockedFor(address);
    if (wait > 0) throw new HttpError(429, `too many failed authentications from ${address}; try again in ${wait} s`, { 'retry-after': String(wait) });
    if (!header || header.trim() === '') throw new HttpError(401, 'no token: send Authorization: Bearer TOKEN', { 'www-authenticate': 'Bearer' });
    const token = await this.find(header.trim());
    if (!token) {
      this.limiter.fail(address);
      throw new HttpError(401, 'the token is not valid (unknown, revoked, or mistyped)', { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    if (token.scope !== scope) throw new HttpError(403, `token ${token.name} has scope ${token.scope}; this needs a ${scope} token`);
    this.noteUse(token.name);
    return token;
  }

  private async find(header: string): Promise<TokenRow | undefined> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    // A browser on the fleet pages sends the token as HTTP Basic credentials (NAME, TOKEN).
    const basic = bearer ? undefined : /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    const pair = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : header;
    const old = bearer ? undefined : /^([^\s:]+):(\S+)$/.exec(pair);
    const secret = bearer?.[1] ?? old?.[2];
    if (secret === undefined) return undefined;
    const live = (await this.opts.tokens()).filter((t) => t.revokedAt === null && (!old || t.name === old[1]));
    // Every live token is compared (no early exit on the hash's first bytes): constant time per token.
    let found: TokenRow | undefined;
    for (const t of live) if (secretMatches(secret, t.secretSha256)) found = t;
    return found;
  }

  private noteUse(name: string): void {
    const now = Date.now();
    if ((this.touched.get(name) ?? 0) + TOUCH_EVERY_MS > now) return;
    this.touched.set(name, now);
    this.opts.touch?.(name);
  }
}

/** A preHandler that lets the request through with a token of `scope`, else answers 401/403/429. */
export function requireScope(scope: TokenScope) {
  return async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      request.jellyfishToken = await this.jellyfishAuth.check(request.headers.authorization, request.ip, scope);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      await reply.code(e.statusCode).headers(e.headers).type('application/json').send(errorBody(e.statusCode, e.message));
    }
  };
}

/** Every error answer: {"error": "...", "status": N} (plus what the answer adds). */
export function errorBody(status: number, message: string, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ error: message, status, ...extra })}\n`;
}

/**
 * The fleet pages' check (`[api] ui_auth = token`): a read token, which a browser sends as HTTP
 * Basic credentials (user name = the token's name, password = the token), so a 401 asks for them.
 */
export function requirePageToken() {
  return async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      request.jellyfishToken = await this.jellyfishAuth.check(request.headers.authorization, request.ip, 'read');
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      const challenge = e.statusCode === 401 ? { 'www-authenticate': 'Basic realm="jellyfish fleet pages", charset="UTF-8"' } : {};
      await reply.code(e.statusCode).headers({ ...e.headers, ...challenge }).type('text/plain; charset=utf-8')
        .send(`${e.message}\n(the fleet pages take a read token: user name = the token's name, password = the token; jellyfish token add NAME --scope read)\n`);
    }
  };
}
