// The PostgreSQL engine: the same schema (one numbered migration list), the same rules (../sql-store.ts,
// ../intervals.ts, ../push-rules.ts) and the same answers as the SQLite store, for several
// collectors (one per site) writing one database. What is its own: the connection, migrating under
// an advisory lock, transactions and savepoints, and set-based batch writes (a batch of hosts costs
// a fixed handful of statements, arrays through unnest, never a query per fact); the analyze
// bookkeeping is in analysis.ts. Parameterised SQL only. Every failure surfaces as StorageError
// (exit 74).
import { StorageError } from '../../core/errors.js';
import type { InventoryHost } from '../../inventory/host.js';
import type { HostResult } from '../../core/results.js';
import * as au from '../audit-store.js';
import { valuesDigest } from '../digest.js';
import { describeError, iso } from '../driver.js';
import { diffCurrent, feedOrder, seenValues, type FeedRow } from '../intervals.js';
import { firstFactsSet, inChangeFeed, MIGRATIONS, schemaProblem } from '../migrations.js';
import * as push from '../push-rules.js';
import { SqlStore } from '../sql-store.js';
import type { Parts, PruneMode, PushDocument, PushOutcome } from '../store.js';
import { ADVISORY_CLASS, clean, cleanText, connect, displayUrl, endClient, PgDriver, type Client } from './driver.js';
import { PgAnalysis } from './analysis.js';

export { ADVISORY_CLASS, connect, displayUrl, endClient };

/** The second key of the lock that serialises migrations (site locks hash to other values). */
const MIGRATION_LOCK = 0;
/** Hosts per set of statements inside one batch transaction: bounds the arrays sent (~900 facts a host). */
const CHUNK_HOSTS = 100;

/** `feed`: the changes go into the change feed (not the host's first collection; see inChangeFeed) */
interface FactSet { hostId: number; type: string; values: Record<string, string>; seen: string; feed: boolean; digest?: string }
/** A fact opened at its sighting, and a change-feed row, as the statements take them. */
interface FactRowIn { host: number; type: string; subtype: string; value: string; seen: string }

export class PgStore extends SqlStore {
  readonly dialect = 'postgresql';
  private readonly hostIds = new Map<string, number>();
  /** inside writeTogether: write() takes a savepoint, not a transaction of its own */
  private together = false;

  private readonly analysis: PgAnalysis;

  private constructor(private readonly driver: PgDriver) {
    super(driver);
    this.analysis = new PgAnalysis(driver, { write: (what, fn) => this.write(what, fn), guard: (what, fn) => this.guard(what, fn) });
  }

  private get client(): Client {
    return this.driver.client;
  }

  static async open(url: string, opts: { readonly?: boolean } = {}): Promise<PgStore> {
    const shown = displayUrl(url);
    let store: PgStore | undefined;
    const client = await connect(url, (e) => { if (store) store.driver.broken = e; });
    store = new PgStore(new PgDriver(shown, client));
    try {
      if (opts.readonly) {
        await store.checkSchema();
        await client.query('SET default_transaction_read_only = on');
      } else {
        await store.migrate();
      }
      return store;
    } catch (e) {
      await endClient(client);
      if (e instanceof StorageError) throw e;
      throw new StorageError(`${shown}: cannot open the database: ${describeError(e)}`);
    }
  }

  /** The connection, for the PostgreSQL-only tools beside this module (migrate, tests). */
  get connection(): Client {
    return this.client;
  }

