// Paging cursors: opaque to clients, HMAC-signed by the server, bound to the query they page, so
// a cursor that was edited, forged or taken from another question is a clear 400, never a crash
// or a page of something else. The key lives for the server's life: a cursor does not survive a
// restart (the client starts the listing again).
import crypto from 'node:crypto';
import type { PagePosition } from '../app/paging.js';
import { HttpError } from './auth.js';

export class Cursors {
  constructor(private readonly key: Buffer = crypto.randomBytes(32)) {}

  private mac(text: string): Buffer {
    return crypto.createHmac('sha256', this.key).update(text).digest();
  }

  /** A cursor for the page starting at `at` of the listing `scope` names (route + its parameters). */
  make(scope: string, at: PagePosition): string {
    const body = Buffer.from(JSON.stringify({ o: at.offset, ...(at.after !== undefined ? { k: at.after } : {}), q: crypto.createHash('sha256').update(scope).digest('base64url').slice(0, 16) })).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** The position a cursor stands for; HttpError 400 when it was not made by this server for this listing. */
  read(scope: string, cursor: string): PagePosition {
    const bad = (why: string) => new HttpError(400, `cursor: ${why}; start the listing again without a cursor`);
    const m = /^([A-Za-z0-9_-]{1,2000})\.([A-Za-z0-9_-]{43})$/.exec(cursor);
    if (!m) throw bad('not a cursor this server gave');
    const given = Buffer.from(m[2] as string, 'base64url');
    const want = this.mac(m[1] as string);
    if (given.length !== want.length || !crypto.timingSafeEqual(given, want)) throw bad('its signature does not match (edited, or from an earlier server start)');
    let parsed: unknown;
    try { parsed = JSON.parse(Buffer.from(m[1] as string, 'base64url').toString('utf8')); } catch { throw bad('unreadable'); }
    const p = parsed as { o?: unknown; k?: unknown; q?: unknown };
    if (!Number.isSafeInteger(p.o) || (p.o as number) < 0 || (p.k !== undefined && typeof p.k !== 'string')) throw bad('unreadable');
    if (p.q !== crypto.createHash('sha256').update(scope).digest('base64url').slice(0, 16)) throw bad('it belongs to another question (other route or parameters)');
    return { offset: p.o as number, ...(typeof p.k === 'string' ? { after: p.k } : {}) };
  }
}
