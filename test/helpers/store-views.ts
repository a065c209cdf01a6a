// Small views over the public Store interface that store tests compare against: every host's last
// attempt, one host's current facts, the newest run. Read through the same methods the CLI uses.
import type { Store } from '../../src/store/store.js';

export interface HostState {
  name: string;
  isProd: boolean;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastOutcome: string | null;
  lastCode: string | null;
  lastMessage: string | null;
}

export async function hostStates(store: Store): Promise<HostState[]> {
  return (await store.listHosts()).map((h) => ({
    name: h.name, isProd: h.isProd, lastAttemptAt: h.lastAttemptAt, lastSuccessAt: h.lastSuccessAt,
    lastOutcome: h.lastOutcome, lastCode: h.lastCode, lastMessage: h.lastMessage,
  }));
}

export interface FactRow { type: string; subtype: string; value: string; firstSeen: string; lastSeen: string }

/** The host's current facts (of `type`), by type then subtype; none for a host never stored. */
export async function currentFacts(store: Store, host: string, type?: string): Promise<FactRow[]> {
  const ref = await store.findHost(host);
  if (!ref || ref.name !== host) return [];
  return (await store.hostFacts(ref, type === undefined ? {} : { type }))
    .map((f) => ({ type: f.type, subtype: f.subtype, value: f.value, firstSeen: f.firstSeen, lastSeen: f.lastSeen }));
}

export interface RunRow { id: number; mode: string; startedAt: string; finishedAt: string | null; exitCode: number | null; summary: string | null }

/** The newest run of any mode, its summary as the stored text. */
export async function lastRun(store: Store): Promise<RunRow | undefined> {
  const runs = (await store.lastRuns()).flatMap((m) => [...(m.lastFinished ? [m.lastFinished] : []), ...m.unfinished]);
  const r = runs.sort((a, b) => b.id - a.id)[0];
  return r && {
    id: r.id, mode: r.mode, startedAt: r.startedAt, finishedAt: r.finishedAt, exitCode: r.exitCode,
    summary: r.summary === null ? null : JSON.stringify(r.summary),
  };
}
