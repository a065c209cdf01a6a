// Runs a set of collection steps over one exec channel of an open connection and reads the
// framed output back, with a client-side watchdog per step and the per-host output cap.
import crypto from 'node:crypto';
import type { Client, ClientChannel } from 'ssh2';
import { FrameReader } from '../collections/frames.js';
import { buildScript, KILL_GRACE_SECONDS, SCRIPT_COMMAND, type ScriptStep } from '../collections/script.js';

export interface StepOutput {
  index: number;
  /** 'ended': the end marker arrived with exitCode; 'watchdog': no end in time; 'cut': the output cap hit */
  how: 'ended' | 'watchdog' | 'cut';
  exitCode?: number;
  output: Buffer;
  durationMs: number;
}

export type ScriptEnd =
  | { kind: 'complete' }
  | { kind: 'watchdog'; index: number }
  | { kind: 'cap' }
  | { kind: 'closed'; message: string }
  | { kind: 'open-failed'; message: string };

export interface OutputBudget {
  used: number;
  max: number;
}

/**
 * Slack on top of a step's own timeout before the client gives up on it: the host's `timeout -k`
 * should end the command first (TERM at the limit, KILL after KILL_GRACE_SECONDS); the client only
 * steps in on hosts without `timeout` or when the host ignores both.
 */
const WATCHDOG_SLACK_MS = KILL_GRACE_SECONDS * 1000 + 3000;

export function runScript(
  client: Client,
  steps: ScriptStep[],
  budget: OutputBudget,
  onStep: (s: StepOutput) => void,
): Promise<ScriptEnd> {
  const nonce = crypto.randomBytes(8).toString('hex');
  const byIndex = new Map(steps.map((s) => [s.index, s]));
  const remaining = new Set(steps.map((s) => s.index));
  return new Promise((resolve) => {
    let channel: ClientChannel | undefined;
    let settled = false;
    let watchdog: NodeJS.Timeout | undefined;
    let chunks: Buffer[] = [];
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
        stepStart = Date.now();
        chunks = [];
        const step = byIndex.get(index);
        if (!step) return;
        watchdog = setTimeout(() => {
          remaining.delete(index);
          onStep({ index, how: 'watchdog', output: Buffer.concat(chunks), durationMs: Date.now() - stepStart });
          settle({ kind: 'watchdog', index });
        }, step.def.timeoutMs + WATCHDOG_SLACK_MS);
      },
      data(_index, chunk) {
        chunks.push(chunk);
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
