// The fleet pages plugin on a Fastify instance of its own, over the database an INI names (or a
// given file): for `npm run pages` and scripts/screenshots.mjs, until `jellyfish serve` mounts it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function startPagesServer({ ini, database, host = '127.0.0.1', port = 0 }) {
  const dist = (p) => path.join(root, 'dist', p);
  if (!fs.existsSync(dist('pages/plugin.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const { loadConfig } = await import(dist('config/load.js'));
  const { openForReading } = await import(dist('cli/read-store.js'));
  const { pagesPlugin } = await import(dist('pages/plugin.js'));
  const { default: Fastify } = await import('fastify');
  const loaded = loadConfig(ini && fs.existsSync(ini) ? { file: ini } : {});
  const config = database ? { ...loaded, storage: { ...loaded.storage, database } } : loaded;
  const store = await openForReading(config);
  const app = Fastify({ logger: false });
  await app.register(pagesPlugin, { store, config });
  const url = await app.listen({ host, port });
  return { url, database: config.storage.database, close: async () => { await app.close(); await store.close(); } };
}
