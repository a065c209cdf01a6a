// A JSON object read member by member from a byte stream: `{ "k1": V1, "k2": V2 }` -> (k1, bytes
// of V1), (k2, bytes of V2), ... so a 100 MB feed keyed at the top (Debian's tracker JSON: source
// package -> CVEs) never sits in memory whole, and one bad member is one bad entry, not a dead feed.
// Only the top level is scanned here; each member's value is handed over as bytes for JSON.parse.
// Structure is ASCII, so scanning bytes is safe in UTF-8.

/** The input is not a JSON object at the top (where the scan cannot go on). */
export class MemberScanError extends Error {
  constructor(message: string, readonly line: number) { super(message); }
}

export interface Member { key: string; value: Buffer; line: number }

type State = 'start' | 'first-key' | 'key' | 'in-key' | 'colon' | 'value-start' | 'value' | 'done';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

export class MemberScanner {
  private state: State = 'start';
  private line = 1;
  private keyParts: Buffer[] = [];
  private key = '';
  private valueParts: Buffer[] = [];
  private valueBytes = 0;
  private valueLine = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Bytes seen so far: a UTF-8 BOM is skipped only as the input's first three bytes. */
  private offset = 0;

  /** @param maxMember the largest member value accepted, in bytes (a bound on memory). */
  constructor(private readonly maxMember: number) {}

  /** The members completed by this chunk. */
  push(chunk: Buffer): Member[] {
    const out: Member[] = [];
    let valueFrom = this.state === 'value' ? 0 : -1;
    let keyFrom = this.state === 'in-key' ? 0 : -1;
    const start = this.offset;
    this.offset += chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === NEWLINE) this.line += 1;
      switch (this.state) {
        case 'start':
          if (isSpace(b) || (start + i < 3 && b === [0xef, 0xbb, 0xbf][start + i])) continue;
          if (b !== 0x7b) throw new MemberScanError(`expected a JSON object ({) at the top, found ${describe(b)}`, this.line);
          this.state = 'first-key';
          continue;
        case 'first-key':
        case 'key':
          if (isSpace(b)) continue;
          if (b === 0x7d && this.state === 'first-key') { this.state = 'done'; continue; }
          if (b !== QUOTE) throw new MemberScanError(`expected a member name (a string), found ${describe(b)}`, this.line);
          this.state = 'in-key';
          this.keyParts = [];
          this.escaped = false;
          keyFrom = i + 1;
          continue;
        case 'in-key':
          if (this.escaped) { this.escaped = false; continue; }
          if (b === BACKSLASH) { this.escaped = true; continue; }
          if (b !== QUOTE) continue;
          this.keyParts.push(chunk.subarray(keyFrom, i));
          keyFrom = -1;
          this.key = decodeKey(Buffer.concat(this.keyParts), this.line);
          this.state = 'colon';
          continue;
        case 'colon':
          if (isSpace(b)) continue;
          if (b !== 0x3a) throw new MemberScanError(`expected ':' after the member name ${JSON.stringify(this.key)}, found ${describe(b)}`, this.line);
          this.state = 'value-start';
          continue;
        case 'value-start':
          if (isSpace(b)) continue;
          this.state = 'value';
          this.valueParts = [];
          this.valueBytes = 0;
          this.valueLine = this.line;
          this.depth = 0;
          this.inString = false;
          this.escaped = false;
          valueFrom = i;
          i -= 1; // scan this byte again as part of the value (never a newline: spaces were skipped)
          continue;
        case 'value':
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (b === BACKSLASH) this.escaped = true;
            else if (b === QUOTE) this.inString = false;
            continue;
          }
          if (b === QUOTE) { this.inString = true; continue; }
          if (b === 0x7b || b === 0x5b) { this.depth += 1; continue; }
          if ((b === 0x7d || b === 0x5d) && this.depth > 0) { this.depth -= 1; continue; }
          if (this.depth === 0 && (b === 0x2c || b === 0x7d)) {
            this.addValue(chunk.subarray(valueFrom, i));
            valueFrom = -1;
            out.push({ key: this.key, value: Buffer.concat(this.valueParts), line: this.valueLine });
            this.valueParts = [];
            this.state = b === 0x2c ? 'key' : 'done';
          }
          continue;
        case 'done':
          if (!isSpace(b)) throw new MemberScanError(`unexpected ${describe(b)} after the end of the top-level object`, this.line);
          continue;
      }
    }
    if (keyFrom >= 0) this.keyParts.push(chunk.subarray(keyFrom));
    if (valueFrom >= 0) this.addValue(chunk.subarray(valueFrom));
    return out;
  }

  /** Call at the end of the input: an object cut short is an error. */
  end(): void {
    if (this.state === 'done') return;
    const where = this.state === 'start' ? 'the input is empty' : this.state === 'value' || this.state === 'value-start' || this.state === 'colon'
      ? `the input ends inside the member ${JSON.stringify(this.key)}` : 'the input ends before the closing }';
    throw new MemberScanError(`${where} (truncated?)`, this.line);
  }

  private addValue(part: Buffer): void {
    this.valueBytes += part.length;
    if (this.valueBytes > this.maxMember) {
      throw new MemberScanError(`the member ${JSON.stringify(this.key)} (from line ${this.valueLine}) is larger than ${Math.round(this.maxMember / 2 ** 20)} MB`, this.line);
    }
    // Copy: the chunk's buffer may be reused by the stream.
    this.valueParts.push(Buffer.from(part));
  }
}

function decodeKey(raw: Buffer, line: number): string {
  try {
    return JSON.parse(`"${raw.toString('utf8')}"`) as string;
  } catch {
    throw new MemberScanError(`a member name is not a valid JSON string: ${JSON.stringify(raw.toString('utf8').slice(0, 80))}`, line);
  }
}

function describe(b: number): string {
  return b >= 0x21 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}
