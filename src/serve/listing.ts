// Sending a read answer: the CLI's `--format json` document (sorted keys), or with
// `Accept: application/x-ndjson` its rows one per line (the CLI's `--format ndjson`), either way
// written piece by piece (a month of changes is millions of rows). `limit` and `cursor` page the
// answer's list; the other fields (counts, the query echoed) always describe the whole answer.
// An answer the core function paged itself (hosts, query: it reads only the page) says where the
// next page starts; any other is computed whole and sliced here.
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { outputChunks, type Printable } from '../report/output.js';
import { HttpError } from './auth.js';
import { pageOf, type PagePosition, type PageRequest } from '../app/paging.js';
import type { Cursors } from './cursor.js';

export const MAX_LIMIT = 100_000;

/** The paging parameters every listing takes (JSON schema, for validation and /openapi.json). */
export const PAGING_PARAMS = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, description: 'at most this many rows of the list; next_cursor (JSON) or the X-Next-Cursor header (NDJSON) fetches the next page' },
  cursor: { type: 'string', maxLength: 2100, description: 'the next_cursor of the previous page (opaque, signed, bound to the same parameters)' },
} as const;

export interface Listing {
  printable: Printable;
  /** the field of the JSON answer that holds the rows (its records are the NDJSON lines); absent when the answer is the list, or has none */
  listKey?: string;
  /** the answer is already the page pageRequest asked for: where the next one starts, if any */
  paged?: { next?: PagePosition | undefined };
}

/** What identifies a listing for its cursor: the route and every parameter but the paging ones. */
function scopeOf(request: FastifyRequest): string {
  const q = { ...(request.query as Record<string, unknown>) };
  delete q.cursor;
  delete q.limit;
  const sorted = Object.keys(q).sort().map((k) => [k, q[k]]);
  return JSON.stringify([request.routeOptions.url, request.params, sorted]);
}

export function wantsNdjson(request: FastifyRequest): boolean {
  return /application\/x-ndjson/i.test(request.headers.accept ?? '');
}

/** The page `limit` and `cursor` ask for (HttpError 400 for a cursor of another listing), or undefined: the whole answer. */
export function pageRequest(request: FastifyRequest, cursors: Cursors): PageRequest | undefined {
  const { limit, cursor } = request.query as { limit?: number; cursor?: string };
  if (limit === undefined && cursor === undefined) return undefined;
  return { limit: limit ?? MAX_LIMIT, ...(cursor === undefined ? {} : cursors.read(scopeOf(request), cursor)) };
}

export async function sendListing(request: FastifyRequest, reply: FastifyReply, cursors: Cursors, l: Listing): Promise<FastifyReply> {
  const scope = scopeOf(request);
  const asked = l.paged ? undefined : pageRequest(request, cursors);
  const page = <T>(rows: T[]): { rows: T[]; next?: string } => {
    if (l.paged) return { rows, ...(l.paged.next ? { next: cursors.make(scope, l.paged.next) } : {}) };
    const p = pageOf(rows, asked);
    return { rows: p.rows, ...(p.next ? { next: cursors.make(scope, p.next) } : {}) };
  };
  if (wantsNdjson(request)) {
    if (!l.printable.records) throw new HttpError(406, 'this answer has no NDJSON form');
    const p = page(l.printable.records());
    if (p.next) reply.header('x-next-cursor', p.next);
    const rows = p.rows;
    return reply.type('application/x-ndjson').send(Readable.from(outputChunks({ format: 'ndjson', compact: true, headers: false }, { ...l.printable, records: () => rows })));
  }
  const whole = l.printable.json();
  let doc = whole;
  if (Array.isArray(whole)) {
    // An answer that is a list itself (hosts): the next page's cursor travels in a header.
    const p = page(whole);
    if (p.next) reply.header('x-next-cursor', p.next);
    doc = p.rows;
  } else if (l.listKey !== undefined) {
    const w = whole as Record<string, unknown>;
    const list = w[l.listKey];
    if (Array.isArray(list)) {
      const p = page(list);
      doc = { ...w, [l.listKey]: p.rows, ...(p.next ? { next_cursor: p.next } : {}) };
    }
  }
  return reply.type('application/json; charset=utf-8').send(Readable.from(outputChunks({ format: 'json', compact: true, headers: false }, { ...l.printable, json: () => doc })));
}
