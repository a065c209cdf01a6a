// The run lock on a PostgreSQL store: one session-level advisory lock per site the collector
// covers, held on a connection of its own. A collector that dies (kill -9, OOM, power loss) drops
// that connection and the server frees its sites at once; two collectors on two machines can
// never hold the same site. The holder (pid, host, start) is written to run_locks so `status`
// and a refused collector can name it; a row whose backend no longer holds the lock is history.
//
// Keys: (ADVISORY_CLASS, hash of mode + site). A sharded collector holds its site's key shared
// and the (site, shard) key exclusive: shards of one site run side by side, while an unsharded
// collector of that site (exclusive on the site key) excludes them all.
import os from 'node:os';
import type pg from 'pg';
import { LockHeldError, StorageError } from '../app/errors.js';
import { fmix32, fnv1a32 } from '../inventory/sites.js';
import { ADVISORY_CLASS, connect, displayUrl, endClient } from '../store/pg-store.js';
import type { HeldLock, LockHolder } from './run-lock.js';

/** How often the lock connection is asked whether it still lives (a lost one stops the run). */
const PING_MS = 5_000;
/** A ping (or lock statement) unanswered this long means the connection, and so the lock, is gone. */
const PING_TIMEOUT_MS = 15_000;

export interface SiteLockRequest {
  url: string;
  mode: string;
  /** normalised site names covered ('' for hosts without a pop) */
  sites: string[];
  /** `K/N` when sharded */
  shard?: string;
  /** the scope label written for status (`sites ams,fra`) */
  scope: string;
  onLost: (err: Error) => void;
}

interface Key { name: string; objid: number; shared: boolean }

/** The second advisory key of a name, as the signed int4 PostgreSQL takes. */
export function advisoryKey(name: string): number {
  return fmix32(fnv1a32(name)) | 0;
}

function keysFor(req: SiteLockRequest): Key[] {
  const keys: Key[] = [];
  for (const site of [...new Set(req.sites)].sort()) {
    const siteKey = `${req.mode}:site:${site}`;
    keys.push({ name: siteKey, objid: advisoryKey(siteKey), shared: req.shard !== undefined });
    if (req.shard !== undefined) {
      const shardKey = `${siteKey}:shard:${req.shard}`;
      keys.push({ name: shardKey, objid: advisoryKey(shardKey), shared: false });
    }
  }
  return keys;
}

export interface PgLockHolder extends LockHolder {
  site: string;
  scope?: string;
}

function siteOf(lockKey: string): string {
  const m = /^[^:]+:site:(.*?)(:shard:.*)?$/.exec(lockKey);
  return m?.[1] ?? lockKey;
}

/**
 * Live holders (their backend still holds the advisory lock): every one of the database (for
 * `status`), or those of one mode and these lock names (for a refusal).
 */
export async function activePgHolders(client: pg.Client, only?: { mode: string; names: string[] }): Promise<(PgLockHolder & { lock_key: string; run_id: number | null })[]> {
  const rows = (await client.query(
    `SELECT r.mode, r.lock_key, r.scope, r.pid, r.hostname, r.started_at, r.run_id FROM run_locks r
      WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = r.backend_pid
                      AND l.classid = $1::bigint::oid AND l.objid = r.lock_objid::oid)
        AND ($2::text IS NULL OR (r.mode = $2 AND r.lock_key = ANY($3::text[])))
      ORDER BY r.mode, r.lock_key`,
    [ADVISORY_CLASS, only?.mode ?? null, only?.names ?? []],
  )).rows as { mode: string; lock_key: string; scope: string | null; pid: number; hostname: string; started_at: string; run_id: number | null }[];
  return rows.map((r) => ({
    mode: r.mode, lock_key: r.lock_key, site: siteOf(r.lock_key), pid: r.pid, hostname: r.hostname, started_at: r.started_at, run_id: r.run_id,
    ...(r.scope ? { scope: r.scope } : {}),
  }));
}

/**
 * Take every site's lock or none: LockHeldError (exit 75) naming the live holder when one is
 * taken. The keys are tried in one order, without waiting, so two collectors never wait on each other.
 */
export async function acquirePgLock(req: SiteLockRequest): Promise<HeldLock> {
  const shown = displayUrl(req.url);
  let lost = false;
  let released = false;
  const fail = (e: Error) => {
    if (lost || released) return;
    lost = true;
    req.onLost(e);
  };
  const client = await connect(req.url, fail, `jellyfish ${req.mode} lock`, PING_TIMEOUT_MS);
  client.on('end', () => fail(new Error('the lock connection closed')));
  const keys = keysFor(req);
  const holder: LockHolder = { pid: process.pid, hostname: os.hostname(), started_at: new Date().toISOString(), mode: req.mode };
  try {
    for (const k of keys) {
      const fn = k.shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
      const got = (await client.query(`SELECT ${fn}($1, $2) AS ok`, [ADVISORY_CLASS, k.objid])).rows[0] as { ok: boolean };
      if (got.ok) continue;
      const held = await activePgHolders(client, { mode: req.mode, names: keys.map((x) => x.name).concat(keys.map((x) => x.name.replace(/:shard:.*$/, ''))) });
      let h: PgLockHolder | undefined;
      if (held[0]) {
        // The refusal names the holder as the lock file's does: no table key or run id.
        const { lock_key: _key, run_id: _run, ...holder } = held[0];
        h = holder;
      }
      const what = h ? `site ${h.site || '(no pop)'} is being collected by a ${h.mode} (pid ${h.pid} on ${h.hostname} since ${h.started_at})` : `the ${req.mode} lock of ${k.name} is held by another session`;
      throw new LockHeldError(`${shown}: ${what}`, { ...(h ?? { mode: req.mode, site: siteOf(k.name) }) });
    }
    const backend = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number };
    await client.query(
      `INSERT INTO run_locks (mode, lock_key, scope, pid, hostname, started_at, run_id, backend_pid, lock_objid)
         SELECT $1, u.k, $2, $3, $4, $5, NULL, $6, u.o FROM unnest($7::text[], $8::bigint[]) AS u(k, o)
       ON CONFLICT (mode, lock_key) DO UPDATE SET scope = excluded.scope, pid = excluded.pid, hostname = excluded.hostname,
         started_at = excluded.started_at, run_id = NULL, backend_pid = excluded.backend_pid, lock_objid = excluded.lock_objid`,
      [req.mode, req.scope, holder.pid, holder.hostname, holder.started_at, backend.pid, keys.map((k) => k.name), keys.map((k) => k.objid >>> 0)],
    );
  } catch (e) {
    released = true;
    await endClient(client);
    if (e instanceof LockHeldError || e instanceof StorageError) throw e;
    throw new StorageError(`${shown}: cannot take the ${req.mode} lock: ${(e as Error).message}`);
  }
  // A network that silently drops the connection is noticed here, not at the end of the run.
  const ping = setInterval(() => {
    client.query('SELECT 1').catch((e: Error) => fail(e));
  }, PING_MS);
  ping.unref();
  return {
    file: shown,
    holder,
    async setRunId(runId: number) {
      await client.query('UPDATE run_locks SET run_id = $1 WHERE mode = $2 AND lock_key = ANY($3::text[]) AND pid = $4 AND started_at = $5',
        [runId, req.mode, keys.map((k) => k.name), holder.pid, holder.started_at]).catch(() => undefined);
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(ping);
      // Closing the session frees every advisory lock it holds.
      await endClient(client);
    },
  };
}
