// The analyze bookkeeping on PostgreSQL (the rules both engines follow are in ../audit-store.ts):
// the audits' rows, reading the facts an analyze evaluates (in chunks: pg holds a whole answer in
// memory), the open results, how far the facts go, and one analyze's results written in one
// transaction as arrays through unnest.
import * as au from '../audit-store.js';
import { numbered, type Awaitable } from '../driver.js';
import { clean, cleanText, PG_WORDS, type PgDriver } from './driver.js';

/** A name from the catalog as an SQL identifier. */
const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** What these need of the store: its write transaction and its read guard (StorageError on failure). */
export interface PgAccess {
  write<T>(what: string, fn: () => Promise<T>): Promise<T>;
  guard<T>(what: string, fn: () => Awaitable<T>): Promise<T>;
}

export class PgAnalysis {
  constructor(private readonly driver: PgDriver, private readonly store: PgAccess) {}

  private get client() {
    return this.driver.client;
  }

  private query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []) {
    return this.driver.query<R>(sql, params);
  }

  private write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.store.write(what, fn);
  }

  private guard<T>(what: string, fn: () => Awaitable<T>): Promise<T> {
    return this.store.guard(what, fn);
  }

  async upsertAudits(audits: au.AuditMeta[], at: string): Promise<Map<string, number>> {
    return this.write('cannot record the audits', async () => {
      const col = <T>(f: (a: au.AuditMeta) => T) => audits.map(f);
      await this.query(
        `INSERT INTO audits (name, vuln_name, file, line, priority, short_description, long_description, primary_link, links, first_seen, active)
           SELECT u.*, $10, 1 FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[])
             AS u(name, vuln_name, file, line, priority, short_description, long_description, primary_link, links)
         ON CONFLICT (name) DO UPDATE SET vuln_name = excluded.vuln_name, file = excluded.file, line = excluded.line, priority = excluded.priority,
           short_description = excluded.short_description, long_description = excluded.long_description, primary_link = excluded.primary_link,
           links = excluded.links, active = 1`,
        [col((a) => clean(a.name)), col((a) => clean(a.vulnName)), col((a) => clean(a.file)), col((a) => a.line), col((a) => a.priority),
          col((a) => clean(a.shortDescription)), col((a) => clean(a.longDescription)), col((a) => clean(a.primaryLink)), col((a) => clean(JSON.stringify(a.links))), at],
      );
      await this.query('UPDATE audits SET active = 0 WHERE active = 1 AND NOT (name = ANY($1::text[]))', [col((a) => clean(a.name))]);
      const ids = new Map<string, number>();
      for (const r of (await this.query<{ id: number; name: string }>('SELECT id, name FROM audits WHERE active = 1')).rows) ids.set(r.name, r.id);
      return ids;
    });
  }

  /** Rows as arrays, in chunks of subtypes: pg holds a whole answer in memory, so each answer stays a few hundred thousand rows. */
  async scanFacts(want: au.FactWant, sink: au.FactSink, hostIds?: readonly number[]): Promise<void> {
    // 100 subtypes of 10,000 hosts: at most a million rows in one answer (200 took the peak RSS
    // of 10,000 hosts x 1,000 audits past 1 GB; 50 kept it at 0.65 GB but took half as long again).
    const SUBTYPES_PER_QUERY = 100;
    await this.guard('cannot read facts', async () => {
      const rowsOf = async <R extends unknown[]>(sql: string, values: unknown[]) => (await this.driver.queryArrays<R>(sql, values)).rows;
      if (hostIds) {
        // A few hosts: their current facts of the types read, through facts_host_type, the subtypes picked here.
        const types = [...want.pairs.keys(), ...want.wholeTypes];
        for (let i = 0; i < hostIds.length; i += 500) {
          const rows = await rowsOf<[number, string, string, string]>(
            'SELECT host_id, type, subtype, value FROM facts WHERE host_id = ANY($1::bigint[]) AND type = ANY($2::text[]) AND is_current = 1', [hostIds.slice(i, i + 500), types]);
          for (const [h, t, st, v] of rows) if (want.wholeTypes.has(t) || want.pairs.get(t)?.has(st)) sink(Number(h), t, st, v);
        }
        return;
      }
      for (const [type, subtypes] of want.pairs) {
        const list = [...subtypes].map((x) => cleanText(x));
        for (let i = 0; i < list.length; i += SUBTYPES_PER_QUERY) {
          const rows = await rowsOf<[number, string, string]>('SELECT host_id, subtype, value FROM facts WHERE type = $1 AND subtype = ANY($2::text[]) AND is_current = 1', [type, list.slice(i, i + SUBTYPES_PER_QUERY)]);
          for (const [h, st, v] of rows) sink(Number(h), type, st, v);
        }
      }
      for (const type of want.wholeTypes) {
        for (const [h, st, v] of await rowsOf<[number, string, string]>('SELECT host_id, subtype, value FROM facts WHERE type = $1 AND is_current = 1', [type])) sink(Number(h), type, st, v);
      }
    });
  }

  async openAuditResults(of?: { hosts: readonly number[]; audits: readonly number[] }): Promise<au.OpenResults> {
    return this.guard('cannot read audit results', async () => {
      const out: au.OpenResults = { ids: [], audits: [], hosts: [], results: [] };
      const add = (rows: [number, number, number, string][]) => {
        for (const [id, a, h, r] of rows) { out.ids.push(Number(id)); out.audits.push(Number(a)); out.hosts.push(Number(h)); out.results.push(r); }
      };
      if (of) {
        add((await this.client.query<[number, number, number, string]>({
          text: numbered(au.openResultsOfSql(PG_WORDS)), values: [of.hosts, of.audits], rowMode: 'array',
        })).rows);
        return out;
      }
      // Keyset pages: one answer of millions of rows would be held whole by pg.
      const PAGE = 100_000;
      let after = 0;
      for (;;) {
        const rows = (await this.client.query<[number, number, number, string]>({
          text: 'SELECT id, audit_id, host_id, result FROM audit_results WHERE is_current = 1 AND id > $1 ORDER BY id LIMIT $2', values: [after, PAGE], rowMode: 'array',
        })).rows;
        add(rows);
        if (rows.length < PAGE) return out;
        after = Number(rows[rows.length - 1]![0]);
      }
    });
  }

  /**
   * Ids are handed out before their transaction commits, so the newest committed id alone could
   * leave an older id still to come: a brief SHARE lock waits for the writers of facts and
   * fact_changes in flight (and holds new ones back for as long as two index lookups take).
   */
  async analysisMark(): Promise<au.AnalysisMark> {
    return this.write('cannot read how far the facts go', async () => {
      await this.query("SET LOCAL lock_timeout = '60s'");
      await this.query('LOCK TABLE facts, fact_changes IN SHARE MODE');
      const r = (await this.driver.queryArrays('SELECT (SELECT MAX(id) FROM facts), (SELECT MAX(id) FROM fact_changes)')).rows[0]!;
      return { facts: Number(r[0] ?? 0), changes: Number(r[1] ?? 0) };
    });
  }

  async writeAnalysis(w: au.AnalysisWrite): Promise<void> {
    // Arrays of this many rows per statement: bounds each message sent.
    const CHUNK = 50_000;
    const chunks = function* (n: number) { for (let i = 0; i < n; i += CHUNK) yield [i, Math.min(n, i + CHUNK)] as const; };
    await this.write('cannot store the analysis (nothing of it was written)', async () => {
      // Into an empty table (the first analyze: millions of results), the foreign keys are checked
      // once at the end and the indexes built once, instead of two key lookups and two index
      // insertions per row (3.3 M rows: 44 s -> about 20 s). The table is locked until the commit.
      const rebuild = w.open.audits.length > 0 && (await this.query('SELECT 1 FROM audit_results LIMIT 1')).rowCount === 0
        ? await this.setAsideResultKeys() : [];
      for (const [a, b] of chunks(w.close.ids.length)) {
        await this.query(
          `UPDATE audit_results r SET is_current = 0, closed_at = $1, last_seen = u.last_seen
             FROM unnest($2::bigint[], $3::text[]) AS u(id, last_seen) WHERE r.id = u.id`,
          [w.at, w.close.ids.slice(a, b), w.close.lastSeen.slice(a, b)]);
      }
      for (const [a, b] of chunks(w.open.audits.length)) {
        await this.query(
          `INSERT INTO audit_results (audit_id, host_id, result, bucket, first_seen, last_seen, is_current)
             SELECT u.audit_id, u.host_id, u.result, u.bucket, $1, $1, 1 FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[]) AS u(audit_id, host_id, result, bucket)`,
          [w.at, w.open.audits.slice(a, b), w.open.hosts.slice(a, b), w.open.results.slice(a, b), w.open.buckets.slice(a, b).map((x) => clean(x))]);
      }
      for (const [a, b] of chunks(w.evaluatedHosts.length)) {
        await this.query('UPDATE hosts SET audited_at = $1 WHERE id = ANY($2::bigint[])', [w.at, w.evaluatedHosts.slice(a, b)]);
      }
      for (const statement of rebuild) await this.query(statement);
      if (w.analyzedAudits.length) {
        await this.query('UPDATE audits SET last_analyzed = $1, digest = u.digest FROM unnest($2::bigint[], $3::text[]) AS u(id, digest) WHERE audits.id = u.id',
          [w.at, w.analyzedAudits, w.analyzedDigests]);
      }
      const c = w.collate;
      for (const [a, b] of chunks(c.audits.length)) {
        await this.query(
          `INSERT INTO audit_collate (run_id, audit_id, pop, srvtype, result, hosts)
             SELECT $1, u.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[]) AS u`,
          [w.runId, c.audits.slice(a, b), c.pops.slice(a, b).map(cleanText), c.srvtypes.slice(a, b).map(cleanText), c.results.slice(a, b), c.hosts.slice(a, b)]);
      }
      await this.query('UPDATE analyze_runs SET finished_at = $1, exit_code = $2, summary = $3, facts_through = $4, changes_through = $5 WHERE id = $6',
        [w.finishedAt, w.exitCode, clean(w.summary), w.mark.facts, w.mark.changes, w.runId]);
    });
  }

  /**
   * Drops audit_results' foreign keys and secondary indexes (inside the caller's transaction) and
   * returns the statements that make them again, as the catalog defines them.
   */
  private async setAsideResultKeys(): Promise<string[]> {
    const keys = (await this.query<{ name: string; make: string }>(
      `SELECT conname AS name, format('ALTER TABLE audit_results ADD CONSTRAINT %I %s', conname, pg_get_constraintdef(oid)) AS make
         FROM pg_constraint WHERE conrelid = 'audit_results'::regclass AND contype = 'f' ORDER BY conname`)).rows;
    const indexes = (await this.query<{ name: string; make: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS make
         FROM pg_index i WHERE i.indrelid = 'audit_results'::regclass AND NOT i.indisprimary AND NOT i.indisunique ORDER BY 1`)).rows;
    for (const k of keys) await this.query(`ALTER TABLE audit_results DROP CONSTRAINT ${quoteIdent(k.name)}`);
    for (const x of indexes) await this.query(`DROP INDEX ${x.name}`);
    return [...indexes.map((x) => x.make), ...keys.map((k) => k.make)];
  }
}
