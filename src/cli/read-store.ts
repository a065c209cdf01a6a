// Opening the database for a read command: read-only (WAL readers never block a running writer),
// with a clear word when there is no database yet.
import fs from 'node:fs';
import { StorageError } from '../app/errors.js';
import type { Config } from '../config/load.js';
import { openStore, type SqliteStore } from '../store/store.js';

export function openForReading(config: Config): SqliteStore {
  if (!fs.existsSync(config.storage.database)) {
    throw new StorageError(`no database yet at ${config.storage.database}: run \`jellyfish run\` first`);
  }
  return openStore(config.storage.database, { readonly: true });
}

export function withReadStore<T>(config: Config, fn: (store: SqliteStore) => T): T {
  const store = openForReading(config);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}
