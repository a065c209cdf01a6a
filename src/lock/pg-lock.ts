// The run lock on a PostgreSQL store: one session-level advisory lock per site the collector
// covers, held on a connection of its own. A collector that dies (kill -9, OOM, power loss) drops
// that connection and the server frees its sites at once; two collectors on two machines can
// never hold the same site. The holder (pid, host, start) is written to run_locks so `status`
// and a refused collector can name it; a row whose backend no longer holds the lock is history.
//
// Keys: one 64-bit key per lock name (mode + site, or + shard), the first 8 bytes of its SHA-256:
// with 32 bits, two of 300,000 site names already shared a key, and a collision is two sites that
// cannot run at once. A sharded collector holds its site's key shared and the (site, shard) key
// exclusive: shards of one site run side by side, while an unsharded collector of that site
// (exclusive on the site key) excludes them all. Shards of different counts (1/2 and 1/3) share
// hosts: each writes its holder rows, then looks for a live one of another count, and refuses
// (as the SQLite lock does); both may refuse, never both run.
import crypto from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import { LockHeldError, StorageError } from '../core/errors.js';
import { fmix32, fnv1a32 } from '../inventory/sites.js';
import { connect, displayUrl, endClient } from '../store/postgres/driver.js';
import type { HeldLock, LockHolder } from './run-lock.js';
import { coveringHolderError, overlaps } from './site-lock.js';

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

/** `key`: the 64-bit advisory key, as decimal text (beyond a JS number's 2^53). */
interface Key { name: string; key: string; shared: boolean }

/**
 * The second key of a fixed-name lock (ADVISORY_CLASS, key), as the signed int4 PostgreSQL takes:
 * for the few locks of one known name (migrate), where no other name can collide.
 */
export function advisoryKey(name: string): number {
  return fmix32(fnv1a32(name)) | 0;
}

/** The 64-bit advisory key of a lock name: the first 8 bytes of SHA-256, as PostgreSQL's signed bigint. */
export function advisoryKey64(name: string): string {
  return crypto.createHash('sha256').update(`jellyfish:${name}`).digest().readBigInt64BE(0).toString();
}

function keysFor(req: SiteLockRequest): Key[] {
  const keys: Key[] = [];
  for (const site of [...new Set(req.sites)].sort()) {
    const siteKey = `${req.mode}:site:${site}`;
    keys.push({ name: siteKey, key: advisoryKey64(siteKey), shared: req.shard !== undefined });
    if (req.shard !== undefined) {
      const shardKey = `${siteKey}:shard:${req.shard}`;
      keys.push({ name: shardKey, key: advisoryKey64(shardKey), shared: false });
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

function shardOf(lockKey: string): string | undefined {
  return /:shard:(\d+\/\d+)$/.exec(lockKey)?.[1];
}

/**
 * Live holders (their backend still holds the advisory lock; a bigint key shows in pg_locks as
 * classid = its high 32 bits, objid = its low 32 bits, objsubid = 1): every one of the database (for
 * `status`), or those of one mode and these lock names (for a refusal).
 */
export async function activePgHolders(client: pg.Client, only?: { mode: string; names: string[] }): Promise<(PgLockHolder & { lock_key: string; run_id: number | null })[]> {
  const rows = (await client.query(
    `SELECT r.mode, r.lock_key, r.scope, r.pid, r.hostname, r.started_at, r.run_id FROM run_locks r
      WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = r.backend_pid
                      AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = r.lock_objid)
        AND ($1::text IS NULL OR (r.mode = $1 AND r.lock_key = ANY($2::text[])))
      ORDER BY r.mode, r.lock_key`,
    [only?.mode ?? null, only?.names ?? []],
  )).rows as { mode: string; lock_key: string; scope: string | null; pid: number; hostname: string; started_at: string; run_id: number | null }[];
  return rows.map((r) => ({
    mode: r.mode, lock_key: r.lock_key, site: siteOf(r.lock_key), pid: r.pid, hostname: r.hostname, started_at: r.started_at, run_id: r.run_id,
    ...(r.scope ? { scope: r.scope } : {}),
  }));
}

/**
 * After our holder rows are written: a live shard of another count (`1/3` beside our `1/2`) of one
 * of our sites covers some of our hosts, so we refuse, with the SQLite lock's message.
 */
async function refuseOtherShardCounts(client: pg.Client, req: SiteLockRequest, mine: LockHolder, shown: string): Promise<void> {
  const sites = new Set(req.sites);
  const coverage = { sites: [...sites], shard: req.shard as string, unknownSites: [] };
  for (const h of await activePgHolders(client)) {
    const shard = shardOf(h.lock_key);
    if (h.mode !== req.mode || !shard || !sites.has(h.site) || (h.pid === mine.pid && h.started_at === mine.started_at && h.hostname === mine.hostname)) continue;
    const other = { mode: h.mode, pid: h.pid, hostname: h.hostname, started_at: h.started_at, sites: [h.site], shard };
    if (overlaps(coverage, other)) throw coveringHolderError(shown, req.mode, other);
  }
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
      const got = (await client.query(`SELECT ${fn}($1::bigint) AS ok`, [k.key])).rows[0] as { ok: boolean };
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
      [req.mode, req.scope, holder.pid, holder.hostname, holder.started_at, backend.pid, keys.map((k) => k.name), keys.map((k) => k.key)],
    );
    if (req.shard !== undefined) await refuseOtherShardCounts(client, req, holder, shown);
  } catch (e) {
    released = true;
    await endClient(client);
    if (e instanceof LockHeldError || e instanceof StorageError) throw e;
    throw new StorageError(`${shown}: cannot take the ${req.mode} lock: ${(e as Error).message}`);
  }
  // A network that silently drops the connection is noticed here, not at the end of the run.
  // One query at a time on the session (each waits for the one before, as the client would queue
  // it), and no second ping while one is still out on a slow server.
  let tail: Promise<unknown> = Promise.resolve();
  const one = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = tail.then(fn, fn);
    tail = p.catch(() => undefined);
    return p;
  };
  let pinging = false;
  const ping = setInterval(() => {
    if (pinging) return;
    pinging = true;
    one(() => client.query('SELECT 1')).then(() => { pinging = false; }, (e: Error) => { pinging = false; fail(e); });
  }, PING_MS);
  ping.unref();
  return {
    file: shown,
    holder,
    async setRunId(runId: number) {
      await one(() => client.query('UPDATE run_locks SET run_id = $1 WHERE mode = $2 AND lock_key = ANY($3::text[]) AND pid = $4 AND started_at = $5',
        [runId, req.mode, keys.map((k) => k.name), holder.pid, holder.started_at])).catch(() => undefined);
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
