// The rules of a pushed document (SPEC §11), once for every engine: the attempt it records, when a
// type is skipped, which stored host it lands on, and how the host's row moves. A push may arrive
// late (an agent retrying an older document): the host's last_* and sapi_at only ever move forward,
// and a type last observed after the document's time is skipped, never overwritten. The engine
// runs these statements its own way (SQLite one by one, PostgreSQL with a type list at once).
import type { PushDocument } from './store.js';

/** The attempt row a document records under its ingest's run. */
export function pushAttempt(doc: PushDocument): { outcome: 'ok' | 'error'; code: string | null; message: string } {
  return doc.ok
    ? { outcome: 'ok', code: null, message: 'pushed by the host agent' }
    : { outcome: 'error', code: 'AGENT', message: `the host agent reported collection_status ${JSON.stringify(doc.statusText)}` };
}

/** Whether a type last observed at `last` (null: never) is newer than the document's `at`: then it is skipped. */
export function newerThanDocument(last: string | null | undefined, at: string): last is string {
  return last != null && last > at;
}

/** The attempt_collections message of a skipped type. */
export const skippedNote = (last: string): string => `older than what is stored (last observed ${last})`;

/** The stored spelling of a pushed host name: exact (`?` the name), else the one host equal to it without regard to case. */
export const NAME_EXACT = 'SELECT 1 FROM hosts WHERE name = ?';
export const NAME_FOLDED = 'SELECT name FROM hosts WHERE lower(name) = lower(?) LIMIT 2';

/**
 * The inventory is the authority on srvtype/pop/status: a push only fills what is unknown (a host
 * that exists only through its agent gets them from its first push). Parameters: pushFillParams.
 */
export const FILL_HOST = `UPDATE hosts SET srvtype = COALESCE(srvtype, ?), pop = COALESCE(pop, ?), status = COALESCE(status, ?),
  is_prod = CASE WHEN status IS NULL AND CAST(? AS TEXT) IS NOT NULL THEN ? ELSE is_prod END WHERE id = ?`;

export function fillHostParams(doc: PushDocument, hostId: number, text: (s: string | null | undefined) => string | null): unknown[] {
  const status = text(doc.status);
  return [text(doc.srvtype), text(doc.pop), status, status, doc.isProd ? 1 : 0, hostId];
}

/** The named values of the host update, in the order PostgreSQL numbers them. */
const HOST_UPDATE_PARAMS = ['ok', 'at', 'outcome', 'code', 'message', 'runId', 'hostId', 'stored'] as const;
type HostUpdateParam = (typeof HOST_UPDATE_PARAMS)[number];

/**
 * After the document's facts: sapi_at (a good document), the last attempt (only if no newer one is
 * stored), the last success, and the first facts, each only forward. `p` spells a named parameter
 * in the engine's words (`@at`, `$2`); hostUpdateParams gives the values.
 */
export function hostUpdateSql(p: (name: HostUpdateParam) => string, firstFacts: (stored: string, at: string) => string): string {
  const at = p('at');
  const notNewer = `last_attempt_at IS NULL OR last_attempt_at <= ${at}`;
  return `UPDATE hosts SET
       sapi_at = CASE WHEN ${p('ok')} = 1 AND (sapi_at IS NULL OR sapi_at < ${at}) THEN ${at} ELSE sapi_at END,
       last_outcome = CASE WHEN ${notNewer} THEN ${p('outcome')} ELSE last_outcome END,
       last_code = CASE WHEN ${notNewer} THEN ${p('code')} ELSE last_code END,
       last_message = CASE WHEN ${notNewer} THEN ${p('message')} ELSE last_message END,
       last_run_id = CASE WHEN ${notNewer} THEN ${p('runId')} ELSE last_run_id END,
       last_attempt_at = CASE WHEN last_attempt_at IS NULL OR last_attempt_at < ${at} THEN ${at} ELSE last_attempt_at END,
       last_success_at = CASE WHEN ${p('ok')} = 1 AND (last_success_at IS NULL OR last_success_at < ${at}) THEN ${at} ELSE last_success_at END,
       ${firstFacts(p('stored'), at)}
     WHERE id = ${p('hostId')}`;
}

export type HostUpdateValues = Record<HostUpdateParam, unknown>;

export function hostUpdateValues(doc: PushDocument, at: string, runId: number, hostId: number, storedAny: boolean, text: (s: string) => string | null): HostUpdateValues {
  const a = pushAttempt(doc);
  return { ok: doc.ok ? 1 : 0, at, outcome: a.outcome, code: a.code, message: text(a.message), runId, hostId, stored: storedAny ? 1 : 0 };
}

/** PostgreSQL's numbered placeholders for hostUpdateSql, and its values in that order. */
export const numberedParam = (name: HostUpdateParam): string => `$${HOST_UPDATE_PARAMS.indexOf(name) + 1}`;
export const inNumberOrder = (v: HostUpdateValues): unknown[] => HOST_UPDATE_PARAMS.map((n) => v[n]);
