// One host's collector stage: connect, run every enabled collection over that one connection,
// parse, close. Runs in a worker thread (or the main thread with workers = 0). It never throws:
// every kind of trouble becomes an outcome and a stable code in the returned HostResult.
import { parseBytes } from '../collections/parse.js';
import type { ScriptStep } from '../collections/script.js';
import { DEADLINE_MESSAGE, type CollectionResult, type ErrorCode, type HostResult, type Outcome } from '../core/results.js';
import type { HostTask } from '../pool/messages.js';
import type { Connected } from '../ssh/connect-host.js';
import type { OutputBudget, StepOutput } from '../ssh/run-script.js';

/**
 * The SSH side (ssh2 and its crypto: ~80 ms of CPU to load), loaded by the first host this
 * thread collects. The main thread imports this module through the pool (for workers = 0) but,
 * with worker threads, never collects: it then never loads ssh2 for this.
 */
let sshModules: Promise<[typeof import('../ssh/connect-host.js'), typeof import('../ssh/run-script.js')]> | undefined;
const loadSsh = () => (sshModules ??= Promise.all([import('../ssh/connect-host.js'), import('../ssh/run-script.js')]));

/** Exit codes of `timeout(1)`: 124 after TERM, 137 when it had to KILL. */
const TIMEOUT_EXIT_CODES = new Set([124, 137]);

function stepResult(step: ScriptStep, out: StepOutput, maxFacts: number): CollectionResult {
  const base = { type: step.def.type, durationMs: out.durationMs };
  if (out.how === 'watchdog') {
    return { ...base, status: 'timeout', message: `no result within ${Math.round(out.durationMs / 1000)} s (collection timeout ${step.def.timeoutMs / 1000} s)` };
  }
  if (out.how === 'cut') return { ...base, status: 'failed', message: `output cut at the per-host cap (max_output)` };
  const factCap = { ...base, status: 'failed', code: 'FACT_CAP', message: `more than max_facts (${maxFacts}) facts` } as const;
  if (out.how === 'too-many-facts') return factCap;
  const code = out.exitCode ?? 255;
  if (TIMEOUT_EXIT_CODES.has(code)) return { ...base, status: 'timeout', exitCode: code, message: `stopped on the host after its ${step.def.timeoutMs / 1000} s timeout` };
  if (code !== 0) return { ...base, status: 'failed', exitCode: code, message: code === 127 ? 'command not found on the host' : `exit status ${code}` };
  const values = parseBytes(step.def, out.output, maxFacts);
  if (!values) return { ...factCap, exitCode: 0 };
  return { ...base, status: 'ok', exitCode: 0, values };
}

export async function collectHost(task: HostTask): Promise<HostResult> {
  const startedAt = Date.now();
  try {
    return await collect(task, startedAt);
  } catch (e) {
    return { label: task.label, outcome: 'error', code: 'INTERNAL', message: `internal error: ${(e as Error).message}`, startedAt, finishedAt: Date.now(), collections: [], outputBytes: 0 };
  }
}