  private query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []) {
    return this.driver.query<R>(sql, params);
  }

  /** One transaction; on failure it is rolled back whole and the host-id cache dropped (its new ids are gone). */
  private async write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    // Inside writeTogether: a savepoint, undone alone on failure.
    if (this.together) return this.guard(what, () => this.savepoint('jf_write', fn));
    return this.guard(what, () => this.transaction(fn));
  }

  private async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.query('BEGIN');
    try {
      const out = await fn();
      await this.query('COMMIT');
      return out;
    } catch (e) {
      this.hostIds.clear();
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /** `fn` inside a savepoint: released on success, rolled back to (the transaction usable again) on failure. */
  private async savepoint<T>(name: string, fn: () => Promise<T>): Promise<T> {
    await this.query(`SAVEPOINT ${name}`);
    try {
      const out = await fn();
      await this.query(`RELEASE SAVEPOINT ${name}`);
      return out;
    } catch (e) {
      this.hostIds.clear();
      await this.query(`ROLLBACK TO SAVEPOINT ${name}`);
      await this.query(`RELEASE SAVEPOINT ${name}`);
      throw e;
    }
  }

  async writeTogether<T>(parts: Parts<T>): Promise<PromiseSettledResult<T>[]> {
    return this.guard('cannot write', () => this.transaction(async () => {
      this.together = true;
      const out: PromiseSettledResult<T>[] = [];
      try {
        for await (const part of parts) {
          // A part that failed keeps what it stored before (a document's failed write undid itself
          // in its own savepoint). A failed statement outside one (the run row) leaves the
          // transaction aborted, and COMMIT would then roll everything back without an error: then
          // the part is undone whole, back to its savepoint, and the others go on.
          await this.query('SAVEPOINT jf_part');
          let settled: PromiseSettledResult<T>;
          try {
            settled = { status: 'fulfilled', value: await part() };
          } catch (e) {
            settled = { status: 'rejected', reason: e };
            this.hostIds.clear();
          }
          await this.query('RELEASE SAVEPOINT jf_part').catch(async () => {
            settled = { status: 'rejected', reason: settled.status === 'rejected' ? settled.reason : new StorageError(`${this.path}: a write failed; nothing of it was stored`) };
            await this.query('ROLLBACK TO SAVEPOINT jf_part');
            await this.query('RELEASE SAVEPOINT jf_part');
          });
          out.push(settled);
        }
        return out;
      } finally {
        this.together = false;
      }
    }));
  }

  private async migrate(): Promise<void> {
    await this.write('cannot migrate the schema', async () => {
      // Two collectors starting on a new database: the second waits here, then finds it done.
      await this.query('SELECT pg_advisory_xact_lock($1, $2)', [ADVISORY_CLASS, MIGRATION_LOCK]);
      await this.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const done = new Set((await this.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const problem = schemaProblem(this.path, Math.max(0, ...done), false);
      if (problem) throw new StorageError(problem);
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await this.query(m.postgresql ?? m.sql);
        await this.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, iso(Date.now())]);
      }
    });
  }

  private async checkSchema(): Promise<void> {
    await this.guard('cannot read the schema version', async () => {
      const t = await this.query("SELECT to_regclass('schema_migrations') AS t");
      const newest = t.rows[0]?.t ? Number((await this.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')).rows[0]?.v ?? 0) : undefined;
      const problem = schemaProblem(this.path, newest, true);
      if (problem) throw new StorageError(problem);
    });
  }

  /** Ids of these host labels, inserting the unknown ones (another collector may insert the same name at once). */
  private async ensureHosts(labels: string[], now: string): Promise<Map<string, number>> {
    const missing = [...new Set(labels)].filter((l) => !this.hostIds.has(l)).sort();
    if (missing.length) {
      await this.query('INSERT INTO hosts (name, first_seen_at) SELECT n, $2 FROM unnest($1::text[]) AS n ON CONFLICT (name) DO NOTHING', [missing, now]);
      const rows = (await this.query<{ id: number; name: string }>('SELECT id, name FROM hosts WHERE name = ANY($1::text[])', [missing])).rows;
      for (const r of rows) this.hostIds.set(r.name, r.id);
    }
    return this.hostIds;
  }

  /** hosts.first_facts_at of these hosts (null: no facts stored yet). */
  private async firstFacts(hostIds: number[]): Promise<Map<number, string | null>> {
    const rows = (await this.query<{ id: number; first_facts_at: string | null }>('SELECT id, first_facts_at FROM hosts WHERE id = ANY($1::bigint[])', [hostIds])).rows;
    return new Map(rows.map((r) => [r.id, r.first_facts_at]));
  }

  private async nextIds(table: 'attempts', n: number): Promise<number[]> {
    const rows = (await this.query<{ id: number }>(`SELECT nextval(pg_get_serial_sequence('${table}', 'id')) AS id FROM generate_series(1, $1)`, [n])).rows;
    return rows.map((r) => r.id);
  }

  async upsertHosts(hosts: InventoryHost[]): Promise<void> {
    if (hosts.length === 0) return;
    // Sorted: two collectors touching the same rows take their row locks in one order.
    const sorted = [...hosts].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    await this.write('cannot record the inventory', async () => {
      await this.query(
        `INSERT INTO hosts (name, first_seen_at, srvtype, pop, status, is_prod)
           SELECT u.name, $6, u.srvtype, u.pop, u.status, u.is_prod FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS u(name, srvtype, pop, status, is_prod)
         ON CONFLICT (name) DO UPDATE SET srvtype = excluded.srvtype, pop = excluded.pop, status = excluded.status, is_prod = excluded.is_prod`,
        [sorted.map((h) => h.label), sorted.map((h) => clean(h.srvtype)), sorted.map((h) => clean(h.pop)), sorted.map((h) => clean(h.status)), sorted.map((h) => (h.isProd ? 1 : 0)), iso(Date.now())],
      );
    });
  }

  async recordResults(runId: number, results: HostResult[]): Promise<void> {
    if (results.length === 0) return;
    await this.write(`cannot store a batch of ${results.length} host results (nothing of it was written)`, async () => {
      // A label twice in one chunk would make the diff see both sightings at once: later chunks take repeats.
      const chunks: HostResult[][] = [];
      for (const r of results) {
        let c = chunks.find((ch) => ch.length < CHUNK_HOSTS && !ch.some((x) => x.label === r.label));
        if (!c) { c = []; chunks.push(c); }
        c.push(r);
      }
      for (const c of chunks) await this.recordChunk(runId, c);
    });
  }

  private async recordChunk(runId: number, results: HostResult[]): Promise<void> {
    const ids = await this.ensureHosts(results.map((r) => r.label), iso(results[0]!.finishedAt));
    const attemptIds = await this.nextIds('attempts', results.length);
    const hostIdOf = (r: HostResult) => ids.get(r.label)!;
    await this.query(
      `INSERT INTO attempts (id, run_id, host_id, started_at, finished_at, duration_ms, outcome, code, message, output_bytes)
         SELECT u.id, $1, u.host_id, u.started_at, u.finished_at, u.duration_ms, u.outcome, u.code, u.message, u.output_bytes
         FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::bigint[])
           AS u(id, host_id, started_at, finished_at, duration_ms, outcome, code, message, output_bytes)`,
      [runId, attemptIds, results.map(hostIdOf), results.map((r) => iso(r.startedAt)), results.map((r) => iso(r.finishedAt)),
        results.map((r) => Math.max(0, r.finishedAt - r.startedAt)), results.map((r) => r.outcome), results.map((r) => r.code ?? null),
        results.map((r) => clean(r.message)), results.map((r) => r.outputBytes)],
    );
    const col = { attempt: [] as number[], type: [] as string[], status: [] as string[], exit: [] as (number | null)[], message: [] as (string | null)[], ms: [] as number[] };
    const facts: FactSet[] = [];
    const firsts = await this.firstFacts([...new Set(results.map(hostIdOf))]);
    const stored = results.map(() => 0);
    results.forEach((r, i) => {
      const seen = iso(r.finishedAt);
      const feed = inChangeFeed(firsts.get(hostIdOf(r)) ?? null, seen);
      for (const c of r.collections) {
        col.attempt.push(attemptIds[i]!); col.type.push(c.type); col.status.push(c.status);
        col.exit.push(c.exitCode ?? null); col.message.push(clean(c.message)); col.ms.push(c.durationMs);
        if (c.status === 'ok' && c.values) {
          facts.push({ hostId: hostIdOf(r), type: c.type, values: c.values, seen, feed });
          stored[i] = 1;
        }
      }
    });
    if (col.attempt.length) {
      await this.query(
        `INSERT INTO attempt_collections (attempt_id, type, status, exit_code, message, duration_ms)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[])`,
        [col.attempt, col.type, col.status, col.exit, col.message, col.ms],
      );
    }
    await this.applyFacts(facts);
    await this.query(
      `UPDATE hosts h SET last_attempt_at = u.fin, last_outcome = u.outcome, last_code = u.code, last_message = u.message, last_run_id = $1,
         last_success_at = CASE WHEN u.ok = 1 THEN u.fin ELSE h.last_success_at END,
         ${firstFactsSet('u.stored', 'u.fin')}
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[]) AS u(id, fin, outcome, code, message, ok, stored)
       WHERE h.id = u.id`,
      [runId, results.map(hostIdOf), results.map((r) => iso(r.finishedAt)), results.map((r) => r.outcome), results.map((r) => r.code ?? null),
        results.map((r) => clean(r.message)), results.map((r) => (r.outcome === 'ok' || r.outcome === 'partial' ? 1 : 0)), stored],
    );
  }

  /**
   * The fact-interval rules of the SQLite store, for many (host, type) sightings at once. A type
   * whose values hash to the digest stored at its last sighting only moves last_seen; a type never
   * seen on its host has no current fact, so its values are inserted as they are; only the rest
   * (values changed, or an older row without digest) are compared with their current facts
   * (diffFacts): the values not seen again are closed (at the type's previous sighting), the new
   * ones opened. Each (host, type) appears at most once per call.
   */
  private async applyFacts(sets: FactSet[]): Promise<void> {
    if (sets.length === 0) return;
    const hostIds = [...new Set(sets.map((s) => s.hostId))];
    const stored = new Map<string, string | null>();
    for (const r of (await this.query<{ host_id: number; type: string; digest: string | null }>(
      'SELECT host_id, type, digest FROM fact_types WHERE host_id = ANY($1::bigint[])', [hostIds])).rows) stored.set(`${r.host_id} ${r.type}`, r.digest);
    const t = { host: [] as number[], type: [] as string[], seen: [] as string[], digest: [] as string[] };
    const fresh: FactRowIn[] = [];
    /** the fresh facts of types first seen on a host already collected: additions in the feed */
    const added: FeedRow[] = [];
    const changed: FactSet[] = [];
    for (const s of sets) {
      const digest = s.digest ?? valuesDigest(s.values);
      const key = `${s.hostId} ${s.type}`;
      t.host.push(s.hostId); t.type.push(s.type); t.seen.push(s.seen); t.digest.push(digest);
      if (stored.has(key) && stored.get(key) === digest) continue;
      if (stored.has(key)) { changed.push(s); continue; }
      // A type new on this host: every value opens, and (past the host's first collection) is added.
      const diff = diffCurrent([], seenValues(s.values, cleanText), s.feed);
      for (const [subtype, value] of diff.open) fresh.push({ host: s.hostId, type: s.type, subtype, value, seen: s.seen });
      for (const c of diff.changes) added.push({ at: s.seen, host: s.hostId, type: s.type, ...c });
    }
    if (changed.length) await this.diffFacts(changed);
    await this.openFacts(fresh);
    await this.appendChanges(added);
    // After the diff: its closing reads each type's previous sighting from here.
    await this.query(
      `INSERT INTO fact_types (host_id, type, last_seen, digest) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT (host_id, type) DO UPDATE SET last_seen = excluded.last_seen, digest = excluded.digest`,
      [t.host, t.type, t.seen, t.digest],
    );
  }

  /**
   * Close and open the intervals of (host, type) pairs whose values changed. The current facts of
   * just those pairs are read once through facts_host_type and compared here, as SQLite does; then
   * set-based statements close, open and append to the change feed. (A single statement joining
   * scratch tables left the join order to the planner, which probed every current fact of a pair
   * once per sighting, or hashed every current fact of the fleet: 70-110 ms a document.)
   */
  private async diffFacts(sets: FactSet[]): Promise<void> {
    const key = (host: number, type: string) => `${host}\u0000${type}`;
    /** per (host, type): its sighting and its current facts */
    const pairs = new Map(sets.map((s) => [key(s.hostId, s.type), { set: s, current: [] as [string, string, string][] }]));
    const current = (await this.driver.queryArrays<[string, string, string, string, string]>(
      `SELECT c.id, c.host_id, c.type, c.subtype, c.value
         FROM unnest($1::bigint[], $2::text[]) AS t(host_id, type)
         JOIN facts c ON c.host_id = t.host_id AND c.type = t.type AND c.is_current = 1`,
      [sets.map((s) => s.hostId), sets.map((s) => s.type)])).rows;
    for (const [id, host, type, subtype, value] of current) pairs.get(key(Number(host), type))!.current.push([id, subtype, value]);
    const close = { id: [] as string[], seen: [] as string[] };
    const open: FactRowIn[] = [];
    const change: FeedRow[] = [];
    for (const { set: s, current: facts } of pairs.values()) {
      const diff = diffCurrent(facts, seenValues(s.values, cleanText), s.feed);
      for (const id of diff.close) { close.id.push(id); close.seen.push(s.seen); }
      for (const [subtype, value] of diff.open) open.push({ host: s.hostId, type: s.type, subtype, value, seen: s.seen });
      for (const c of diff.changes) change.push({ at: s.seen, host: s.hostId, type: s.type, ...c });
    }
    if (close.id.length) {
      // A value not seen now was last seen at its type's previous sighting (fact_types, written after this).
      await this.query(
        `UPDATE facts SET is_current = 0, closed_at = u.seen,
           last_seen = COALESCE((SELECT ft.last_seen FROM fact_types ft WHERE ft.host_id = facts.host_id AND ft.type = facts.type), facts.last_seen)
           FROM unnest($1::bigint[], $2::text[]) AS u(id, seen)
          WHERE facts.id = u.id`,
        [close.id, close.seen],
      );
    }
    await this.openFacts(open);
    await this.appendChanges(change);
  }

  /** New current facts, first and last seen at their sighting. */
  private async openFacts(rows: FactRowIn[]): Promise<void> {
    if (rows.length === 0) return;
    await this.query(
      `INSERT INTO facts (host_id, type, subtype, value, first_seen, last_seen, is_current)
         SELECT u.host_id, u.type, u.subtype, u.value, u.seen, u.seen, 1 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(host_id, type, subtype, value, seen)`,
      [rows.map((r) => r.host), rows.map((r) => r.type), rows.map((r) => r.subtype), rows.map((r) => r.value), rows.map((r) => r.seen)],
    );
  }

  /** Change-feed rows, in the order the feed is read in: instant, host, type, subtype. */
  private async appendChanges(rows: FeedRow[]): Promise<void> {
    if (rows.length === 0) return;
    rows.sort(feedOrder);
    await this.query(
      `INSERT INTO fact_changes (at, host_id, type, subtype, change, old_value, new_value)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
      [rows.map((c) => c.at), rows.map((c) => c.host), rows.map((c) => c.type), rows.map((c) => c.subtype), rows.map((c) => c.change), rows.map((c) => c.old), rows.map((c) => c.now)],
    );
  }

  async recordPush(runId: number, doc: PushDocument): Promise<PushOutcome> {
    const at = iso(doc.timestamp);
    const out: PushOutcome = { host: doc.host, storedTypes: [], skippedTypes: [] };
    await this.write(`cannot store the document for ${doc.host}`, async () => {
      out.host = await this.storedName(doc.host);
      const hostId = (await this.ensureHosts([out.host], at)).get(out.host)!;
      await this.driver.run(push.FILL_HOST, push.fillHostParams(doc, hostId, clean));
      const a = push.pushAttempt(doc);
      const attemptId = (await this.query<{ id: number }>(
        `INSERT INTO attempts (run_id, host_id, started_at, finished_at, duration_ms, outcome, code, message, output_bytes)
         VALUES ($1, $2, $3, $3, 0, $4, $5, $6, 0) RETURNING id`,
        [runId, hostId, at, a.outcome, a.code, clean(a.message)],
      )).rows[0]!.id;
      if (doc.ok) {
        const types = Object.keys(doc.data);
        const last = await this.lastObserved(hostId, types);
        const col = { type: [] as string[], status: [] as string[], message: [] as (string | null)[] };
        const sets: FactSet[] = [];
        const feed = inChangeFeed((await this.firstFacts([hostId])).get(hostId) ?? null, at);
        for (const type of types) {
          const seen = last.get(type);
          if (push.newerThanDocument(seen, at)) {
            out.skippedTypes.push(type);
            col.type.push(type); col.status.push('skipped'); col.message.push(push.skippedNote(seen));
            continue;
          }
          col.type.push(type); col.status.push('ok'); col.message.push(null);
          sets.push({ hostId, type, values: doc.data[type]!, seen: at, feed, ...(doc.digests?.[type] ? { digest: doc.digests[type] } : {}) });
          out.storedTypes.push(type);
        }
        if (col.type.length) {
          await this.query(
            `INSERT INTO attempt_collections (attempt_id, type, status, exit_code, message, duration_ms)
               SELECT $1, u.type, u.status, NULL, u.message, 0 FROM unnest($2::text[], $3::text[], $4::text[]) AS u(type, status, message)`,
            [attemptId, col.type, col.status, col.message],
          );
        }
        await this.applyFacts(sets);
      }
      await this.query(push.hostUpdateSql(push.numberedParam, firstFactsSet),
        push.inNumberOrder(push.hostUpdateValues(doc, at, runId, hostId, out.storedTypes.length > 0, clean)));
    });
    return out;
  }

  /** When each of these types of the host was last observed (see SqliteStore.lastObserved): two queries for all types. */
  private async lastObserved(hostId: number, types: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (types.length === 0) return out;
    for (const r of (await this.query<{ type: string; t: string }>('SELECT type, last_seen AS t FROM fact_types WHERE host_id = $1 AND type = ANY($2::text[])', [hostId, types])).rows) out.set(r.type, r.t);
    const rest = types.filter((t) => !out.has(t));
    if (rest.length) {
      const rows = (await this.query<{ type: string; t: string | null }>(
        `SELECT c.type, MAX(a.finished_at) AS t FROM attempts a JOIN attempt_collections c ON c.attempt_id = a.id
          WHERE a.host_id = $1 AND c.type = ANY($2::text[]) AND c.status = 'ok' GROUP BY c.type`, [hostId, rest])).rows;
      for (const r of rows) if (r.t !== null) out.set(r.type, r.t);
    }
    return out;
  }

  private async storedName(name: string): Promise<string> {
    if (this.hostIds.has(name)) return name;
    if ((await this.driver.arrays(push.NAME_EXACT, [name])).length) return name;
    const rows = await this.driver.arrays(push.NAME_FOLDED, [name]);
    return rows.length === 1 ? rows[0]![0] as string : name;
  }

  async pruneBatch(before: string, mode: PruneMode, batch: number): Promise<number> {
    const pick = 'SELECT id FROM facts WHERE is_current = 0 AND last_seen < $1 ORDER BY last_seen, id LIMIT $2';
    return this.write('cannot prune facts', async () => {
      if (mode === 'archive') {
        return (await this.query(
          `WITH moved AS (DELETE FROM facts WHERE id IN (${pick}) RETURNING id, host_id, type, subtype, value, first_seen, last_seen, closed_at)
           INSERT INTO facts_archive (id, host_id, type, subtype, value, first_seen, last_seen, closed_at, archived_at)
           SELECT id, host_id, type, subtype, value, first_seen, last_seen, closed_at, $3 FROM moved`, [before, batch, iso(Date.now())])).rowCount ?? 0;
      }
      return (await this.query(`DELETE FROM facts WHERE id IN (${pick})`, [before, batch])).rowCount ?? 0;
    });
  }

  // The analyze bookkeeping: analysis.ts.
  upsertAudits(audits: au.AuditMeta[], at: string): Promise<Map<string, number>> { return this.analysis.upsertAudits(audits, at); }
  scanFacts(want: au.FactWant, sink: au.FactSink, hostIds?: readonly number[]): Promise<void> { return this.analysis.scanFacts(want, sink, hostIds); }
  openAuditResults(of?: { hosts: readonly number[]; audits: readonly number[] }): Promise<au.OpenResults> { return this.analysis.openAuditResults(of); }
  analysisMark(): Promise<au.AnalysisMark> { return this.analysis.analysisMark(); }
  writeAnalysis(w: au.AnalysisWrite): Promise<void> { return this.analysis.writeAnalysis(w); }

  async integrityCheck(): Promise<string> {
    return this.guard('integrity check failed', async () => {
      await this.query('SELECT COUNT(*) FROM schema_migrations');
      return 'ok';
    });
  }

  async close(): Promise<void> {
    await endClient(this.client);
  }
}
