// GET /metrics: Prometheus exposition from a private prom-client Registry (never the global one,
// so two servers in one process, as in tests, do not share counters). Counters and the request
// histogram are kept in memory; the fleet gauges are read from the store at each scrape (one
// hosts query and one runs query), so they are never older than the scrape.
import client from 'prom-client';
import { auditFailuresView, type AuditFailuresView } from '../audits/audits-view.js';
import type { Store } from '../store/store.js';

export interface ApiMetrics {
  registry: client.Registry;
  pushes: client.Counter<'answer'>;
  requests: client.Histogram<'method' | 'route' | 'status'>;
}

export interface MetricsOptions {
  reader: Store;
  /** a prod host without a success within this is stale ([gapfix] max_age: what gap-fix would collect) */
  staleAfterMs: number;
}

export function createMetrics(opts: MetricsOptions): ApiMetrics {
  const registry = new client.Registry();
  const pushes = new client.Counter({ name: 'jellyfish_api_pushes_total', help: 'Pushes answered, by HTTP status.', labelNames: ['answer'] as const, registers: [registry] });
  const requests = new client.Histogram({
    name: 'jellyfish_api_request_duration_seconds',
    help: 'HTTP requests by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const { reader, staleAfterMs } = opts;
  new client.Gauge({
    name: 'jellyfish_store_hosts',
    help: 'Hosts in the store by their last outcome (never = no attempt yet).',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const h of await reader.listHosts()) counts.set(h.lastOutcome ?? 'never', (counts.get(h.lastOutcome ?? 'never') ?? 0) + 1);
      for (const [outcome, n] of counts) this.set({ outcome }, n);
    },
  });
  new client.Gauge({
    name: 'jellyfish_store_stale_prod_hosts',
    help: 'Production hosts without a successful collection (SSH or push) within [gapfix] max_age.',
    registers: [registry],
    async collect() {
      const since = Date.now() - staleAfterMs;
      this.set((await reader.listHosts()).filter((h) => h.isProd && (h.lastSuccessAt === null || Date.parse(h.lastSuccessAt) < since)).length);
    },
  });
  const lastRuns = async () => (await reader.lastRuns()).filter((m) => m.lastFinished);
  new client.Gauge({
    name: 'jellyfish_store_last_run_timestamp_seconds',
    help: 'When the newest finished run of each mode (and site scope) finished, Unix time.',
    labelNames: ['mode', 'scope'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const m of await lastRuns()) this.set({ mode: m.mode, scope: m.scope ?? '' }, Date.parse(m.lastFinished!.finishedAt ?? m.lastFinished!.startedAt) / 1000);
    },
  });
  new client.Gauge({
    name: 'jellyfish_store_last_run_exit_code',
    help: 'Exit code of the newest finished run of each mode (and site scope).',
    labelNames: ['mode', 'scope'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const m of await lastRuns()) this.set({ mode: m.mode, scope: m.scope ?? '' }, m.lastFinished!.exitCode ?? -1);
    },
  });
  // The newest analyze's failures by audit priority: one collated read, shared by both gauges of a scrape.
  let failures: ReturnType<typeof auditFailuresView> | undefined;
  const failuresOnce = () => {
    failures ??= auditFailuresView(reader).finally(() => setTimeout(() => { failures = undefined; }, 1_000).unref());
    return failures;
  };
  const byPriority = (name: string, help: string, value: (p: AuditFailuresView['priorities'][number]) => number) => new client.Gauge({
    name, help, labelNames: ['priority'] as const, registers: [registry],
    async collect() {
      this.reset();
      for (const p of (await failuresOnce()).priorities) this.set({ priority: String(p.priority) }, value(p));
    },
  });
  byPriority('jellyfish_audit_failing_results', 'Failing (audit, host) results of the newest analyze, by audit priority.', (p) => p.results);
  byPriority('jellyfish_audit_failing_audits', 'Audits with at least one failing host in the newest analyze, by priority.', (p) => p.audits);
  return { registry, pushes, requests };
}
