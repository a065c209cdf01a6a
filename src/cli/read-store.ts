// Opening the database for a read command: read-only (SQLite WAL readers never block a running
// writer; PostgreSQL readers never block at all), with a clear word when there is no database yet.
import { StorageError } from '../core/errors.js';
import type { Config } from '../config/load.js';
import { databaseFileMissing } from '../store/database.js';
import { openAnyStore, type Store } from '../store/store.js';

export async function openForReading(config: Config): Promise<Store> {
  if (databaseFileMissing(config.storage.database)) {
    throw new StorageError(`no database yet at ${config.storage.database}: run \`jellyfish run\` first`);
  }
  return openAnyStore(config.storage.database, { readonly: true });
}

export async function withReadStore<T>(config: Config, fn: (store: Store) => Promise<T> | T): Promise<T> {
  const store = await openForReading(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
