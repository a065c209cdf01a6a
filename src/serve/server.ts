// `jellyfish serve`: the storage API (SPEC §11) as a Fastify instance, built but not listening
// (the command listens; tests listen on loopback). Pushes are checked and written in the writer
// thread (push-writer.ts), so a write never holds up the event loop; reads use their own handle.
import crypto from 'node:crypto';
import fs from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import swagger from '@fastify/swagger';
import { JellyfishError, StorageError, UsageError } from '../core/errors.js';
import { VERSION } from '../app/version.js';
import type { Config } from '../config/load.js';
import { readInventory } from '../inventory/csv.js';
import type { InventoryHost } from '../inventory/host.js';
import { cell } from '../report/table.js';
import type { Store } from '../store/store.js';
import { Authenticator, errorBody, HttpError } from './auth.js';
import { Cursors } from './cursor.js';
import { createMetrics, type ApiMetrics } from './metrics.js';
import { pushRoutes } from './routes/push.js';
import { readRoutes } from './routes/read.js';
import type { PushWriter } from './push-writer.js';
import { BusyError } from './writer.js';

/** One request as logged (never a header: tokens travel in Authorization). */
export interface RequestLogLine { time: string; address: string; method: string; path: string; status: number; ms: number }

export interface ServeOptions {
  config: Config;
  /** the writer thread (pushes, token use) */
  writer: PushWriter;
  /** the read side */
  reader: Store;
  /** the inventory file: pushes for hosts it does not name are flagged unknown_host */
  inventoryFile?: string;
  /** one call per finished request */
  logRequest?: (line: RequestLogLine) => void;
  /** other problems (a failed token-use record, an internal error), one line each */
  logError?: (message: string) => void;
  /** HTTPS: PEM texts */
  https?: { cert: Buffer; key: Buffer };
  /** the fleet pages (SPEC §12), mounted beside the API */
  pages?: FastifyPluginAsync;
  /** failed authentications per address per minute before 429 */
  maxAuthFailures?: number;
}

/**
 * Slowloris and stuck clients: all headers within 10 s, a whole request (a 64 MB push on a slow
 * link) within 5 minutes, an idle keep-alive connection closed after 5 s (agents push once and go).
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 300_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const NODE_TIMEOUTS = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 };
/** The inventory is read again at most this often (its mtime decides whether it changed). */
const INVENTORY_RECHECK_MS = 5_000;

declare module 'fastify' {
  interface FastifyInstance {
    jellyfishMetrics: ApiMetrics;
  }
}

/**
 * The inventory `serve` was given, read again when its mtime changes (checked at most every
 * INVENTORY_RECHECK_MS): pushes for hosts it does not name are flagged, `hosts` lists in its order.
 */
export class InventoryCache {
  private list: InventoryHost[] | undefined;
  private names: Set<string> | undefined;
  private mtime = -1;
  private checkedAt = 0;

  constructor(private readonly file: string | undefined, private readonly config: Config, private readonly logError: (m: string) => void) {}

  /** the inventory's hosts in its order, or undefined when there is none to read */
  hosts(): InventoryHost[] | undefined {
    const now = Date.now();
    if (this.file === undefined || now - this.checkedAt < INVENTORY_RECHECK_MS) return this.list;
    this.checkedAt = now;
    try {
      const m = fs.statSync(this.file).mtimeMs;
      if (m !== this.mtime) {
        this.list = readInventory(this.file, { prodStatuses: this.config.collector.prodStatuses }).hosts;
        this.names = new Set(this.list.flatMap((h) => [h.label.toLowerCase(), h.host.toLowerCase()]));
        this.mtime = m;
      }
    } catch (e) {
      if (this.mtime !== -2) this.logError(`the inventory cannot be read (pushes are not checked against it, hosts lists the database): ${(e as Error).message}`);
      this.list = undefined;
      this.names = undefined;
      this.mtime = -2;
    }
    return this.list;
  }

  /** whether the inventory names this host (any case, with or without its port); undefined without one */
  has(host: string): boolean | undefined {
    this.hosts();
    return this.names === undefined ? undefined : this.names.has(host.toLowerCase());
  }
}

/** How long a connection closed on a refused body still drops what the client sends. */
const LINGER_MS = 2_000;

/**
 * A lingering close for a connection whose request body is refused half-way (413): Node would
 * destroy the socket once the answer is written, with the client still sending, and a socket
 * closed with unread bytes is reset, which makes the client's kernel drop the answer it has not
 * read yet. Instead the answer is followed by a FIN, whatever still arrives is read and dropped,
 * and the socket is destroyed when the client closes or after LINGER_MS, whichever is first.
 */