async function collect(task: HostTask, startedAt: number): Promise<HostResult> {
  const [{ connectHost }, { runScript }] = await loadSsh();
  const hostEnd = Math.min(startedAt + task.ssh.hostTimeoutMs, task.deadlineAt);
  const endCode: ErrorCode = hostEnd === task.deadlineAt ? 'DEADLINE' : 'HOST_TIMEOUT';
  const endMessage = endCode === 'DEADLINE' ? DEADLINE_MESSAGE : `host_timeout of ${task.ssh.hostTimeoutMs / 1000} s reached`;
  const steps: ScriptStep[] = task.collections.map((def, index) => ({ index, def }));
  const results = new Map<number, CollectionResult>();
  const budget: OutputBudget = { used: 0, max: task.ssh.maxOutputBytes };
  let client: Connected['client'] | undefined;
  let aborted = false;
  let wakeAbort: (() => void) | undefined;
  const abortPromise = new Promise<'aborted'>((r) => { wakeAbort = () => r('aborted'); });
  // One timer bounds the whole host: connect, every channel, every byte.
  const timer = setTimeout(() => {
    aborted = true;
    client?.destroy();
    wakeAbort?.();
  }, Math.min(Math.max(0, hostEnd - Date.now()), 2 ** 31 - 1));

  const finish = (outcome: Outcome, code?: ErrorCode, message?: string, extra: Partial<HostResult> = {}): HostResult => ({
    label: task.label,
    outcome,
    ...(code ? { code } : {}),
    ...(message ? { message } : {}),
    startedAt,
    finishedAt: Date.now(),
    collections: steps.map((s) => results.get(s.index) ?? { type: s.def.type, status: 'skipped', message: 'not run', durationMs: 0 }),
    outputBytes: budget.used,
    ...extra,
  });

  try {
    const connectLimit = Math.max(1, Math.min(task.ssh.connectTimeoutMs, hostEnd - Date.now()));
    const conn = await Promise.race([connectHost(task, connectLimit, (c) => { client = c; if (aborted) c.destroy(); }), abortPromise]);
    if (conn === 'aborted' || aborted) return finish('timeout', endCode, endMessage);
    if (!('client' in conn)) {
      // A connect cut short by the host/run limit (not by connect_timeout) is that limit's timeout.
      const learned = conn.learnedHostKeys?.length ? { learnedHostKeys: conn.learnedHostKeys } : {};
      if (conn.code === 'ETIMEDOUT' && Date.now() >= hostEnd - 20 && connectLimit < task.ssh.connectTimeoutMs) return finish('timeout', endCode, endMessage, learned);
      return finish(conn.outcome, conn.code, conn.message, learned);
    }
    const learned = conn.learnedHostKeys?.length ? { learnedHostKeys: conn.learnedHostKeys } : {};
    if (steps.length === 0) return finish('ok', undefined, undefined, learned);

    let todo = steps;
    let trouble: { code: ErrorCode; message: string } | undefined;
    while (todo.length > 0) {
      const end = await Promise.race([
        runScript(conn.client, todo, { budget, maxFacts: task.ssh.maxFacts }, (out) => {
          const step = steps[out.index];
          if (step) results.set(out.index, stepResult(step, out, task.ssh.maxFacts));
        }),
        abortPromise,
      ]);
      if (end === 'aborted' || aborted) break;
      todo = todo.filter((s) => !results.has(s.index));
      if (end.kind === 'complete') continue;
      // The stuck step, or the one over max_facts, is recorded; the rest run on a fresh channel.
      if (end.kind === 'watchdog' || end.kind === 'too-many-facts') continue;
      if (end.kind === 'cap') { trouble = { code: 'OUTPUT_CAP', message: `output over max_output (${task.ssh.maxOutputBytes} bytes): cut` }; break; }
      if (end.kind === 'open-failed') { trouble = { code: 'CHANNEL', message: end.message }; break; }
      trouble = { code: 'DISCONNECTED', message: end.message };
      break;
    }
    for (const s of steps) {
      if (results.has(s.index)) continue;
      if (aborted) results.set(s.index, { type: s.def.type, status: 'timeout', message: endMessage, durationMs: 0 });
      else if (trouble) results.set(s.index, { type: s.def.type, status: trouble.code === 'OUTPUT_CAP' ? 'skipped' : 'failed', message: trouble.message, durationMs: 0 });
    }
    // A collection over max_facts makes the host partial the way the output cap does.
    const capped = [...results.values()].find((r) => r.code === 'FACT_CAP');
    if (!trouble && capped) trouble = { code: 'FACT_CAP', message: `${capped.type}: ${capped.message}` };
    const ok = [...results.values()].filter((r) => r.status === 'ok').length;
    if (aborted) {
      return endCode === 'HOST_TIMEOUT' && ok > 0 ? finish('partial', endCode, endMessage, learned) : finish('timeout', endCode, endMessage, learned);
    }
    if (ok === steps.length) return finish('ok', undefined, undefined, learned);
    const failed = steps.length - ok;
    if (ok > 0) {
      return finish('partial', trouble?.code, trouble?.message ?? `${failed} of ${steps.length} collections failed`, learned);
    }
    if (trouble) return finish('error', trouble.code, trouble.message, learned);
    const first = [...results.values()].find((r) => r.status !== 'ok');
    return finish('error', 'COMMANDS_FAILED', `all ${steps.length} collections failed (first: ${first?.type}: ${first?.message})`, learned);
  } finally {
    clearTimeout(timer);
    client?.end();
  }
}
