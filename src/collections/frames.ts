// Streaming decoder for the framed stdout of the collection script (format in script.ts).
// Works on bytes: output may be binary, invalid UTF-8 or huge, and chunks split markers anywhere.

export interface FrameHandler {
  begin(index: number): void;
  data(index: number, chunk: Buffer): void;
  end(index: number, exitCode: number): void;
}

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

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.current === undefined) {
        const at = this.pending.indexOf(this.beginMark);
        if (at < 0) {
          // Nothing but noise before a begin marker (a chatty rc file): keep only a possible marker prefix.
          this.pending = this.pending.subarray(Math.max(0, this.pending.length - this.beginMark.length));
          return;
        }
        const nl = this.pending.indexOf(0x0a, at + this.beginMark.length);
        if (nl < 0) { this.pending = this.pending.subarray(at); return; }
        const index = Number(this.pending.subarray(at + this.beginMark.length, nl).toString('latin1'));
        this.pending = this.pending.subarray(nl + 1);
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
        const nl = this.pending.indexOf(0x0a, at + this.endMark.length);
        if (nl < 0) {
          if (at > 0) this.handler.data(this.current, this.pending.subarray(0, at));
          this.pending = this.pending.subarray(at);
          return;
        }
        if (at > 0) this.handler.data(this.current, this.pending.subarray(0, at));
        const [idxText = '', codeText = ''] = this.pending.subarray(at + this.endMark.length, nl).toString('latin1').split(' ');
        this.pending = this.pending.subarray(nl + 1);
        const index = this.current;
        this.current = undefined;
        const code = Number(codeText);
        this.handler.end(index, Number(idxText) === index && Number.isInteger(code) ? code : 255);
      }
    }
  }
}
