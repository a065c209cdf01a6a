// The read side over HTTP (SPEC §11): each route parses its parameters into the request the CLI
// command builds from its flags, calls the same core function, and sends the same view
// (`--format json`, or its rows as NDJSON). No query of its own lives here.
import type { FastifyInstance } from 'fastify';
import { changesView } from '../../app/changes.js';
import { runQuery, SCHEME_CHOICES, VERSION_OPS } from '../../app/query.js';
import { changesPrintable, changesRequest, type ChangesOptions } from '../../cli/changes-command.js';
import { printable, requestFrom, type QueryFlags } from '../../cli/query-command.js';
import type { Config } from '../../config/load.js';
import type { InventoryHost } from '../../inventory/host.js';
import { factsView } from '../../app/facts-view.js';
import { hostsView } from '../../app/hosts-view.js';
import { statusView } from '../../app/status-view.js';
import { factsPrintable, factsRequest, type FactsOptions } from '../../cli/facts-command.js';
import { hostsFilter, hostsPrintable, type HostsOptions } from '../../cli/hosts-command.js';
import { statusPrintable } from '../../cli/status-command.js';
import { auditDetailView, auditListView } from '../../audits/audits-view.js';
import { auditDetailPrintable, auditListPrintable, auditsRequest } from '../../cli/audits-command.js';
import type { Store } from '../../store/store.js';
import { errorBody, requireScope } from '../auth.js';
import type { Cursors } from '../cursor.js';
import { PAGING_PARAMS, pageRequest, sendListing } from '../listing.js';

export interface ReadRoutesOptions {
  config: Config;
  reader: Store;
  /** the inventory serve was given (hosts lists in its order), undefined without one */
  inventory: () => InventoryHost[] | undefined;
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
  const { config, reader, cursors } = opts;
  const read = requireScope('read');
  const hostFilterParams = { site: listParam, srvtype: listParam, prod: flag };
  const hostFilter = (p: Record<string, unknown>) => {
    const site = list(p.site as string | string[] | undefined);
    const srvtype = list(p.srvtype as string | string[] | undefined);
    return { ...(site ? { site } : {}), ...(srvtype ? { srvtype } : {}), ...(on(p.prod) ? { prod: true } : {}) };
  };
  const unknownHost = (view: { unknownHost: string; similar: string[] }) =>
    errorBody(404, `${view.unknownHost} is not in the database (hosts are named as in the inventory)`, { similar: view.similar });

  app.get('/api/v1/status', {
    preHandler: read,
    schema: { summary: 'is a run active, how the last runs ended (jellyfish status)', security, querystring: { type: 'object', additionalProperties: false, properties: {} }, response: answer },
  }, async (request, reply) => {
    const now = Date.now();
    // Its own read-only handle per request, as the command opens one: status is asked rarely.
    const view = await statusView(config, { now });
    return sendListing(request, reply, cursors, { printable: statusPrintable(view, now) });
  });

