// The audit question (SPEC §9): which hosts have a fact now (or had it at an instant), narrowed by version predicates
// ("who runs openssl older than 3.0.11-1~deb12u2?"), or counted by value (the `clush -b` view).
// One function for every face (the CLI now, pages and the API later); it returns a plain view.
// The predicates are applied here, in code, to the rows the store's audit query returned: the
// version orders are not SQL, and both stores then answer the same way.
import { compareNatural } from '../collections/parse.js';
import { filterHosts, withTimes, type AuditHit, type AuditQuery } from '../store/queries.js';
import type { Store } from '../store/store.js';
import { compareVersions, schemeForRelease, versionError, type VersionScheme } from '../versions/index.js';
import { hostNames } from './host-names.js';
import { pageOf, type PagePosition, type PageRequest } from './paging.js';

export const VERSION_OPS = ['lt', 'le', 'eq', 'ge', 'gt'] as const;
export type VersionOp = (typeof VERSION_OPS)[number];
export interface VersionPredicate { op: VersionOp; version: string }
export const SCHEME_CHOICES = ['auto', 'dpkg', 'rpm'] as const;
export type SchemeChoice = (typeof SCHEME_CHOICES)[number];

export interface QueryRequest extends AuditQuery {
  /** all must hold (`--version-ge 3.0 --version-lt 3.1` is a range) */
  versions?: VersionPredicate[];
  /** the order the predicates use; auto (the default) = per host, from its release facts */
  scheme?: SchemeChoice;
  countBy?: 'value';
  /** only hosts of these sites (the stored pop, any case), server types, production ones */
  sites?: string[];
  srvtypes?: string[];
  prod?: boolean;
}

export interface QueryHit extends AuditHit {
  /** the order the value was compared in (with version predicates only) */
  scheme?: VersionScheme;
}

/** A row the version predicates could not judge, and why. */
export interface LeftOut { host: string; subtype: string; value: string; reason: string }

export interface ValueCount { value: string; count: number; hosts: string[] }

export interface QueryView {
  /** the rows that hold, hosts in natural order (`127.1.0.2` before `127.1.0.10`), then subtype, value (with a page: that page's; with countBy and a page: none) */
  hits: QueryHit[];
  /** how many rows hold, and on how many hosts (the whole answer, also with a page) */
  count: number;
  hostCount: number;
  leftOut: LeftOut[];
  /** with countBy: one entry per distinct value, most hosts first (with a page: that page's) */
  counts?: ValueCount[];
  /** set when nothing matched and no fact of the type was ever stored: a typo, most likely */
  knownTypes?: string[];
  /** with a page: where the next one starts, when rows remain */
  next?: PagePosition;
}

export const NO_SCHEME = 'no dpkg or rpm family in its release facts (ID, ID_LIKE)';

const HOLDS: Record<VersionOp, (c: number) => boolean> = {
  lt: (c) => c < 0, le: (c) => c <= 0, eq: (c) => c === 0, ge: (c) => c >= 0, gt: (c) => c > 0,
};

/** Why a predicate's own version is unusable (a scheme it may be compared in refuses it), else undefined. */
export function predicateError(version: string, scheme: SchemeChoice = 'auto'): string | undefined {
  for (const s of scheme === 'auto' ? (['dpkg', 'rpm'] as const) : [scheme]) {
    const e = versionError(s, version);
    if (e) return `${s} refuses it (${e})`;
  }
  return undefined;
}

/** Each host's order, from its release ID and ID_LIKE then (now, or at `at`): two index lookups, whatever the fleet size. */
async function releaseSchemes(store: Store, at: string | undefined): Promise<(host: string) => VersionScheme | undefined> {
  const keysOf = (subtype: string) => store.auditKeys({ type: 'release', subtype, ...(at !== undefined ? { at } : {}) });
  const idKeys = await keysOf('ID');
  const likeKeys = await keysOf('ID_LIKE');
  const names = await hostNames(store, [...idKeys, ...likeKeys].map((k) => k.hostId));
  const byHost = (keys: readonly { hostId: number; value: string }[]) => new Map(keys.map((k) => [names.byId.get(k.hostId), k.value]));
  const id = byHost(idKeys);
  const like = byHost(likeKeys);
  return (host) => schemeForRelease(id.get(host), like.get(host));
}

type Row = Pick<AuditHit, 'host' | 'subtype' | 'value'>;
/**
 * A fact found: with its times (a whole answer), or with its row id and its host's place in the
 * natural order of every host (a page: the times are read later, and sorting compares numbers).
 */
