// The SQLite query plans of the shared read statements: lets a test prove a question walks the
// index it was written for (EXPLAIN QUERY PLAN of the very SQL the store runs).
import type Database from 'better-sqlite3';
import { auditSql, factsSql, type AuditQuery, type FactsOptions, type HostRef } from '../../src/store/queries.js';
import { SQLITE_WORDS } from '../../src/store/sqlite/driver.js';

const plan = (db: Database.Database, sql: string, params: unknown[]): string[] =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);

export function hostFactsPlan(db: Database.Database, host: HostRef, opts: FactsOptions = {}): string[] {
  const { sql, params } = factsSql(SQLITE_WORDS, host, opts);
  return plan(db, sql, params);
}

export function auditPlan(db: Database.Database, q: AuditQuery): string[] {
  const { sql, params } = auditSql(SQLITE_WORDS, q);
  return plan(db, sql, params);
}
