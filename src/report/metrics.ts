// The Prometheus textfile-collector file: hosts by outcome, prod failures, duration, deadline,
// last success and exit code, one series set per mode (run, gap-fix). Hand-written rather than
// prom-client: a dozen gauges rendered once per run need no registry, and keeping the other
// mode's lines when rewriting the file is easier on plain text.

export interface MetricsInput {
  mode: string;
  outcomes: Record<string, number>;
  notStarted: number;
  sapi: number;
  failedProd: number;
  invalidRows: number;
  durationSeconds: number;
  deadlineHit: boolean;
  exitCode: number;
  finishedAt: Date;
}

const HELP: Record<string, [string, string]> = {
  jellyfish_hosts: ['gauge', 'Inventory hosts of the last run by outcome (not_started and sapi included).'],
  jellyfish_prod_failed_hosts: ['gauge', 'Production hosts that failed in the last run.'],
  jellyfish_invalid_inventory_rows: ['gauge', 'Inventory rows skipped as invalid in the last run.'],
  jellyfish_run_duration_seconds: ['gauge', 'Wall-clock duration of the last run.'],
  jellyfish_deadline_hit: ['gauge', '1 when the last run stopped at threadtimeout.'],
  jellyfish_exit_code: ['gauge', 'Exit code of the last run.'],
  jellyfish_last_run_timestamp_seconds: ['gauge', 'When the last run finished (Unix time).'],
  jellyfish_last_success_timestamp_seconds: ['gauge', 'When a run last finished with exit code 0 (Unix time).'],
  jellyfish_audit_failing_results: ['gauge', 'Failing (audit, host) results of the last analyze, by audit priority.'],
  jellyfish_audit_failing_audits: ['gauge', 'Audits with at least one failing host in the last analyze, by priority.'],
  jellyfish_audit_failing_prod_results: ['gauge', 'Failing (audit, production host) results of the last analyze, by priority.'],
  jellyfish_audit_results: ['gauge', 'Results of the last analyze by result (pass, fail, exempt), and hosts left out as stale.'],
  jellyfish_audit_errors: ['gauge', 'Audit files or audits the last analyze could not use.'],
};

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function series(name: string, labels: Record<string, string>, value: number): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
  return `${name}{${l}} ${Number.isFinite(value) ? value : 0}`;
}

/** Sample lines (`name{labels} value`) of an existing file, by name. */
function parseSamples(text: string): { name: string; mode: string | undefined; line: string; value: number }[] {
  const out: { name: string; mode: string | undefined; line: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const mode = /mode="([^"]*)"/.exec(m[2] ?? '')?.[1];
    out.push({ name: m[1] as string, mode, line, value: Number(m[3]) });
  }
  return out;
}

/** The whole file: this run's series for its mode, the other modes' lines kept from `previous`. */
export function renderMetrics(input: MetricsInput, previous = ''): string {
  const old = parseSamples(previous);
  const mode = { mode: input.mode };
  const finished = Math.round(input.finishedAt.getTime() / 1000);
  const lastSuccess = input.exitCode === 0
    ? finished
    : old.find((s) => s.name === 'jellyfish_last_success_timestamp_seconds' && s.mode === input.mode)?.value;
  const mine: string[] = [
    ...Object.entries(input.outcomes).map(([outcome, n]) => series('jellyfish_hosts', { ...mode, outcome }, n)),
    series('jellyfish_hosts', { ...mode, outcome: 'not_started' }, input.notStarted),
    series('jellyfish_hosts', { ...mode, outcome: 'sapi' }, input.sapi),
    series('jellyfish_prod_failed_hosts', mode, input.failedProd),
    series('jellyfish_invalid_inventory_rows', mode, input.invalidRows),
    series('jellyfish_run_duration_seconds', mode, input.durationSeconds),
    series('jellyfish_deadline_hit', mode, input.deadlineHit ? 1 : 0),
    series('jellyfish_exit_code', mode, input.exitCode),
    series('jellyfish_last_run_timestamp_seconds', mode, finished),
    ...(lastSuccess !== undefined && Number.isFinite(lastSuccess) ? [series('jellyfish_last_success_timestamp_seconds', mode, lastSuccess)] : []),
  ];
  return assemble(old, input.mode, mine);
}

export interface AnalyzeMetricsInput {
  failuresByPriority: { priority: number; audits: number; results: number; prodHosts: number }[];
  summary: { pass: number; fail: number; exempt: number; stale: number; errors: unknown[]; jobtime: number; exit_code: number };
  finishedAt: Date;
}

/** The whole file after an analyze: its series (mode="analyze"), the runs' lines kept from `previous`. */
export function renderAnalyzeMetrics(input: AnalyzeMetricsInput, previous = ''): string {
  const mode = { mode: 'analyze' };
  const s = input.summary;
  const mine: string[] = [
    ...input.failuresByPriority.flatMap((p) => [
      series('jellyfish_audit_failing_results', { ...mode, priority: String(p.priority) }, p.results),
      series('jellyfish_audit_failing_audits', { ...mode, priority: String(p.priority) }, p.audits),
      series('jellyfish_audit_failing_prod_results', { ...mode, priority: String(p.priority) }, p.prodHosts),
    ]),
    ...(['pass', 'fail', 'exempt', 'stale'] as const).map((r) => series('jellyfish_audit_results', { ...mode, result: r }, s[r])),
    series('jellyfish_audit_errors', mode, s.errors.length),
    series('jellyfish_run_duration_seconds', mode, s.jobtime),
    series('jellyfish_exit_code', mode, s.exit_code),
    series('jellyfish_last_run_timestamp_seconds', mode, Math.round(input.finishedAt.getTime() / 1000)),
  ];
  return assemble(parseSamples(previous), 'analyze', mine);
}

function assemble(old: ReturnType<typeof parseSamples>, mode: string, mine: string[]): string {
  const kept = old.filter((s) => s.mode !== mode && s.name in HELP).map((s) => s.line);
  const byName = new Map<string, string[]>();
  for (const line of [...kept, ...mine]) {
    const name = line.slice(0, line.indexOf('{'));
    byName.set(name, [...(byName.get(name) ?? []), line]);
  }
  const out: string[] = [];
  for (const [name, [type, help]] of Object.entries(HELP)) {
    const lines = byName.get(name);
    if (!lines) continue;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines.sort());
  }
  return out.join('\n') + '\n';
}
