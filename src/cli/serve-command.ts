// `jellyfish serve`: the storage API (SPEC §11) until SIGTERM/SIGINT.
import { Option, type Command } from 'commander';
import { ConfigError, StorageError } from '../core/errors.js';
import { printError } from '../app/log.js';
import { checkApiSettings } from '../app/serve-settings.js';
import { SETTINGS } from '../config/settings.js';
import type { RequestLogLine } from '../serve/server.js';
import { cell } from '../report/table.js';
import { openAnyStore, type Store } from '../store/store.js';
import { addConfigFlag, addInventoryFlag, configFrom, inventoryFrom, type CommonFlags } from './options.js';

interface ServeFlags extends CommonFlags { logFormat: 'text' | 'json' }

/** SIGTERM lets in-flight requests finish this long; then the server stops anyway. */
const DRAIN_MS = 30_000;
function textLine(l: RequestLogLine): string {
  return cell(`${l.time} ${l.address} ${l.method} ${l.path} ${l.status} ${l.ms}ms`);
}

export function registerServe(program: Command, setExit: (code: number) => void): void {
  const listen = SETTINGS.find((s) => s.section === 'api' && s.key === 'listen')!;
  const cmd = program
    .command('serve')
    .description('the storage API over HTTP(S): agent pushes (as ingest stores them) and the read side (status, hosts, facts, query, changes) as JSON');
  cmd.addOption(new Option(listen.flag!, `${listen.doc} (overrides [api] listen, default ${listen.default})`));
  cmd.addOption(new Option('--log-format <format>', 'one line per request on stderr: text (time address method path status ms) or json').choices(['text', 'json']).default('text'));
  addConfigFlag(cmd);
  addInventoryFlag(cmd);
  cmd.addHelpText('after', `
Endpoints (docs/api.md; GET /openapi.json describes them):
  POST /api/v1/push             Authorization: Bearer TOKEN (push scope); body as for \`jellyfish ingest\`
  POST /sapi/puthostjson/       the old agents' path, Authorization: NAME:TOKEN
  GET  /api/v1/status | /api/v1/hosts | /api/v1/hosts/HOST/facts | /api/v1/query | /api/v1/changes
                                read scope; the CLI's --format json answer; ?limit=N&cursor=...;
                                Accept: application/x-ndjson streams the rows
  GET  /metrics  /healthz  /openapi.json   (no token)
Push answers: 200 stored, 400 a document refused (the others stored, as ingest does), 401 no or
bad token, 403 wrong scope or a host outside the token's --hosts (nothing stored), 409 older than
what is stored, 413 above [api] max_body, 429 too many failed authentications, 503 stopping or
the database busy. A pushed host the inventory (-b) does not name is stored and listed in
"unknown_host".
Settings: [api] listen, tls_cert + tls_key (HTTPS), max_body, ui_auth; [sapi] max_document, max_skew.
Examples:
  jellyfish token add web-agents --scope push --hosts 'web*.ams'
  jellyfish serve --listen 127.0.0.1:8422
  curl -sS -H "Authorization: Bearer $TOKEN" --data-binary @doc.json http://127.0.0.1:8422/api/v1/push
Exit codes: 0 stopped by SIGTERM or SIGINT (in-flight requests finished first, up to 30 s), 74 the
database cannot be opened, 78 config error (also: the listen address is in use or not local).`);
  cmd.action(async (flags: ServeFlags) => {
    const config = configFrom(flags);
    const api = checkApiSettings(config);
    for (const w of api.warnings) printError(`jellyfish: warning: ${w}`);
    // The writer thread opens the database first (creating or upgrading it): the read handle needs its schema.
    const { PushWriter } = await import('../serve/push-writer.js');
    const writer = new PushWriter(config.storage.database);
    try {
      await writer.start();
    } catch (e) {
      await writer.close();
      throw e;
    }
    let reader: Store;
    try {
      // Reads on their own handle: a PostgreSQL read never runs inside a push's transaction.
      reader = await openAnyStore(config.storage.database, { readonly: true });
    } catch (e) {
      await writer.close();
      throw e;
    }
    const json = flags.logFormat === 'json';
    // Fastify, the routes and the pages load here: no other command pays for them at start-up.
    const [{ buildServer }, { pagesPlugin }, { requirePageToken }] = await Promise.all([
      import('../serve/server.js'), import('../pages/plugin.js'), import('../serve/auth.js'),
    ]);
    const app = await buildServer({
      config, writer, reader,
      inventoryFile: inventoryFrom(flags, config),
      ...(api.https ? { https: api.https } : {}),
      logRequest: (l) => process.stderr.write(`${json ? JSON.stringify(l) : textLine(l)}\n`),
      logError: (m) => printError(json ? JSON.stringify({ time: new Date().toISOString(), error: m }) : `jellyfish: error: ${m}`),
      // The fleet pages (SPEC §12) over the read side, behind a read token unless [api] ui_auth = none.
      pages: async (app) => {
        await app.register(pagesPlugin, { store: reader, config, ...(config.api.uiAuth === 'token' ? { preHandler: requirePageToken() } : {}) });
      },
    });
    const closeStores = async () => { await reader.close(); await writer.close(); };
    try {
      await app.listen({ host: config.api.host, port: config.api.port });
    } catch (e) {
      await app.close();
      await closeStores();
      const err = e as NodeJS.ErrnoException;
      throw new ConfigError(`[api] listen ${config.api.host}:${config.api.port}: cannot listen: ${err.code === 'EADDRINUSE' ? 'the address is in use (another serve?)' : err.code === 'EADDRNOTAVAIL' ? 'not an address of this machine' : err.message}`);
    }
    printError(`jellyfish: serving the storage API on ${api.url} (database ${reader.path})`);
    await new Promise<void>((resolve) => {
      const stop = (sig: NodeJS.Signals) => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        printError(`jellyfish: ${sig}: finishing the requests in flight, then stopping`);
        const cut = setTimeout(() => {
          printError(`jellyfish: requests still in flight after ${DRAIN_MS / 1000} s: stopping anyway`);
          app.server.closeAllConnections();
        }, DRAIN_MS);
        cut.unref();
        app.close().then(resolve, (e: Error) => { printError(`jellyfish: error while stopping: ${e.message}`); resolve(); });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    try {
      await closeStores();
    } catch (e) {
      throw new StorageError(`closing the database: ${(e as Error).message}`);
    }
    setExit(0);
  });
}
