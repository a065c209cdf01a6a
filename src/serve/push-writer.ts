// The main thread's side of the storage API's writer thread (write-worker.ts): each push travels
// there as its body text and comes back as what became of it. Errors keep their kind (a busy
// database is 503 with Retry-After, a broken one 503), and a writer thread that died takes its
// pending requests with it as storage errors, never as a hang; the next push starts a new one.
import { Worker } from 'node:worker_threads';
import { StorageError } from '../core/errors.js';
import { threadEntry } from '../core/thread-entry.js';
import type { ValidateOptions } from '../app/ingest.js';
import type { TokenRow } from '../store/store.js';
import type { PushResult, WriteAnswer, WriteRequest } from './write-worker.js';
import { BusyError } from './writer.js';

type Pending = { resolve: (v: PushResult | null) => void; reject: (e: Error) => void };
type Body = WriteRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

function rebuilt(e: { name: string; message: string }): Error {
  if (e.name === 'BusyError') return new BusyError(e.message);
  if (e.name === 'StorageError') return new StorageError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export class PushWriter {
  private worker: Worker | undefined;
  private started: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly database: string) {}

  /** Starts the thread and opens the store there; a store that cannot be opened rejects here. */
  start(): Promise<Worker> {
    this.started ??= new Promise<Worker>((resolve, reject) => {
      const w = new Worker(threadEntry(import.meta.url, './write-worker'), { workerData: { database: this.database } });
      w.on('message', (m: WriteAnswer) => {
        if (m.id === 0) {
          if ('ready' in m && m.ready) { this.worker = w; resolve(w); } else if ('error' in m) reject(rebuilt(m.error));
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if ('ok' in m && m.ok) p.resolve(m.value);
        else if ('error' in m) p.reject(rebuilt(m.error));
      });
      const gone = (why: string) => {
        this.worker = undefined;
        this.started = undefined;
        reject(new StorageError(`the writer thread ${why}`));
        for (const p of this.pending.values()) p.reject(new StorageError(`the writer thread ${why} before answering`));
        this.pending.clear();
      };
      w.on('error', (e) => gone(`failed: ${e.message}`));
      w.on('exit', (code) => gone(`exited (code ${code})`));
    });
    return this.started;
  }

  private async send(body: Body): Promise<PushResult | null> {
    if (this.closed) throw new StorageError('the writer is closed');
    const w = await this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...body, id });
    });
  }

  push(input: string, validate: ValidateOptions, token: Pick<TokenRow, 'name' | 'hosts'>): Promise<PushResult> {
    return this.send({ kind: 'push', input, validate, token: { name: token.name, hosts: token.hosts } }) as Promise<PushResult>;
  }

  async touch(name: string, at: string): Promise<void> {
    await this.send({ kind: 'touch', name, at });
  }

  /** Finishes the writes queued, closes the store, ends the thread. */
  async close(): Promise<void> {
    if (this.closed || !this.started) { this.closed = true; return; }
    const w = await this.started.catch(() => undefined);
    if (!w) { this.closed = true; return; }
    const done = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    try {
      await this.send({ kind: 'close' });
    } catch { /* it is going anyway */ }
    this.closed = true;
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000).unref())]);
    await w.terminate().catch(() => undefined);
  }
}
