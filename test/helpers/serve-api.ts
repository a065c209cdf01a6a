// Shared pieces of the storage API tests: a serve in a test folder with three tokens, HTTP calls,
// documents, fact counts straight from the SQLite file.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { addToken as addStoreToken } from '../../src/app/tokens.js';
import { openStore } from '../../src/store/store.js';
import { addToken, loopbackListen, startServe, writeServeIni, type Serve } from './serve-process.js';

export const NET = '127.130';

export const nowIso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
export const doc = (host: string, data: Record<string, Record<string, string>>, at = nowIso()) =>
  ({ collection_hostname: host, collection_timestamp: at, collection_status: 'ok', collection_data: data });

export interface Answer { status: number; body: string; json: Record<string, unknown> | undefined; headers: Headers }

export async function call(url: string, opts: { method?: string; token?: string; auth?: string; body?: string; accept?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.auth) headers.authorization = opts.auth;
  if (opts.accept) headers.accept = opts.accept;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(url, { method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'), headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const body = await r.text();
  let json: Record<string, unknown> | undefined;
  try { json = JSON.parse(body) as Record<string, unknown>; } catch { json = undefined; }
  return { status: r.status, body, json, headers: r.headers };
}

export function factCount(db: string, host?: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return host === undefined
      ? (d.prepare('SELECT COUNT(*) AS n FROM facts').get() as { n: number }).n
      : (d.prepare('SELECT COUNT(*) AS n FROM facts f JOIN hosts h ON h.id = f.host_id WHERE h.name = ?').get(host) as { n: number }).n;
  } finally {
    d.close();
  }
}

export interface Env { dir: string; db: string; serve: Serve; push: string; read: string; webOnly: string; url: string }

export async function setup(t: Tap.Test, extra: Record<string, Record<string, string>> = {}, args: string[] = []): Promise<Env> {
  const dir = t.testdir();
  const { listen } = loopbackListen(NET);
  writeServeIni(dir, listen, extra);
  fs.writeFileSync(path.join(dir, 'server4.csv'), 'web1.ams,web,ams,prod\nweb2.ams,web,ams,prod\ndb1.fra,db,fra,prod\n');
  // The first through the CLI (`token add` prints it once); the others in-process, which is faster.
  const push = await addToken(dir, 'agents', 'push');
  const store = openStore(path.join(dir, 'var/jf.db'));
  const read = (await addStoreToken(store, 'reader', 'read', null)).token;
  const webOnly = (await addStoreToken(store, 'web-agents', 'push', ['web*.ams'])).token;
  store.close();
  const serve = await startServe(dir, ['-b', 'server4.csv', ...args]);
  t.teardown(() => serve.stop('SIGKILL'));
  return { dir, db: path.join(dir, 'var/jf.db'), serve, push, read, webOnly, url: serve.url };
}

