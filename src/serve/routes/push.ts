// Pushes from host agents (SPEC §11): `POST /api/v1/push` (Bearer) and the old agents'
// `POST /sapi/puthostjson/` (`Authorization: NAME:TOKEN`). The body is what `jellyfish ingest`
// reads (one document, an array, NDJSON) and goes through the same code: validateDocument, the
// [sapi] limits, each document whole or absent, in the writer thread (write-worker.ts). Before
// anything is stored every document's host is checked against the token's patterns: one foreign
// host and nothing of the push is stored (403).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { pushOptions, type IngestSummary } from '../../app/ingest.js';
import type { Config } from '../../config/load.js';
import type { TokenRow } from '../../store/store.js';
import { errorBody, requireScope } from '../auth.js';
import type { ApiMetrics } from '../metrics.js';
import type { PushWriter } from '../push-writer.js';

export interface PushRoutesOptions {
  config: Config;
  /** checks and stores pushes in its own thread */
  writer: PushWriter;
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
  const { config, writer, metrics } = opts;
  const push = requireScope('push');
  const validate = pushOptions(config);

  const handler = async (body: unknown, token: TokenRow, reply: FastifyReply): Promise<FastifyReply> => {
    const input = typeof body === 'string' ? body : '';
    const send = (code: number, doc: string) => reply.code(code).type('application/json').send(doc);
    const result = await writer.push(input, { ...validate, now: Date.now() }, token);
    if (result.kind === 'empty') return send(400, errorBody(400, 'no document found in the body (one JSON document, an array of them, or one per line)'));
    if (result.kind === 'forbidden') {
      return send(403, errorBody(403, `token ${token.name} may not push for ${result.hosts.join(', ')} (its hosts: ${token.hosts?.join(',')}); nothing of this push was stored`, { hosts: result.hosts }));
    }
    const { summary } = result;
    const unknown = [...new Set(result.hosts.filter((h) => opts.inInventory(h) === false))].sort();
    const answer: PushAnswer = { ...summary, unknown_host: unknown };
    // 400 names every refused document (the valid ones of the same body are stored, as ingest does);
    // 409: a document older than every type stored for its host changed nothing.
    const code = summary.rejected.length ? 400 : result.allSkipped ? 409 : 200;
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
