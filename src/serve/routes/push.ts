// Pushes from host agents (SPEC §11): `POST /api/v1/push` (Bearer) and the old agents'
// `POST /sapi/puthostjson/` (`Authorization: NAME:TOKEN`). The body is what `jellyfish ingest`
// reads (one document, an array, NDJSON) and goes through the same code: validateDocument, the
// [sapi] limits, one transaction per document. Before anything is stored every document's host is
// checked against the token's patterns: one foreign host and nothing of the push is stored (403).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { pushOptions, storeDocuments, type IngestSummary } from '../../app/ingest.js';
import { tokenAllowsHost } from '../../app/tokens.js';
import type { Config } from '../../config/load.js';
import type { Store, TokenRow } from '../../store/store.js';
import { errorBody, requireScope } from '../auth.js';
import type { ApiMetrics } from '../metrics.js';
import type { DocumentChecker } from '../check-pool.js';
import type { SerialWriter } from '../writer.js';

export interface PushRoutesOptions {
  config: Config;
  store: Store;
  writer: SerialWriter;
  /** parses and validates bodies off the event loop */
  checker: DocumentChecker;
  /** whether the inventory names this host (undefined: no inventory to ask) */
  inInventory: (host: string) => boolean | undefined;
  metrics: ApiMetrics;
}

/** The answer to a push: the ingest summary, plus the hosts the inventory does not name. */
export interface PushAnswer extends IngestSummary {
  unknown_host: string[];
}

const answerSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    stored: { type: 'integer' },
    rejected: { type: 'array', items: { type: 'object', additionalProperties: true } },
    skipped_types: { type: 'array', items: { type: 'object', additionalProperties: true } },
    unknown_host: { type: 'array', items: { type: 'string' } },
  },
} as const;
const errorSchema = { type: 'object', additionalProperties: true, properties: { error: { type: 'string' }, status: { type: 'integer' } } } as const;

export async function pushRoutes(app: FastifyInstance, opts: PushRoutesOptions): Promise<void> {
  const { config, store, writer, metrics, checker } = opts;
  const push = requireScope('push');
  const validate = pushOptions(config);

  const handler = async (body: unknown, token: TokenRow, reply: FastifyReply): Promise<FastifyReply> => {
    const input = typeof body === 'string' ? body : '';
    const arrived = writer.expect();
    let checked;
    try {
      checked = await checker.check(input, validate);
    } finally {
      arrived();
    }
    const send = (code: number, doc: string) => reply.code(code).type('application/json').send(doc);
    if (checked.count === 0) return send(400, errorBody(400, 'no document found in the body (one JSON document, an array of them, or one per line)'));
    const named = [...checked.valid.map((v) => v.doc.host), ...checked.rejected.flatMap((r) => (r.host ? [r.host] : []))];
    const foreign = [...new Set(named.filter((h) => !tokenAllowsHost(token, h)))];
    if (foreign.length) {
      return send(403, errorBody(403, `token ${token.name} may not push for ${foreign.join(', ')} (its hosts: ${token.hosts?.join(',')}); nothing of this push was stored`, { hosts: foreign }));
    }
    const unknown = new Set<string>();
    let allSkipped = 0;
    const { summary } = await writer.turn((write) => storeDocuments(store, checked, {
      ...validate,
      write,
      onStored: (_raw, _doc, outcome) => {
        if (opts.inInventory(outcome.host) === false) unknown.add(outcome.host);
        if (outcome.storedTypes.length === 0 && outcome.skippedTypes.length > 0) allSkipped++;
      },
    }));
    const answer: PushAnswer = { ...summary, unknown_host: [...unknown].sort() };
    // 400 names every refused document (the valid ones of the same body are stored, as ingest does);
    // 409: a document older than every type stored for its host changed nothing.
    const code = summary.rejected.length ? 400 : allSkipped ? 409 : 200;
    return send(code, `${JSON.stringify(answer)}\n`);
  };

  const schema = (summary: string, auth: string) => ({
    summary,
    description: `${auth}. Body: one ingest document, a JSON array of them, or NDJSON (see \`jellyfish ingest --help\`).`,
    security: [{ bearer: [] }],
    response: { 200: answerSchema, 400: answerSchema, 401: errorSchema, 403: errorSchema, 409: answerSchema, 413: errorSchema, 429: errorSchema, 503: errorSchema },
  });
  app.post('/api/v1/push', { preHandler: push, schema: schema('store collection documents pushed by a host agent', 'Authorization: Bearer TOKEN (a push token)') },
    async (request, reply) => handler(request.body, request.jellyfishToken as TokenRow, reply));
  app.post('/sapi/puthostjson/', { preHandler: push, schema: schema('the old agents\' push path', 'Authorization: NAME:TOKEN (a push token and its name)') },
    async (request, reply) => handler(request.body, request.jellyfishToken as TokenRow, reply));
  // Every push is counted by its answer, refused ones (401, 413, 429) included.
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'POST') metrics.pushes.inc({ answer: String(reply.statusCode) });
  });
}
