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
  const kept = old.filter((s) => s.mode !== input.mode && s.name in HELP).map((s) => s.line);
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
