// The storage API's writer thread (see push-writer.ts): owns the write handle of the store, checks
// pushed bodies (in the checker's own threads), applies each push token's host patterns, and
// writes through the queue that lets concurrent pushes share a transaction. The event loop of the
// server's main thread never waits for a write: reads go on while a group of pushes commits.
import { parentPort, workerData } from 'node:worker_threads';
import { storeDocuments, type IngestSummary, type ValidateOptions } from '../app/ingest.js';
import { tokenAllowsHost } from '../app/tokens.js';
import { openAnyStore, type Store } from '../store/store.js';
import { DocumentChecker } from './check-pool.js';
import { SerialWriter } from './writer.js';

export type WriteRequest =
  | { id: number; kind: 'push'; input: string; validate: ValidateOptions; token: { name: string; hosts: string[] | null } }
  | { id: number; kind: 'touch'; name: string; at: string }
  | { id: number; kind: 'close' };

/** What became of a push. */
export type PushResult =
  | { kind: 'empty' }
  /** hosts of the body outside the token's patterns: nothing was stored */
  | { kind: 'forbidden'; hosts: string[] }
  /** `hosts`: the names the stored documents were stored under; `allSkipped`: documents of which every type was older than what is stored */
  | { kind: 'stored'; summary: IngestSummary; hosts: string[]; allSkipped: number };

export type WriteAnswer =
  | { id: number; ok: true; value: PushResult | null }
  | { id: number; ok: false; error: { name: string; message: string } }
  | { id: 0; ready: true }
  | { id: 0; ready: false; error: { name: string; message: string } };

async function push(store: Store, writer: SerialWriter, checker: DocumentChecker, r: Extract<WriteRequest, { kind: 'push' }>): Promise<PushResult> {
  const arrived = writer.expect();
  let checked;
  try {
    checked = await checker.check(r.input, r.validate);
  } finally {
    arrived();
  }
  if (checked.count === 0) return { kind: 'empty' };
  // Before anything is stored every document's host is checked: one foreign host and nothing of the push is stored.
  const named = [...checked.valid.map((v) => v.doc.host), ...checked.rejected.flatMap((d) => (d.host ? [d.host] : []))];
  const foreign = [...new Set(named.filter((h) => !tokenAllowsHost(r.token, h)))];
  if (foreign.length) return { kind: 'forbidden', hosts: foreign };
  const hosts: string[] = [];
  let allSkipped = 0;
  const { summary } = await writer.turn((write) => storeDocuments(store, checked, {
    ...r.validate,
    write,
    onStored: (_raw, _doc, outcome) => {
      hosts.push(outcome.host);
      if (outcome.storedTypes.length === 0 && outcome.skippedTypes.length > 0) allSkipped++;
    },
  }));
  return { kind: 'stored', summary, hosts, allSkipped };
}

const errorOf = (e: unknown) => ({ name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) });

async function main(): Promise<void> {
  const port = parentPort!;
  const { database } = workerData as { database: string };
  let store: Store;
  try {
    store = await openAnyStore(database, { longLived: true });
  } catch (e) {
    port.postMessage({ id: 0, ready: false, error: errorOf(e) } satisfies WriteAnswer);
    return;
  }
  const writer = new SerialWriter((parts) => store.writeTogether(parts));
  const checker = new DocumentChecker();
  const answer = (id: number, p: Promise<PushResult | null>) => p.then(
    (value) => port.postMessage({ id, ok: true, value } satisfies WriteAnswer),
    (e: unknown) => port.postMessage({ id, ok: false, error: errorOf(e) } satisfies WriteAnswer),
  );
  port.on('message', (r: WriteRequest) => {
    if (r.kind === 'push') void answer(r.id, push(store, writer, checker, r));
    else if (r.kind === 'touch') void answer(r.id, writer.run(() => store.touchToken(r.name, r.at)).then(() => null));
    else {
      // Every request sent before this one is queued already: this turn comes after them.
      void answer(r.id, writer.run(() => undefined).then(async () => {
        await checker.close();
        await store.close();
        return null;
      })).finally(() => port.close());
    }
  });
  port.postMessage({ id: 0, ready: true } satisfies WriteAnswer);
}

void main();
