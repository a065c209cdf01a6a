// Runs a set of collection steps over one exec channel of an open connection and reads the
// framed output back, with a client-side watchdog per step and the per-host output cap.
import crypto from 'node:crypto';
import type { Client, ClientChannel } from 'ssh2';
import { FrameReader } from '../collections/frames.js';
import { parseBytes } from '../collections/parse.js';
import { buildScript, KILL_GRACE_SECONDS, SCRIPT_COMMAND, type ScriptStep } from '../collections/script.js';

export interface StepOutput {
  index: number;
  /**
   * 'ended': the end marker arrived with exitCode; 'watchdog': no end in time; 'cut': the output
   * cap hit; 'too-many-facts': more than max_facts facts (its output is dropped)
   */
  how: 'ended' | 'watchdog' | 'cut' | 'too-many-facts';
  exitCode?: number;
  output: Buffer;
  durationMs: number;
}

export type ScriptEnd =
  | { kind: 'complete' }
  | { kind: 'watchdog'; index: number }
  | { kind: 'too-many-facts'; index: number }
  | { kind: 'cap' }
  | { kind: 'closed'; message: string }
  | { kind: 'open-failed'; message: string };

export interface OutputBudget {
  used: number;
  max: number;
}

export interface ScriptLimits {
  /** max_output, shared by every channel of the host */
  budget: OutputBudget;
  /** max_facts: facts one collection may yield */
  maxFacts: number;
}

/**
 * Slack on top of a step's own timeout before the client gives up on it: the host's `timeout -k`
 * should end the command first (TERM at the limit, KILL after KILL_GRACE_SECONDS); the client only
 * steps in on hosts without `timeout` or when the host ignores both.
 */
const WATCHDOG_SLACK_MS = KILL_GRACE_SECONDS * 1000 + 3000;

function countNewlines(b: Buffer): number {
  let n = 0;
  for (let at = b.indexOf(0x0a); at >= 0; at = b.indexOf(0x0a, at + 1)) n += 1;
  return n;
}

export function runScript(
  client: Client,
  steps: ScriptStep[],
  limits: ScriptLimits,
  onStep: (s: StepOutput) => void,
): Promise<ScriptEnd> {
  const { budget, maxFacts } = limits;
  const nonce = crypto.randomBytes(8).toString('hex');
  const byIndex = new Map(steps.map((s) => [s.index, s]));
  const remaining = new Set(steps.map((s) => s.index));
  return new Promise((resolve) => {
    let channel: ClientChannel | undefined;
    let settled = false;
    let watchdog: NodeJS.Timeout | undefined;
    let chunks: Buffer[] = [];
    /** Newlines in the step's output so far, and the count at which its facts are next counted. */
    let lines = 0;
    let checkAt = 0;
    let stepStart = 0;
    const settle = (end: ScriptEnd) => {
      if (settled) return;
      settled = true;
      if (watchdog) clearTimeout(watchdog);
      if (end.kind !== 'complete' && channel) {
        try { channel.signal('KILL'); } catch { /* not every server accepts signals */ }
        try { channel.close(); } catch { /* already closed */ }
      }
      resolve(end);
    };
    /** The output cap hit: the step being read ends with what came so far, the rest do not run. */
    const cut = () => {
      const index = reader.inStep;
      if (index !== undefined && remaining.delete(index)) {
        onStep({ index, how: 'cut', output: Buffer.concat(chunks), durationMs: Date.now() - stepStart });
      }
      settle({ kind: 'cap' });
    };
    const reader = new FrameReader(nonce, {
      begin(index) {
        if (settled) return;
        stepStart = Date.now();
        chunks = [];
        lines = 0;
        checkAt = maxFacts;
        const step = byIndex.get(index);
        if (!step) return;
        watchdog = setTimeout(() => {
          remaining.delete(index);
          onStep({ index, how: 'watchdog', output: Buffer.concat(chunks), durationMs: Date.now() - stepStart });
          settle({ kind: 'watchdog', index });
        }, step.def.timeoutMs + WATCHDOG_SLACK_MS);
      },
      data(index, chunk) {
        if (settled) return;
        chunks.push(chunk);
        const def = byIndex.get(index)?.def;
        if (!def?.multi) return;
        lines += countNewlines(chunk);
        // Each fact has a line of its own, so only past max_facts lines can there be too many:
        // counted then, and again at each doubling of the lines (linear work in all). A host
        // answering millions of facts is stopped there, its output no longer held.
        if (lines <= checkAt) return;
        const output = Buffer.concat(chunks);
        chunks = [output];
        if (parseBytes(def, output, maxFacts)) { checkAt = 2 * lines; return; }
        // Over: the step's output is not wanted, so its channel goes and the rest run on a fresh one.
        if (watchdog) clearTimeout(watchdog);
        remaining.delete(index);
        onStep({ index, how: 'too-many-facts', output: Buffer.alloc(0), durationMs: Date.now() - stepStart });
        settle({ kind: 'too-many-facts', index });
      },
      end(index, exitCode) {
        if (watchdog) clearTimeout(watchdog);
        watchdog = undefined;
        if (settled || !remaining.delete(index)) return;
        onStep({ index, how: 'ended', exitCode, output: Buffer.concat(chunks), durationMs: Date.now() - stepStart });
        chunks = [];
      },
    });
    const onOpen = (err: Error | undefined, ch: ClientChannel) => {
      if (err) {
        settle({ kind: 'open-failed', message: `the server refused the exec channel: ${err.message}` });
        return;
      }
      channel = ch;
      ch.on('data', (d: Buffer) => {
        if (settled) return;
        // Every byte the host sends counts, markers and noise between frames included.
        const room = budget.max - budget.used;
        budget.used += Math.min(d.length, room);
        reader.push(d.length > room ? d.subarray(0, room) : d);
        if (d.length > room && !settled) cut();
      });
      // stderr of the script itself (not of the collections, which go to /dev/null) is not facts.
      ch.stderr.on('data', () => {});
      ch.on('error', () => {});
      ch.on('close', () => {
        if (remaining.size === 0) settle({ kind: 'complete' });
        else settle({ kind: 'closed', message: `the channel closed with ${remaining.size} collection(s) unfinished` });
      });
    };
    try {
      // The script goes on stdin, never on the command line: a host's process list (ps, /proc)
      // shows every user the command line, and with it the nonce that makes frames unforgeable.
      client.exec(SCRIPT_COMMAND, (err, ch) => {
        onOpen(err, ch);
        if (!err) ch.end(buildScript(nonce, steps));
      });
    } catch (e) {
      settle({ kind: 'closed', message: `the connection is gone: ${(e as Error).message}` });
    }
  });
}
