// The read side over HTTP (SPEC §11): each route parses its parameters into the request the CLI
// command builds from its flags, calls the same core function, and sends the same view
// (`--format json`, or its rows as NDJSON). No query of its own lives here.
import type { FastifyInstance } from 'fastify';
import { changesView } from '../../app/changes.js';
import { runQuery, SCHEME_CHOICES, VERSION_OPS } from '../../app/query.js';
import { changesPrintable, changesRequest, type ChangesOptions } from '../../cli/changes-command.js';
import { printable, requestFrom, type QueryFlags } from '../../cli/query-command.js';
import type { Store } from '../../store/store.js';
import { errorBody, requireScope } from '../auth.js';
import type { Cursors } from '../cursor.js';
import { PAGING_PARAMS, sendListing } from '../listing.js';

export interface ReadRoutesOptions {
  reader: Store;
  cursors: Cursors;
}

const text = { type: 'string', maxLength: 4096 } as const;
const flag = { type: 'string', enum: ['1', '0', 'true', 'false', 'yes', 'no'], description: '1/true/yes or 0/false/no' } as const;
const on = (v: unknown): boolean => v === '1' || v === 'true' || v === 'yes';
/** `site=ams,fra` (or the parameter repeated) -> ['ams', 'fra'] */
const list = (v: string | string[] | undefined): string[] | undefined =>
  v === undefined ? undefined : (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
const listParam = { anyOf: [text, { type: 'array', items: text, maxItems: 100 }] } as const;
const answer = { 200: { description: 'the CLI\'s --format json answer (or NDJSON rows with Accept: application/x-ndjson)', type: 'object', additionalProperties: true } } as const;
const security = [{ bearer: [] }];

export async function readRoutes(app: FastifyInstance, opts: ReadRoutesOptions): Promise<void> {
  const { reader, cursors } = opts;
  const read = requireScope('read');

  app.get('/api/v1/query', {
    preHandler: read,
    schema: {
      summary: 'which hosts have a fact now (jellyfish query)',
      security,
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: {
          type: text, subtype: text, value: text, like: text,
          ...Object.fromEntries(VERSION_OPS.map((op) => [`version_${op}`, text])),
          scheme: { type: 'string', enum: [...SCHEME_CHOICES], default: 'auto' },
          count_by: { type: 'string', enum: ['value'] },
          ...PAGING_PARAMS,
        },
      },
      response: answer,
    },
  }, async (request, reply) => {
    const p = request.query as Record<string, string | undefined>;
    const flags: QueryFlags = {
      type: p.type as string,
      scheme: (p.scheme ?? 'auto') as QueryFlags['scheme'],
      ...(p.subtype !== undefined ? { subtype: p.subtype } : {}),
      ...(p.value !== undefined ? { value: p.value } : {}),
      ...(p.like !== undefined ? { like: p.like } : {}),
      ...(p.version_lt !== undefined ? { versionLt: p.version_lt } : {}),
      ...(p.version_le !== undefined ? { versionLe: p.version_le } : {}),
      ...(p.version_eq !== undefined ? { versionEq: p.version_eq } : {}),
      ...(p.version_ge !== undefined ? { versionGe: p.version_ge } : {}),
      ...(p.version_gt !== undefined ? { versionGt: p.version_gt } : {}),
      ...(p.count_by !== undefined ? { countBy: 'value' as const } : {}),
    };
    const q = requestFrom(flags);
    const view = await runQuery(reader, q);
    return sendListing(request, reply, cursors, { printable: printable(q, view), listKey: view.counts ? 'values' : 'hosts' });
  });

  app.get('/api/v1/changes', {
    preHandler: read,
    schema: {
      summary: 'the change feed over a window (jellyfish changes)',
      security,
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['since'],
        properties: {
          since: text, until: text, type: text, subtype: text, host: text,
          site: listParam, srvtype: listParam, prod: flag, include_new_hosts: flag,
          ...PAGING_PARAMS,
        },
      },
      response: { ...answer, 404: { description: 'host is not in the database', type: 'object', additionalProperties: true } },
    },
  }, async (request, reply) => {
    const p = request.query as Record<string, unknown>;
    const site = list(p.site as string | string[] | undefined);
    const srvtype = list(p.srvtype as string | string[] | undefined);
    const o: ChangesOptions = {
      since: p.since as string,
      ...(p.until !== undefined ? { until: p.until as string } : {}),
      ...(p.type !== undefined ? { type: p.type as string } : {}),
      ...(p.subtype !== undefined ? { subtype: p.subtype as string } : {}),
      ...(p.host !== undefined ? { host: p.host as string } : {}),
      ...(site ? { site } : {}),
      ...(srvtype ? { srvtype } : {}),
      ...(on(p.prod) ? { prod: true } : {}),
      ...(on(p.include_new_hosts) ? { includeNewHosts: true } : {}),
    };
    const view = await changesView(reader, changesRequest(o, Date.now()));
    if ('unknownHost' in view) {
      return reply.code(404).type('application/json').send(errorBody(404, `${view.unknownHost} is not in the database (hosts are named as in the inventory)`, { similar: view.similar }));
    }
    return sendListing(request, reply, cursors, { printable: changesPrintable(view), listKey: 'changes' });
  });
}