function lingerOnClose(socket: import('node:net').Socket | null | undefined): void {
  if (!socket) return;
  socket.destroySoon = function lingering(this: import('node:net').Socket) {
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    this.on('data', () => { /* dropped */ });
    this.resume();
    this.end();
  };
}

export async function buildServer(opts: ServeOptions): Promise<FastifyInstance> {
  const { config, reader, writer } = opts;
  const logError = opts.logError ?? (() => {});
  const app = Fastify({
    logger: false,
    // Node checks the headers and request timeouts only every connectionsCheckingInterval (30 s by
    // default): once a second, so a slowloris client is cut near headersTimeout, not 40 s later.
    ...(opts.https ? { https: { cert: opts.https.cert, key: opts.https.key, ...NODE_TIMEOUTS } } : { http: NODE_TIMEOUTS }),
    bodyLimit: config.api.maxBodyBytes,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: REQUEST_TIMEOUT_MS,
    // SIGTERM: in-flight requests finish; requests that arrive meanwhile get 503.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    genReqId: () => crypto.randomBytes(6).toString('hex'),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }) as unknown as FastifyInstance;

  const metrics = createMetrics({ reader, staleAfterMs: config.gapfix.maxAgeMs });
  app.decorate('jellyfishMetrics', metrics);
  app.decorate('jellyfishAuth', new Authenticator({
    tokens: () => reader.listTokens(),
    touch: (name) => { writer.touch(name, new Date().toISOString()).catch((e: Error) => logError(`cannot record the use of token ${name}: ${e.message}`)); },
    ...(opts.maxAuthFailures ? { maxFailures: opts.maxAuthFailures } : {}),
  }));
  app.decorateRequest('jellyfishToken', null);

  // Bodies are read as text (decoded once, invalid UTF-8 becoming U+FFFD) and split by ingest's
  // own reader: it takes NDJSON and arrays, and a broken document costs only itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body); });

  app.addHook('onResponse', async (request, reply) => {
    const ms = reply.elapsedTime;
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.observe({ method: request.method, route, status: String(reply.statusCode) }, ms / 1000);
    opts.logRequest?.({ time: new Date().toISOString(), address: request.ip, method: request.method, path: request.url, status: reply.statusCode, ms: Math.round(ms) });
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    let status = 500;
    let message = 'internal error (a bug; the server log has it)';
    if (error instanceof HttpError) { status = error.statusCode; message = error.message; reply.headers(error.headers); }
    else if (error instanceof BusyError) { status = 503; message = `${error.message}; try again`; reply.header('retry-after', '5'); }
    else if (error instanceof UsageError) { status = 400; message = error.message; }
    else if (error instanceof StorageError) { status = 503; message = 'the database cannot be used right now; try again'; logError(error.message); }
    else if (error instanceof JellyfishError) { status = 500; logError(error.message); }
    else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      message = `the body is larger than [api] max_body (${config.api.maxBodyBytes} bytes)`;
      // The rest of the body is not read: the connection closes after the answer, lingering
      // (see lingerOnClose) so the client reads the 413 before the close resets it.
      reply.header('connection', 'close');
      lingerOnClose(request.raw.socket);
    } else if (error.validation) { status = 400; message = `${error.message}`; }
    else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) { status = error.statusCode; message = error.message; }
    else logError(`internal error on ${request.method} ${cell(request.url)}: ${error.stack ?? error.message}`);
    return reply.code(status).type('application/json').send(errorBody(status, message));
  });
  app.setNotFoundHandler(async (request, reply) => reply.code(404).type('application/json').send(errorBody(404, `no such endpoint: ${request.method} ${request.url.split('?')[0]} (GET /openapi.json lists them)`)));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'jellyfish storage API', version: VERSION, description: 'Pushes from host agents and the read side of the fact store (the same answers as the CLI\'s --format json).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'jellyfish token add NAME --scope push|read' } } },
    },
  });

  const inventory = new InventoryCache(opts.inventoryFile, config, logError);
  await app.register(pushRoutes, { config, writer, metrics, inInventory: (h) => inventory.has(h) });
  await app.register(readRoutes, { config, reader, inventory: () => inventory.hosts(), cursors: new Cursors() });

  app.get('/healthz', { schema: { summary: 'liveness: 200 while the server takes requests', response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, version: { type: 'string' } } } } } },
    async () => ({ ok: true, version: VERSION }));
  app.get('/metrics', { schema: { summary: 'Prometheus exposition', hide: false } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  if (opts.pages) await app.register(opts.pages);
  return app;
}
