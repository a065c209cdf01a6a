// Numbered schema migrations. Each runs once, in a transaction, and is recorded in
// schema_migrations. Kept to portable SQL (INTEGER keys, TEXT ISO-8601 UTC timestamps) so the
// planned PostgreSQL backend can apply the same list.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'hosts, runs, attempts, fact intervals',
    sql: `
CREATE TABLE hosts (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  srvtype TEXT, pop TEXT, status TEXT, is_prod INTEGER NOT NULL DEFAULT 0,
  first_seen_at TEXT NOT NULL,
  last_attempt_at TEXT, last_success_at TEXT,
  last_outcome TEXT, last_code TEXT, last_message TEXT, last_run_id INTEGER,
  sapi_at TEXT
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  mode TEXT NOT NULL,
  started_at TEXT NOT NULL, finished_at TEXT,
  pid INTEGER, hostname TEXT, threads INTEGER, workers INTEGER,
  exit_code INTEGER, summary TEXT
);
CREATE TABLE attempts (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  host_id INTEGER NOT NULL REFERENCES hosts(id),
  started_at TEXT NOT NULL, finished_at TEXT NOT NULL, duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL, code TEXT, message TEXT, output_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attempts_run ON attempts(run_id);
CREATE INDEX attempts_host ON attempts(host_id, id);
CREATE TABLE attempt_collections (
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  type TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER, message TEXT, duration_ms INTEGER NOT NULL
);
CREATE INDEX attempt_collections_attempt ON attempt_collections(attempt_id);
CREATE TABLE facts (
  id INTEGER PRIMARY KEY,
  host_id INTEGER NOT NULL REFERENCES hosts(id),
  type TEXT NOT NULL, subtype TEXT NOT NULL, value TEXT NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  is_current INTEGER NOT NULL
);
CREATE INDEX facts_host_type ON facts(host_id, type, is_current);
CREATE INDEX facts_audit ON facts(type, subtype, value);
`,
  },
  {
    version: 2,
    name: 'archive of pruned fact intervals',
    sql: `
CREATE TABLE facts_archive (
  id INTEGER PRIMARY KEY,
  host_id INTEGER NOT NULL REFERENCES hosts(id),
  type TEXT NOT NULL, subtype TEXT NOT NULL, value TEXT NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  archived_at TEXT NOT NULL
);
CREATE INDEX facts_archive_host ON facts_archive(host_id, type);
CREATE INDEX facts_closed ON facts(is_current, last_seen);
`,
  },
  {
    // SQLite hands a deleted row's id to the next insert when it was the highest one, so after a
    // prune a new fact can carry an id the archive already holds: the archive keeps the fact id
    // as a plain column (no longer its key), so archiving such a fact later cannot conflict.
    version: 3,
    name: 'facts_archive keyed by its own row, not the fact id',
    sql: `
CREATE TABLE facts_archive_v3 (
  id INTEGER NOT NULL,
  host_id INTEGER NOT NULL REFERENCES hosts(id),
  type TEXT NOT NULL, subtype TEXT NOT NULL, value TEXT NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  archived_at TEXT NOT NULL
);
INSERT INTO facts_archive_v3 (id, host_id, type, subtype, value, first_seen, last_seen, archived_at)
  SELECT id, host_id, type, subtype, value, first_seen, last_seen, archived_at FROM facts_archive;
DROP TABLE facts_archive;
ALTER TABLE facts_archive_v3 RENAME TO facts_archive;
CREATE INDEX facts_archive_host ON facts_archive(host_id, type);
`,
  },
  {
    // facts_closed only serves prune, which asks for closed intervals. Over every row it also cost
    // each new fact an entry and each "seen again" (a last_seen move) an index rewrite: measured on
    // 1,000 hosts x 20 types x 30 facts, ~0.5 s of a ~1.6 s steady-state batch. Partial indexes
    // exist in PostgreSQL too.
    version: 4,
    name: 'facts_closed covers closed intervals only',
    sql: `
DROP INDEX facts_closed;
CREATE INDEX facts_closed ON facts(last_seen) WHERE is_current = 0;
`,
  },
  {
    // When each host's type was last observed, once per (host, type) instead of on every current
    // fact: a steady-state run rewrote last_seen of ~890 rows per host (and the WAL pages they
    // sit on). A current fact's last_seen is now its type's; facts.last_seen is written when an
    // interval closes (and for rows opened, as before). Closed intervals are unchanged.
    version: 5,
    name: 'fact_types holds the last observation of each host and type',
    sql: `
CREATE TABLE fact_types (
  host_id INTEGER NOT NULL REFERENCES hosts(id),
  type TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  PRIMARY KEY (host_id, type)
);
INSERT INTO fact_types (host_id, type, last_seen)
  SELECT host_id, type, MAX(last_seen) FROM facts WHERE is_current = 1 GROUP BY host_id, type;
`,
  },
];

/** The schema version this jellyfish writes and reads. */
export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * A fact's last sighting, for SQL over `facts f` joined to `fact_types ft` (LEFT JOIN fact_types ft
 * ON ft.host_id = f.host_id AND ft.type = f.type): a current fact was last seen when its type was.
 */
export const FACT_LAST_SEEN = 'CASE WHEN f.is_current = 1 THEN COALESCE(ft.last_seen, f.last_seen) ELSE f.last_seen END';
export const JOIN_FACT_TYPES = 'LEFT JOIN fact_types ft ON ft.host_id = f.host_id AND ft.type = f.type';