  app.get('/api/v1/hosts', {
    preHandler: read,
    schema: {
      summary: 'per host: last attempt, success, outcome (jellyfish hosts); in inventory order, all=1 for every stored host',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { failed: flag, stale: text, all: flag, ...hostFilterParams, ...PAGING_PARAMS } },
      response: { 200: { description: "the CLI's --format json answer, a list (next page: the X-Next-Cursor header)", type: 'array', items: { type: 'object', additionalProperties: true } } },
    },
  }, async (request, reply) => {
    const p = request.query as Record<string, unknown>;
    const o: HostsOptions = { ...hostFilter(p), ...(on(p.failed) ? { failed: true } : {}), ...(p.stale !== undefined ? { stale: p.stale as string } : {}) };
    const inventory = on(p.all) ? undefined : opts.inventory();
    const page = pageRequest(request, cursors);
    const view = await hostsView(reader, { ...(inventory ? { inventory } : {}), filter: hostsFilter(o, Date.now()), ...(page ? { page } : {}) });
    return sendListing(request, reply, cursors, { printable: hostsPrintable(view), ...(page ? { paged: { next: view.next } } : {}) });
  });

  app.get('/api/v1/hosts/:host/facts', {
    preHandler: read,
    schema: {
      summary: "one host's facts now, at=T, or history=1 (jellyfish facts)",
      security,
      params: { type: 'object', properties: { host: { type: 'string', maxLength: 300 } }, required: ['host'] },
      querystring: { type: 'object', additionalProperties: false, properties: { type: text, subtype: text, history: flag, at: text, ...PAGING_PARAMS } },
      response: { ...answer, 404: { description: 'host is not in the database', type: 'object', additionalProperties: true } },
    },
  }, async (request, reply) => {
    const p = request.query as Record<string, unknown>;
    const { host } = request.params as { host: string };
    const o: FactsOptions = {
      ...(p.type !== undefined ? { type: p.type as string } : {}),
      ...(p.subtype !== undefined ? { subtype: p.subtype as string } : {}),
      ...(on(p.history) ? { history: true } : {}),
      ...(p.at !== undefined ? { at: p.at as string } : {}),
    };
    const found = await factsView(reader, host, factsRequest(o, Date.now()));
    if ('unknownHost' in found) return reply.code(404).type('application/json').send(unknownHost(found));
    return sendListing(request, reply, cursors, { printable: factsPrintable(found.view), listKey: 'facts' });
  });

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
          at: text, ...hostFilterParams,
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
      ...(p.at !== undefined ? { at: p.at } : {}),
      ...hostFilter(request.query as Record<string, unknown>),
    };
    const q = requestFrom(flags);
    const page = pageRequest(request, cursors);
    const view = await runQuery(reader, q, page);
    return sendListing(request, reply, cursors, { printable: printable(q, view), listKey: view.counts ? 'values' : 'hosts', ...(page ? { paged: { next: view.next } } : {}) });
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
          ...hostFilterParams, include_new_hosts: flag,
          ...PAGING_PARAMS,
        },
      },
      response: { ...answer, 404: { description: 'host is not in the database', type: 'object', additionalProperties: true } },
    },
  }, async (request, reply) => {
    const p = request.query as Record<string, unknown>;
    const o: ChangesOptions = {
      ...hostFilter(p),
      since: p.since as string,
      ...(p.until !== undefined ? { until: p.until as string } : {}),
      ...(p.type !== undefined ? { type: p.type as string } : {}),
      ...(p.subtype !== undefined ? { subtype: p.subtype as string } : {}),
      ...(p.host !== undefined ? { host: p.host as string } : {}),
      ...(on(p.include_new_hosts) ? { includeNewHosts: true } : {}),
    };
    const view = await changesView(reader, changesRequest(o, Date.now()));
    if ('unknownHost' in view) return reply.code(404).type('application/json').send(unknownHost(view));
    return sendListing(request, reply, cursors, { printable: changesPrintable(view), listKey: 'changes' });
  });

  app.get('/api/v1/audits', {
    preHandler: read,
    schema: {
      summary: 'the audits with their pass/fail/exempt counts and failing production hosts (jellyfish audits)',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: { failing: flag, ...hostFilterParams, ...PAGING_PARAMS } },
      response: answer,
    },
  }, async (request, reply) => {
    const p = request.query as Record<string, unknown>;
    const view = await auditListView(reader, auditsRequest({ ...hostFilter(p), ...(on(p.failing) ? { failing: true } : {}) }));
    return sendListing(request, reply, cursors, { printable: auditListPrintable(view), listKey: 'audits' });
  });

  app.get('/api/v1/audits/:name', {
    preHandler: read,
    schema: {
      summary: "one audit's hosts with failing since and fixed at (jellyfish audits NAME)",
      security,
      params: { type: 'object', properties: { name: { type: 'string', maxLength: 1000 } }, required: ['name'] },
      querystring: { type: 'object', additionalProperties: false, properties: { failing: flag, ...hostFilterParams, ...PAGING_PARAMS } },
      response: { ...answer, 404: { description: 'no audit of that name was analyzed', type: 'object', additionalProperties: true } },
    },
  }, async (request, reply) => {
    const p = request.query as Record<string, unknown>;
    const { name } = request.params as { name: string };
    const view = await auditDetailView(reader, name, auditsRequest({ ...hostFilter(p), ...(on(p.failing) ? { failing: true } : {}) }));
    if ('unknownAudit' in view) {
      return reply.code(404).type('application/json').send(errorBody(404, `no audit named ${view.unknownAudit} was analyzed`, { similar: view.similar }));
    }
    return sendListing(request, reply, cursors, { printable: auditDetailPrintable(view), listKey: 'hosts' });
  });
}
