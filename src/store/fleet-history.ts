// Questions the fleet pages ask that no command asks yet: how the runs of the last weeks went
// (from each run's stored final JSON), a host's last attempts with their error codes, and where
// the newest stretch of the change feed starts. One SQL text per question for both engines over
// AllRows (`?` placeholders); only the JSON and string functions differ by dialect.
import type { AllRows } from './queries.js';

import type { Dialect } from './driver.js';

/** One collection run (or gap-fix) with the counts of its final JSON; null counts = it never finished. */
export interface RunTally {
  id: number;
  mode: 'run' | 'gap-fix';
  scope: string | null;
  startedAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  /** global_success_hosts: ok or partial */
  ok: number | null;
  failed: number | null;
  notStarted: number | null;
  sapi: number | null;
  /** the wall-clock limit stopped it */
  timedOut: boolean;
}

/** One attempt at one host (an SSH collection, or a push under an ingest), newest first. */
export interface HostAttempt {
  runId: number;
  mode: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  outcome: string;
  code: string | null;
  message: string | null;
  /** the collections that did not end ok (failed, timed out, skipped), by type */
  failedTypes: string[];
}

const SUMMARY_KEYS = { ok: 'global_success_hosts', failed: 'global_fail_hosts', notStarted: 'not_started_hosts', sapi: 'sapi_hosts' } as const;

/**
 * The counts are read by the database from the summary text (written by JSON.stringify at the end
 * of each run): a summary of 10,000 hosts holds every host name, and parsing ~150 of them here
 * would cost more than the page's whole budget. PostgreSQL parses each once into jsonb (the CTE
 * is materialised, so the cast is not repeated per key).
 */
function runsSql(dialect: Dialect): string {
  const keys = Object.entries(SUMMARY_KEYS);
  if (dialect === 'sqlite') {
    const pick = keys.map(([as, k]) => `json_extract(summary, '$.${k}') AS ${snake(as)}`).join(', ');
    return `SELECT id, mode, scope, started_at, finished_at, exit_code, ${pick}, json_type(summary, '$.Timeout') IS NOT NULL AS timed_out
      FROM (SELECT id, mode, scope, started_at, finished_at, exit_code, CASE WHEN json_valid(summary) THEN summary END AS summary
              FROM runs WHERE mode IN ('run', 'gap-fix') AND started_at >= ?)
     ORDER BY started_at, id`;
  }
  const pick = keys.map(([as, k]) => `(j ->> '${k}')::bigint AS ${snake(as)}`).join(', ');
  return `WITH r AS MATERIALIZED (
      SELECT id, mode, scope, started_at, finished_at, exit_code, CASE WHEN summary LIKE '{%}' THEN summary::jsonb END AS j
        FROM runs WHERE mode IN ('run', 'gap-fix') AND started_at >= ?)
    SELECT id, mode, scope, started_at, finished_at, exit_code, ${pick}, (j -> 'Timeout') IS NOT NULL AS timed_out FROM r ORDER BY started_at, id`;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const num = (v: unknown): number | null => (v === null || v === undefined || !Number.isFinite(Number(v)) ? null : Number(v));

/** Runs and gap-fixes started at or after `since` (ISO), oldest first; ingests are left out. */
export async function runsSince(all: AllRows, dialect: Dialect, since: string): Promise<RunTally[]> {
  const rows = await all(runsSql(dialect), [since]);
  return rows.map((r) => ({
    id: Number(r.id), mode: r.mode as 'run' | 'gap-fix', scope: (r.scope as string | null) ?? null,
    startedAt: String(r.started_at), finishedAt: (r.finished_at as string | null) ?? null, exitCode: num(r.exit_code),
    ok: num(r.ok), failed: num(r.failed), notStarted: num(r.not_started), sapi: num(r.sapi),
    timedOut: r.timed_out === true || Number(r.timed_out) === 1,
  }));
}

/** The last `limit` attempts at one host, newest first, through attempts_host (host_id, id). */
export async function hostAttempts(all: AllRows, dialect: Dialect, hostId: number, limit: number): Promise<HostAttempt[]> {
  const agg = dialect === 'sqlite' ? "group_concat(c.type, ' ')" : "string_agg(c.type, ' ' ORDER BY c.type)";
  const rows = await all(
    `SELECT a.run_id, r.mode, a.started_at, a.finished_at, a.duration_ms, a.outcome, a.code, a.message,
            (SELECT ${agg} FROM attempt_collections c WHERE c.attempt_id = a.id AND c.status <> 'ok') AS failed_types
       FROM attempts a JOIN runs r ON r.id = a.run_id
      WHERE a.host_id = ? ORDER BY a.id DESC LIMIT ?`,
    [hostId, limit],
  );
  return rows.map((r) => ({
    runId: Number(r.run_id), mode: String(r.mode), startedAt: String(r.started_at), finishedAt: String(r.finished_at),
    durationMs: Number(r.duration_ms), outcome: String(r.outcome), code: (r.code as string | null) ?? null, message: (r.message as string | null) ?? null,
    failedTypes: typeof r.failed_types === 'string' && r.failed_types !== '' ? r.failed_types.split(' ').sort() : [],
  }));
}

/**
 * The start of the shortest window ending now that holds the newest `n` rows of the change feed:
 * the `n`th newest change (fact_changes, walked backwards on its time index) or first collection
 * of a host (hosts.first_facts_at), whichever is later; when there are fewer than `n` of either,
 * the oldest of them; null when nothing was ever stored. A 24-hour window of a big fleet holds
 * ~100,000 changes, and the front page needs a dozen.
 */
export async function recentChangeStart(all: AllRows, n: number): Promise<string | null> {
  /** the nth newest instant, or (fewer than n) the oldest one with `all: true`, or null for none */
  const nth = async (sql: string, minSql: string): Promise<{ at: string; all: boolean } | null> => {
    const [row] = await all(sql, [Math.max(0, n - 1)]);
    if (row) return { at: String(row.t), all: false };
    const [min] = await all(minSql, []);
    return min && min.t !== null && min.t !== undefined ? { at: String(min.t), all: true } : null;
  };
  const changed = await nth('SELECT at AS t FROM fact_changes ORDER BY at DESC LIMIT 1 OFFSET ?', 'SELECT MIN(at) AS t FROM fact_changes');
  const hosts = await nth(
    'SELECT first_facts_at AS t FROM hosts WHERE first_facts_at IS NOT NULL ORDER BY first_facts_at DESC LIMIT 1 OFFSET ?',
    'SELECT MIN(first_facts_at) AS t FROM hosts',
  );
  // A side with n rows decides (the later of two such); when neither has n, the window is everything.
  const full = [changed, hosts].filter((x): x is { at: string; all: boolean } => x !== null && !x.all).map((x) => x.at);
  if (full.length) return full.reduce((a, b) => (a > b ? a : b));
  const some = [changed, hosts].filter((x): x is { at: string; all: boolean } => x !== null).map((x) => x.at);
  return some.length ? some.reduce((a, b) => (a < b ? a : b)) : null;
}
