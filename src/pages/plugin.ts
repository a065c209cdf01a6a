// The fleet pages (SPEC §12) as a Fastify plugin, mounted by `jellyfish serve` on its server:
// GET /, /hosts/:host (and /hosts?name= for the jump box), /changes, /static/*. Server-rendered
// HTML that works with JavaScript off; every asset comes from the package. The server's read
// token check, when given, runs before every page. Every answer of this plugin carries a strict
// Content-Security-Policy (no script at all, styles from /static only), nosniff and no-referrer.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Config } from '../config/load.js';
import type { Store } from '../store/store.js';
import { auditPage, auditsPage, AUDIT_FIELDS, type AuditsQuery } from './audits-page.js';
import { changesPage, CHANGE_FIELDS, type ChangesQuery } from './changes-page.js';
import { fleetPage } from './fleet-page.js';
import { hostPage } from './host-page.js';
import { hostHref, html, toText, type Html } from './html.js';
import { page } from './layout.js';
import { FAVICON, STYLESHEET } from './style.js';

export interface PagesOptions {
  store: Store;
  config: Config;
  /** the server's read-token check, run before every page */
  preHandler?: preHandlerAsyncHookHandler;
}

export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STATIC: Record<string, { type: string; body: string }> = {
  'jellyfish.css': { type: 'text/css; charset=utf-8', body: STYLESHEET },
  'favicon.svg': { type: 'image/svg+xml', body: FAVICON },
};

/** One string parameter from a parsed query (a repeated one counts by its first value). */
function param(query: unknown, key: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[key];
  const one = Array.isArray(v) ? v[0] : v;
  return typeof one === 'string' ? one : undefined;
}

function pick<K extends string>(query: unknown, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) {
    const v = param(query, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function send(reply: FastifyReply, status: number, body: Html): FastifyReply {
  return reply.code(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(toText(body));
}

export const pagesPlugin: FastifyPluginAsync<PagesOptions> = async (app, opts) => {
  const { store, config } = opts;
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    return payload;
  });
  // A page that fails (the database went away) says so as a page; the message is escaped like any other text.
  app.setErrorHandler(async (err: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'page failed');
    return send(reply, status, page({
      title: 'Error', section: 'none', now: Date.now(),
      body: html`<h1>${status === 500 ? 'This page could not be made' : 'Bad request'}</h1><section class="panel"><p class="warn">${err.message}</p></section>`,
    }));
  });
  const guard = opts.preHandler ? { preHandler: opts.preHandler } : {};

  app.get('/', guard, async (req, reply) => send(reply, 200, await fleetPage(store, config, pick(req.query, ['outcome', 'page', 'stale_page'] as const))));

  app.get('/hosts', guard, async (req, reply) => {
    const name = (param(req.query, 'name') ?? '').trim();
    if (name === '') return reply.redirect('/', 303);
    const ref = await store.findHost(name);
    if (ref) return reply.redirect(hostHref(ref.name), 303);
    const r = await hostPage(store, name, {});
    return send(reply, r.status, r.body);
  });

  app.get<{ Params: { host: string } }>('/hosts/:host', guard, async (req, reply) => {
    const r = await hostPage(store, req.params.host, pick(req.query, ['q', 'type', 'page', 'hpage'] as const));
    return send(reply, r.status, r.body);
  });

  app.get('/changes', guard, async (req, reply) => {
    const r = await changesPage(store, pick(req.query, [...CHANGE_FIELDS, 'page'] as const) as ChangesQuery);
    return send(reply, r.status, r.body);
  });

  app.get('/audits', guard, async (req, reply) => {
    const r = await auditsPage(store, pick(req.query, AUDIT_FIELDS) as AuditsQuery);
    return send(reply, r.status, r.body);
  });

  app.get<{ Params: { name: string } }>('/audits/:name', guard, async (req, reply) => {
    const r = await auditPage(store, req.params.name, pick(req.query, AUDIT_FIELDS) as AuditsQuery);
    return send(reply, r.status, r.body);
  });

  app.get<{ Params: { '*': string } }>('/static/*', async (req, reply) => {
    const file = STATIC[req.params['*']];
    if (!file) return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('not found\n');
    return reply.header('content-type', file.type).header('cache-control', 'public, max-age=3600').send(file.body);
  });
};
