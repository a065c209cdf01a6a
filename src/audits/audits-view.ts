// The `audits` questions as view objects (one function each; the CLI and any page render them):
// the audit list with current pass/fail/exempt counts and failing production hosts, one audit's
// hosts with "failing since" and "fixed at", and one host's results.
import { compareNatural } from '../collections/parse.js';
import type { AuditFilter, HostResultRow, StoredAudit } from '../store/audit-store.js';
import type { Store } from '../store/store.js';

export interface AuditsRequest extends AuditFilter {
  /** the list: only audits failing somewhere; one audit: only its failing hosts */
  failing?: boolean;
}

export type AuditListEntry = {
  name: string;
  vuln_name: string;
  priority: number;
  pass: number;
  fail: number;
  exempt: number;
  failing_prod: number;
  failing_prod_hosts: string[];
  last_analyzed: string | null;
  link: string;
};

export interface AuditListView {
  audits: AuditListEntry[];
  /** when the newest of them was analyzed (null: never) */
  last_analyzed: string | null;
}

export type AuditHostEntry = {
  host: string;
  result: string;
  /** first_seen of the current interval: for a fail, "failing since" */
  since: string;
  /** for a pass after a fail: when the fail interval closed */
  fixed_at: string | null;
  last_seen: string;
  /** not evaluated by the audit's last analyze (no fresh collection): kept, not counted */
  stale: boolean;
  bucket: string | null;
  pop: string | null;
  srvtype: string | null;
  prod: boolean;
};

export interface AuditDetailView {
  audit: {
    name: string; vuln_name: string; priority: number; short_description: string; long_description: string;
    primary_link: string; links: Record<string, string>; file: string; line: number; first_seen: string;
    last_analyzed: string | null; active: boolean;
  };
  pass: number;
  fail: number;
  exempt: number;
  hosts: AuditHostEntry[];
}

export async function auditListView(store: Store, req: AuditsRequest = {}): Promise<AuditListView> {
  const audits = await store.storedAudits();
  const counts = await store.auditCounts(req);
  const prod = await store.failingProdHosts(req);
  const byId = new Map<number, AuditListEntry>(audits.map((a) => [a.id, {
    name: a.name, vuln_name: a.vulnName, priority: a.priority, pass: 0, fail: 0, exempt: 0,
    failing_prod: 0, failing_prod_hosts: [], last_analyzed: a.lastAnalyzed, link: a.primaryLink,
  }]));
  for (const c of counts) {
    const e = byId.get(c.auditId);
    if (e && (c.result === 'pass' || c.result === 'fail' || c.result === 'exempt')) e[c.result] += c.hosts;
  }
  for (const p of prod) byId.get(p.auditId)?.failing_prod_hosts.push(p.host);
  let list = [...byId.values()];
  for (const e of list) { e.failing_prod_hosts.sort(compareNatural); e.failing_prod = e.failing_prod_hosts.length; }
  if (req.failing) list = list.filter((e) => e.fail > 0);
  list.sort((a, b) => b.priority - a.priority || b.fail - a.fail || compareNatural(a.name, b.name));
  const last = audits.map((a) => a.lastAnalyzed).filter((x): x is string => x !== null).sort().pop() ?? null;
  return { audits: list, last_analyzed: last };
}

function hostEntry(r: HostResultRow): AuditHostEntry {
  return {
    host: r.host, result: r.result, since: r.since, fixed_at: r.fixedAt, last_seen: r.lastSeen, stale: r.stale,
    bucket: r.bucket, pop: r.pop, srvtype: r.srvtype, prod: r.isProd,
  };
}

function detailOf(a: StoredAudit): AuditDetailView['audit'] {
  return {
    name: a.name, vuln_name: a.vulnName, priority: a.priority, short_description: a.shortDescription, long_description: a.longDescription,
    primary_link: a.primaryLink, links: a.links, file: a.file, line: a.line, first_seen: a.firstSeen, last_analyzed: a.lastAnalyzed, active: a.active,
  };
}

/** One audit and its hosts, or the names of similar audits when there is none so named. */
export async function auditDetailView(store: Store, name: string, req: AuditsRequest = {}): Promise<AuditDetailView | { unknownAudit: string; similar: string[] }> {
  const [a] = await store.storedAudits(name);
  if (!a) {
    const all = await store.storedAudits();
    const needle = name.toLowerCase();
    return { unknownAudit: name, similar: all.map((x) => x.name).filter((n) => n.toLowerCase().includes(needle)).slice(0, 5) };
  }
  const rows = (await store.currentAuditResults({ auditId: a.id }, req)).map(hostEntry);
  const fresh = rows.filter((r) => !r.stale);
  const count = (r: string) => fresh.filter((x) => x.result === r).length;
  const hosts = (req.failing ? rows.filter((r) => r.result === 'fail') : rows).sort((x, y) => compareNatural(x.host, y.host));
  return { audit: detailOf(a), pass: count('pass'), fail: count('fail'), exempt: count('exempt'), hosts };
}

export type HostAuditEntry = {
  audit: string;
  priority: number;
  result: string;
  since: string;
  fixed_at: string | null;
  last_seen: string;
  stale: boolean;
  bucket: string | null;
  link: string;
};

/** One host's current audit results, failing and highest priority first (`facts HOST --audits`). */
export async function hostAuditsView(store: Store, hostId: number): Promise<HostAuditEntry[]> {
  const rows = await store.currentAuditResults({ hostId });
  const audits = await store.auditsById([...new Set(rows.map((r) => r.auditId))]);
  const rank: Record<string, number> = { fail: 0, exempt: 1, pass: 2 };
  return rows
    .map((r) => {
      const a = audits.get(r.auditId);
      return a && a.active ? {
        audit: a.name, priority: a.priority, result: r.result, since: r.since, fixed_at: r.fixedAt, last_seen: r.lastSeen,
        stale: r.stale, bucket: r.bucket, link: a.primaryLink,
      } : undefined;
    })
    .filter((x): x is HostAuditEntry => x !== undefined)
    .sort((x, y) => (rank[x.result] ?? 3) - (rank[y.result] ?? 3) || y.priority - x.priority || compareNatural(x.audit, y.audit));
}

export interface AuditFailuresView {
  /** the analyze run the counts come from (null: never analyzed) */
  run_id: number | null;
  analyzed_at: string | null;
  /** pops with a failure, naturally sorted ('' = hosts without a pop) */
  pops: string[];
  /** one row per priority with a failure, highest first */
  priorities: { priority: number; audits: number; results: number; by_pop: Record<string, number> }[];
}

/** Failing results of the newest analyze run by audit priority and pop (the front page's panel). */
export async function auditFailuresView(store: Store): Promise<AuditFailuresView> {
  const latest = await store.latestAuditFailures();
  if (!latest) return { run_id: null, analyzed_at: null, pops: [], priorities: [] };
  const byPriority = new Map<number, AuditFailuresView['priorities'][number]>();
  const pops = new Set<string>();
  for (const c of latest.cells) {
    pops.add(c.pop);
    let row = byPriority.get(c.priority);
    if (!row) byPriority.set(c.priority, row = { priority: c.priority, audits: latest.auditsByPriority.get(c.priority) ?? 0, results: 0, by_pop: Object.create(null) as Record<string, number> });
    row.results += c.results;
    row.by_pop[c.pop] = (row.by_pop[c.pop] ?? 0) + c.results;
  }
  return {
    run_id: latest.runId, analyzed_at: latest.at,
    pops: [...pops].sort(compareNatural),
    priorities: [...byPriority.values()].sort((a, b) => b.priority - a.priority),
  };
}