type Found = Row & { since?: string; lastSeen?: string; id?: number; rank?: number };
const byHit = (a: Found, b: Found): number => (a.rank !== undefined && b.rank !== undefined ? a.rank - b.rank : compareNatural(a.host, b.host))
  || compareNatural(a.subtype, b.subtype) || compareNatural(a.value, b.value);

/** One row per distinct value: its hosts (natural order), most hosts first, then by value. */
export function countByValue(hits: readonly Row[]): ValueCount[] {
  const hosts = new Map<string, Set<string>>();
  for (const h of hits) {
    let set = hosts.get(h.value);
    if (!set) hosts.set(h.value, (set = new Set()));
    set.add(h.host);
  }
  return [...hosts].map(([value, set]) => ({ value, count: set.size, hosts: [...set].sort(compareNatural) }))
    .sort((a, b) => b.count - a.count || compareNatural(a.value, b.value));
}

/**
 * The query's answer, or one page of it (`page`: of the hosts rows, or with countBy of the values).
 * The facts are found without their times (one index on SQLite), filtered, judged and sorted;
 * since and last seen are read only for the rows the answer shows.
 */
export async function runQuery(store: Store, req: QueryRequest, page?: PageRequest): Promise<QueryView> {
  const audit: AuditQuery = {
    type: req.type,
    ...(req.subtype !== undefined ? { subtype: req.subtype } : {}),
    ...(req.value !== undefined ? { value: req.value } : {}),
    ...(req.like !== undefined ? { like: req.like } : {}),
    ...(req.at !== undefined ? { at: req.at } : {}),
  };
  // A whole answer reads every row's times in the same statement; a page reads them after, for the
  // rows it shows.
  const later = page !== undefined;
  let found: Found[];
  if (later) {
    const keys = await store.auditKeys(audit);
    const names = await hostNames(store, keys.map((k) => k.hostId));
    found = keys.map((k) => ({ id: k.id, host: names.byId.get(k.hostId) ?? '', subtype: k.subtype, value: k.value, rank: names.rank.get(k.hostId) ?? -1 }));
  } else {
    found = await store.auditQuery(audit);
  }
  if (req.sites?.length || req.srvtypes?.length || req.prod) {
    const keep = new Set(filterHosts(await store.listHosts(), {
      ...(req.sites ? { sites: req.sites } : {}), ...(req.srvtypes ? { srvtypes: req.srvtypes } : {}), ...(req.prod ? { prod: true } : {}),
    }).map((h) => h.name));
    found = found.filter((h) => keep.has(h.host));
  }
  const knownTypes = found.length === 0 && !(await store.typeExists(req.type)) ? await store.factTypes() : undefined;
  const predicates = req.versions ?? [];
  const leftOut: LeftOut[] = [];
  let holding: (Found & { scheme?: VersionScheme })[] = found;
  if (predicates.length) {
    const fixed = req.scheme ?? 'auto';
    const schemeOf = fixed === 'auto' ? await releaseSchemes(store, req.at) : () => fixed;
    holding = [];
    for (const h of found) {
      const scheme = schemeOf(h.host);
      const refused = scheme && versionError(scheme, h.value);
      if (!scheme || refused) {
        leftOut.push({ host: h.host, subtype: h.subtype, value: h.value, reason: scheme ? `${scheme} refuses the version (${refused})` : NO_SCHEME });
      } else if (predicates.every((p) => HOLDS[p.op](compareVersions(scheme, h.value, p.version)))) {
        holding.push({ ...h, scheme });
      }
    }
  }
  holding.sort(byHit);
  leftOut.sort(byHit);
  const whole = { count: holding.length, hostCount: new Set(holding.map((h) => h.host)).size, leftOut, ...(knownTypes ? { knownTypes } : {}) };
  if (req.countBy && page) {
    // A page of counts is a page of values; no hit is read.
    const counts = pageOf(countByValue(holding), page);
    return { ...whole, hits: [], counts: counts.rows, ...(counts.next ? { next: counts.next } : {}) };
  }
  const shown = pageOf(holding, page);
  const times = later ? await store.factTimes(shown.rows.map((h) => h.id ?? 0)) : undefined;
  const hits = shown.rows.map((h): QueryHit => ({
    ...(times ? withTimes({ id: h.id ?? 0, host: h.host, subtype: h.subtype, value: h.value }, times) : { host: h.host, subtype: h.subtype, value: h.value, since: h.since ?? '', lastSeen: h.lastSeen ?? '' }),
    ...(h.scheme ? { scheme: h.scheme } : {}),
  }));
  return { ...whole, hits, ...(req.countBy ? { counts: countByValue(holding) } : {}), ...(shown.next ? { next: shown.next } : {}) };
}
