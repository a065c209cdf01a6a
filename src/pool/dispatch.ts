// The main thread's feeder: walks the ordered list, keeps at most `threads` items in flight,
// stops feeding at the deadline and writes off whatever is still out after a grace period (or at
// once on interrupt), so every item ends with exactly one result, however its thread behaves.

const MAX_TIMER_MS = 2 ** 31 - 1;
/** An item started this close to the deadline could not finish anyway: it is left not-started. */
const LAST_START_MARGIN_MS = 100;

export type WriteOffReason = 'DEADLINE' | 'INTERRUPTED';

export interface DispatchOptions<T, R> {
  items: T[];
  key: (item: T) => string;
  threads: number;
  /** epoch ms: no item starts after this; items in flight are expected to stop themselves here */
  deadlineAt: number;
  /** how long after the deadline to wait for in-flight items to report before writing them off */
  graceMs: number;
  run: (item: T) => Promise<R>;
  onResult: (result: R, item: T) => void;
  writeOff: (item: T, reason: WriteOffReason) => R;
  onDeadline?: (notStarted: number, inFlight: number) => void;
  /** while true, no new item starts (the results already in are waiting to be written); `resume()` when it turns false */
  hold?: () => boolean;
}

export interface DispatchEnd {
  deadlineHit: boolean;
  started: number;
}

export interface Dispatch {
  done: Promise<DispatchEnd>;
  /** stop feeding and write off everything in flight now (signals, lost lock, storage failure) */
  interrupt(): void;
  inFlight(): number;
  /** start items again after `hold` turned false */
  resume(): void;
}

export function dispatch<T, R>(o: DispatchOptions<T, R>): Dispatch {
  const inFlight = new Map<string, T>();
  let next = 0;
  let deadlineHit = false;
  let interrupted = false;
  let finished = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (e: DispatchEnd) => void;
  const done = new Promise<DispatchEnd>((r) => { resolveDone = r; });

  const end = () => {
    if (finished) return;
    finished = true;
    clearTimeout(deadlineTimer);
    if (graceTimer) clearTimeout(graceTimer);
    resolveDone({ deadlineHit, started: next });
  };
  const writeOffAll = (reason: WriteOffReason) => {
    for (const [k, item] of [...inFlight]) {
      inFlight.delete(k);
      o.onResult(o.writeOff(item, reason), item);
    }
  };
  const pump = () => {
    if (finished) return;
    // Hosts stop themselves at the deadline on their own timers, which may fire a moment before
    // ours: never start an item in that last moment only to write it off at once.
    if (!deadlineHit && Date.now() >= o.deadlineAt - LAST_START_MARGIN_MS && next < o.items.length) {
      clearTimeout(deadlineTimer);
      onDeadlineTimer(true);
      return;
    }
    while (!deadlineHit && !interrupted && inFlight.size < o.threads && next < o.items.length && !o.hold?.()) {
      const item = o.items[next++] as T;
      const k = o.key(item);
      inFlight.set(k, item);
      o.run(item).then(
        (r) => {
          if (inFlight.get(k) !== item) return; // already written off
          inFlight.delete(k);
          o.onResult(r, item);
          pump();
        },
        () => {
          if (inFlight.get(k) !== item) return;
          inFlight.delete(k);
          o.onResult(o.writeOff(item, 'INTERRUPTED'), item);
          pump();
        },
      );
    }
    if (inFlight.size === 0 && (deadlineHit || interrupted || next >= o.items.length)) end();
  };
  const onDeadlineTimer = (early = false) => {
    if (finished || deadlineHit) return;
    // setTimeout holds at most ~24.8 days; a longer limit re-arms until it is really due.
    const left = o.deadlineAt - Date.now();
    if (left > 0 && !early) { deadlineTimer = setTimeout(() => onDeadlineTimer(), Math.min(left, MAX_TIMER_MS)); return; }
    deadlineHit = true;
    o.onDeadline?.(o.items.length - next, inFlight.size);
    graceTimer = setTimeout(() => { writeOffAll('DEADLINE'); end(); }, o.graceMs);
    pump();
  };
  let deadlineTimer = setTimeout(() => onDeadlineTimer(), Math.min(Math.max(0, o.deadlineAt - Date.now()), MAX_TIMER_MS));

  queueMicrotask(pump);
  return {
    done,
    interrupt() {
      if (finished || interrupted) return;
      interrupted = true;
      writeOffAll('INTERRUPTED');
      end();
    },
    inFlight: () => inFlight.size,
    resume: () => pump(),
  };
}
