// The analyze bookkeeping on SQLite (the rules both engines follow are in ../audit-store.ts): the
// audits' rows, reading the facts an analyze evaluates, the open results, how far the facts go,
// and one analyze's results written in one transaction, each as prepared statements.
import type Database from 'better-sqlite3';
import * as au from '../audit-store.js';
import { SQLITE_WORDS } from './driver.js';

/** What these writes need of the store: its prepared statements, a read and a write transaction (StorageError on failure). */
export interface SqliteAccess {
  stmt(sql: string, raw?: boolean): Database.Statement<unknown[]>;
  now<T>(what: string, fn: () => T): T;
  write<T>(what: string, fn: () => T): T;
}

export class SqliteAnalysis {
  constructor(private readonly store: SqliteAccess) {}

  private stmt(sql: string, raw = false): Database.Statement<unknown[]> {
    return this.store.stmt(sql, raw);
  }

  private now<T>(what: string, fn: () => T): T {
    return this.store.now(what, fn);
  }

  private write<T>(what: string, fn: () => T): T {
    return this.store.write(what, fn);
  }

  upsertAudits(audits: au.AuditMeta[], at: string): Map<string, number> {
    return this.write('cannot record the audits', () => {
      const up = this.stmt(
        `INSERT INTO audits (name, vuln_name, file, line, priority, short_description, long_description, primary_link, links, first_seen, active)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT (name) DO UPDATE SET vuln_name = excluded.vuln_name, file = excluded.file, line = excluded.line, priority = excluded.priority,
           short_description = excluded.short_description, long_description = excluded.long_description, primary_link = excluded.primary_link,
           links = excluded.links, active = 1`);
      for (const a of audits) {
        up.run(a.name, a.vulnName, a.file, a.line, a.priority, a.shortDescription, a.longDescription, a.primaryLink, JSON.stringify(a.links), at);
      }
      this.stmt('UPDATE audits SET active = 0 WHERE active = 1 AND name NOT IN (SELECT value FROM json_each(?))').run(JSON.stringify(audits.map((a) => a.name)));
      const ids = new Map<string, number>();
      for (const [id, name] of this.stmt('SELECT id, name FROM audits WHERE active = 1', true).all() as [number, string][]) ids.set(name, id);
      return ids;
    });
  }

  scanFacts(want: au.FactWant, sink: au.FactSink, hostIds?: readonly number[]): void {
    this.now('cannot read facts', () => {
      if (hostIds) {
        // A few hosts: their current facts of the types read, through the host's index (facts_audit
        // would walk every host's facts of the type), the subtypes picked here.
        const types = JSON.stringify([...want.pairs.keys(), ...want.wholeTypes]);
        const of = this.stmt(`SELECT host_id, type, subtype, value FROM facts INDEXED BY facts_host_type
          WHERE host_id IN (SELECT value FROM json_each(?)) AND type IN (SELECT value FROM json_each(?)) AND is_current = 1`, true);
        for (let i = 0; i < hostIds.length; i += 500) {
          for (const [h, t, s, v] of of.iterate(JSON.stringify(hostIds.slice(i, i + 500)), types) as Iterable<[number, string, string, string]>) {
            if (want.wholeTypes.has(t) || want.pairs.get(t)?.has(s)) sink(h, t, s, v);
          }
        }
        return;
      }
      // facts_audit (type, subtype, value) finds them; rows as arrays, one at a time (millions on a big fleet).
      const some = this.stmt('SELECT host_id, subtype, value FROM facts WHERE type = ? AND subtype IN (SELECT value FROM json_each(?)) AND is_current = 1', true);
      const whole = this.stmt('SELECT host_id, subtype, value FROM facts WHERE type = ? AND is_current = 1', true);
      for (const [type, subtypes] of want.pairs) {
        for (const [h, s, v] of some.iterate(type, JSON.stringify([...subtypes])) as Iterable<[number, string, string]>) sink(h, type, s, v);
      }
      for (const type of want.wholeTypes) {
        for (const [h, s, v] of whole.iterate(type) as Iterable<[number, string, string]>) sink(h, type, s, v);
      }
    });
  }

  openAuditResults(of?: { hosts: readonly number[]; audits: readonly number[] }): au.OpenResults {
    return this.now('cannot read audit results', () => {
      const out: au.OpenResults = { ids: [], audits: [], hosts: [], results: [] };
      const rows = of
        ? this.stmt(au.openResultsOfSql(SQLITE_WORDS), true).iterate(JSON.stringify(of.hosts), JSON.stringify(of.audits))
        : this.stmt('SELECT id, audit_id, host_id, result FROM audit_results WHERE is_current = 1', true).iterate();
      for (const [id, a, h, r] of rows as Iterable<[number, number, number, string]>) {
        out.ids.push(id); out.audits.push(a); out.hosts.push(h); out.results.push(r);
      }
      return out;
    });
  }

  /** One writer at a time, and a row's id is larger than every committed one: the newest ids are the mark. */
  analysisMark(): au.AnalysisMark {
    return this.now('cannot read facts', () => {
      const [facts, changes] = this.stmt('SELECT (SELECT MAX(id) FROM facts), (SELECT MAX(id) FROM fact_changes)', true).get() as [number | null, number | null];
      return { facts: facts ?? 0, changes: changes ?? 0 };
    });
  }

  writeAnalysis(w: au.AnalysisWrite): void {
    this.write('cannot store the analysis (nothing of it was written)', () => {
      const close = this.stmt('UPDATE audit_results SET is_current = 0, closed_at = ?, last_seen = ? WHERE id = ?');
      for (let i = 0; i < w.close.ids.length; i++) close.run(w.at, w.close.lastSeen[i], w.close.ids[i]);
      const open = this.stmt('INSERT INTO audit_results (audit_id, host_id, result, bucket, first_seen, last_seen, is_current) VALUES (?, ?, ?, ?, ?, ?, 1)');
      for (let i = 0; i < w.open.audits.length; i++) open.run(w.open.audits[i], w.open.hosts[i], w.open.results[i], w.open.buckets[i], w.at, w.at);
      const host = this.stmt('UPDATE hosts SET audited_at = ? WHERE id = ?');
      for (const id of w.evaluatedHosts) host.run(w.at, id);
      const audit = this.stmt('UPDATE audits SET last_analyzed = ?, digest = ? WHERE id = ?');
      for (let i = 0; i < w.analyzedAudits.length; i++) audit.run(w.at, w.analyzedDigests[i], w.analyzedAudits[i]);
      const col = this.stmt('INSERT INTO audit_collate (run_id, audit_id, pop, srvtype, result, hosts) VALUES (?, ?, ?, ?, ?, ?)');
      const c = w.collate;
      for (let i = 0; i < c.audits.length; i++) col.run(w.runId, c.audits[i], c.pops[i], c.srvtypes[i], c.results[i], c.hosts[i]);
      this.stmt('UPDATE analyze_runs SET finished_at = ?, exit_code = ?, summary = ?, facts_through = ?, changes_through = ? WHERE id = ?')
        .run(w.finishedAt, w.exitCode, w.summary, w.mark.facts, w.mark.changes, w.runId);
    });
  }
}
