// Streaming decoder for the framed stdout of the collection script (format in script.ts).
// Works on bytes: output may be binary, invalid UTF-8 or huge, and chunks split markers anywhere.
// What it holds between pushes stays under MAX_MARKER_LINE + a marker: a step's output goes to
// the handler as it comes, noise outside steps is dropped, and a marker line is at most
// MAX_MARKER_LINE bytes (a longer one is malformed), so a host cannot make it buffer without
// bound, and each byte is scanned a bounded number of times (linear in the output).

export interface FrameHandler {
  begin(index: number): void;
  data(index: number, chunk: Buffer): void;
  /** exitCode 255 when the end marker was malformed (wrong index, unreadable code, too long) */
  end(index: number, exitCode: number): void;
}

/** The longest marker line, from its `@@` (or the newline before an end marker) to its newline. */
export const MAX_MARKER_LINE = 64;

/** Exit code reported for a step whose end marker is malformed. */
const MALFORMED_END = 255;

export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private current: number | undefined;
  private readonly beginMark: Buffer;
  private readonly endMark: Buffer;

  constructor(nonce: string, private readonly handler: FrameHandler) {
    this.beginMark = Buffer.from(`@@${nonce} B `);
    this.endMark = Buffer.from(`\n@@${nonce} E `);
  }

  /** The step whose output is being read, if any. */
  get inStep(): number | undefined {
    return this.current;
  }

  /** Bytes held back for the next push (a possible marker or an unfinished marker line). */
  get held(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.current === undefined) {
        const at = this.pending.indexOf(this.beginMark);
        if (at < 0) {
          // Nothing but noise before a begin marker (a chatty rc file): keep only a possible marker prefix.
          this.pending = this.pending.subarray(Math.max(0, this.pending.length - this.beginMark.length + 1));
          return;
        }
        const line = this.markerLine(at, this.beginMark.length);
        if (line === 'wait') { this.pending = this.pending.subarray(at); return; }
        if (line === 'malformed') { this.pending = this.pending.subarray(at + this.beginMark.length); continue; }
        const index = Number(line.text);
        this.pending = this.pending.subarray(line.next);
        if (!Number.isInteger(index)) continue;
        this.current = index;
        this.handler.begin(index);
      } else {
        const at = this.pending.indexOf(this.endMark);
        if (at < 0) {
          // Hand over all but a tail that could be the start of the end marker.
          const keep = Math.min(this.pending.length, this.endMark.length - 1);
          const out = this.pending.subarray(0, this.pending.length - keep);
          if (out.length) this.handler.data(this.current, out);
          this.pending = this.pending.subarray(this.pending.length - keep);
          return;
        }
        if (at > 0) this.handler.data(this.current, this.pending.subarray(0, at));
        this.pending = this.pending.subarray(at);
        const line = this.markerLine(0, this.endMark.length);
        if (line === 'wait') return;
        const index = this.current;
        this.current = undefined;
        if (line === 'malformed') {
          // What follows is no step's output: read on as noise, looking for the next begin marker.
          this.pending = this.pending.subarray(this.endMark.length);
          this.handler.end(index, MALFORMED_END);
          continue;
        }
        const [idxText = '', codeText = ''] = line.text.split(' ');
        this.pending = this.pending.subarray(line.next);
        const code = Number(codeText);
        this.handler.end(index, Number(idxText) === index && Number.isInteger(code) ? code : MALFORMED_END);
      }
    }
  }

  /**
   * The rest of the marker line starting at `at` (its marker `markLen` bytes long): its text and
   * where the next line starts; 'wait' while it may still end within MAX_MARKER_LINE bytes.
   */
  private markerLine(at: number, markLen: number): { text: string; next: number } | 'wait' | 'malformed' {
    const window = this.pending.subarray(at, at + MAX_MARKER_LINE);
    const nl = window.indexOf(0x0a, markLen);
    if (nl < 0) return window.length < MAX_MARKER_LINE ? 'wait' : 'malformed';
    return { text: window.subarray(markLen, nl).toString('latin1'), next: at + nl + 1 };
  }
}
