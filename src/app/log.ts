// Everything human goes to stderr; stdout is for JSON (or a read command's table) only.
// In cron (no TTY) only warnings and errors are printed; -V adds one line per host event;
// a TTY gets an ora spinner with done/total, ok, failed, in flight and ETA.
import type { Ora } from 'ora';
import { cell } from '../report/table.js';

export interface Progress {
  done: number;
  total: number;
  ok: number;
  failed: number;
  inFlight: number;
  startedAt: number;
}

/** One line on stderr outside a run's Log (the read commands, ingest, top-level errors), escaped. */
export function printError(line: string): void {
  process.stderr.write(cell(line) + '\n');
}

export class Log {
  private spinner: Ora | undefined;
  /** bumped by stopProgress: a spinner whose module loads after that is never started */
  private generation = 0;
  /** the newest progress line, kept while the spinner loads */
  private text = 'starting';
  private wanted = false;

  constructor(readonly verboseOn: boolean, private readonly stream: NodeJS.WriteStream = process.stderr) {}

  private write(line: string): void {
    if (this.spinner?.isSpinning) this.spinner.clear();
    this.stream.write(cell(line) + '\n');
    if (this.spinner?.isSpinning) this.spinner.render();
  }

  warn(msg: string): void { this.write(`jellyfish: warning: ${msg}`); }
  error(msg: string): void { this.write(`jellyfish: error: ${msg}`); }
  verbose(msg: string): void { if (this.verboseOn) this.write(msg); }

  /** Only on a real terminal: a TTY of width 0 makes ora loop forever, and CI logs want no escapes. */
  startProgress(): void {
    const s = this.stream;
    if (!s.isTTY || !(s.columns > 0) || process.env.CI) return;
    // https://no-color.org: a non-empty NO_COLOR turns colour off (log lines never have any).
    const noColor = Boolean(process.env.NO_COLOR);
    // ora loads only here, on a terminal: cron and every read command start without it.
    const mine = ++this.generation;
    this.wanted = true;
    void import('ora').then(({ default: ora }) => {
      if (mine !== this.generation || this.spinner) return;
      this.spinner = ora({ stream: s, text: this.text, color: noColor ? false : 'cyan' }).start();
    }, () => { /* no spinner is no loss */ });
  }

  progress(p: Progress): void {
    if (!this.wanted) return;
    const elapsed = (Date.now() - p.startedAt) / 1000;
    const rate = p.done / Math.max(elapsed, 0.001);
    const eta = p.done > 0 && p.total > p.done ? `${Math.ceil((p.total - p.done) / rate)}s` : '-';
    this.text = `${p.done}/${p.total} hosts, ${p.ok} ok, ${p.failed} failed, ${p.inFlight} in flight, ETA ${eta}`;
    if (this.spinner) this.spinner.text = this.text;
  }

  stopProgress(): void {
    this.generation += 1;
    this.wanted = false;
    this.spinner?.stop();
    this.spinner = undefined;
  }
}
