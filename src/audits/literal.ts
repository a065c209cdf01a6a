// A safe reader of Python literals, for the INI audit files the old generators wrote (their
// values went through Python's ast.literal_eval): strings in any quoting with their escapes
// (adjacent strings joined), integers and floats, True/False/None, lists, tuples and dicts.
// Nothing is ever evaluated; anything else is an error naming the column. Hand-written: no
// package reads Python literals, and the grammar needed is small.

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

export class LiteralError extends Error {
  /** 0-based offset in the text where the problem is */
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** Nesting deeper than this is refused (a hostile file must not overflow the stack). */
const MAX_DEPTH = 64;

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
};

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new LiteralError(message, at);
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.pos++;
      else if (c === '\\' && this.text[this.pos + 1] === '\n') this.pos += 2;
      else break;
    }
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('a value was expected, the text ended');
    if (c === '{') return this.dict(depth);
    if (c === '[') return this.sequence(']', depth);
    if (c === '(') return this.sequence(')', depth);
    if (c === '"' || c === "'" || /[rRuUbB]/.test(c) && /["']/.test(this.text[this.pos + 1] ?? '') || /[rRbB]/.test(c) && /[rRbB]/.test(this.text[this.pos + 1] ?? '') && /["']/.test(this.text[this.pos + 2] ?? '')) {
      return this.strings();
    }
    if (/[-+0-9.]/.test(c)) return this.number();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos))?.[0];
    if (word === 'True') { this.pos += 4; return true; }
    if (word === 'False') { this.pos += 5; return false; }
    if (word === 'None') { this.pos += 4; return null; }
    if (word) this.fail(`${word} is not a literal (only strings, numbers, True, False, None, lists, tuples and dicts are read)`);
    return this.fail(`unexpected ${JSON.stringify(c)}`);
  }

  dict(depth: number): { [key: string]: PyValue } {
    const open = this.pos;
    this.pos++;
    const out: { [key: string]: PyValue } = Object.create(null) as { [key: string]: PyValue };
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') { this.pos++; return { ...out }; }
      const keyAt = this.pos;
      const key = this.value(depth + 1);
      if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean' && key !== null) this.fail('a dict key must be a string or a number', keyAt);
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail(`":" expected after the dict key ${JSON.stringify(key)}`);
      this.pos++;
      out[String(key)] = this.value(depth + 1);
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') { this.pos++; continue; }
      if (c === '}') { this.pos++; return { ...out }; }
      if (c === undefined) this.fail('the dict opened here is never closed', open);
      this.fail(`"," or "}" expected in the dict, found ${JSON.stringify(c)}`);
    }
  }

  sequence(close: string, depth: number): PyValue[] {
    const open = this.pos;
    this.pos++;
    const out: PyValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) { this.pos++; return out; }
      out.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') { this.pos++; continue; }
      if (c === close) { this.pos++; return out; }
      if (c === undefined) this.fail(`the ${close === ']' ? 'list' : 'tuple'} opened here is never closed`, open);
      this.fail(`"," or "${close}" expected, found ${JSON.stringify(c)}`);
    }
  }

  /** One string literal or several adjacent ones (Python joins them). */
  strings(): string {
    let s = this.string();
    for (;;) {
      const save = this.pos;
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === '"' || c === "'" || (c !== undefined && /[rRuUbB]/.test(c) && /["'rRbB]/.test(this.text[this.pos + 1] ?? ''))) s += this.string();
      else { this.pos = save; return s; }
    }
  }

  string(): string {
    const start = this.pos;
    let raw = false;
    while (/[rRuUbB]/.test(this.text[this.pos] ?? '')) {
      if (/[rR]/.test(this.text[this.pos]!)) raw = true;
      this.pos++;
    }
    const q = this.text[this.pos];
    if (q !== '"' && q !== "'") this.fail('a string was expected');
    const triple = this.text.startsWith(q.repeat(3), this.pos);
    const quote = triple ? q.repeat(3) : q;
    this.pos += quote.length;
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) this.fail('the string that starts here is never closed', start);
      if (this.text.startsWith(quote, this.pos)) { this.pos += quote.length; return out; }
      const c = this.text[this.pos]!;
      if (c === '\n' && !triple) this.fail('a line break inside a single-quoted string', start);
      if (c !== '\\') { out += c; this.pos++; continue; }
      const n = this.text[this.pos + 1];
      if (n === undefined) this.fail('the string that starts here is never closed', start);
      if (raw) { out += c + n; this.pos += 2; continue; }
      this.pos += 2;
      if (n === '\n') continue;
      const simple = SIMPLE_ESCAPES[n];
      if (simple !== undefined) { out += simple; continue; }
      if (n === 'x') { out += this.hexEscape(2); continue; }
      if (n === 'u') { out += this.hexEscape(4); continue; }
      if (n === 'U') { out += this.hexEscape(8); continue; }
      if (/[0-7]/.test(n)) {
        let digits = n;
        while (digits.length < 3 && /[0-7]/.test(this.text[this.pos] ?? '')) digits += this.text[this.pos++];
        out += String.fromCharCode(parseInt(digits, 8));
        continue;
      }
      // Python keeps an unknown escape as written.
      out += c + n;
    }
  }

  hexEscape(len: number): string {
    const hex = this.text.slice(this.pos, this.pos + len);
    if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail(`a \\${len === 2 ? 'x' : len === 4 ? 'u' : 'U'} escape needs ${len} hex digits`, this.pos - 2);
    this.pos += len;
    const code = parseInt(hex, 16);
    if (code > 0x10ffff) this.fail('an escape beyond U+10FFFF', this.pos - len - 2);
    return String.fromCodePoint(code);
  }

  number(): number {
    const m = /^[-+]?\s*(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(\d[\d_]*)?\.?\d*[\d_]*(?:[eE][-+]?\d+)?)/.exec(this.text.slice(this.pos));
    const text = m?.[0] ?? '';
    const body = text.replace(/[\s_]/g, '');
    const sign = body.startsWith('-') ? -1 : 1;
    const digits = body.replace(/^[-+]/, '');
    let n: number;
    if (/^0[xX]/.test(digits)) n = parseInt(digits.slice(2), 16);
    else if (/^0[oO]/.test(digits)) n = parseInt(digits.slice(2), 8);
    else if (/^0[bB]/.test(digits)) n = parseInt(digits.slice(2), 2);
    else n = digits === '' || digits === '.' ? NaN : Number(digits);
    if (!Number.isFinite(n)) this.fail('not a number');
    this.pos += text.length;
    return sign * n;
  }
}

/** The one literal in `text` (surrounding whitespace allowed); LiteralError otherwise. */
export function parsePythonLiteral(text: string): PyValue {
  const r = new Reader(text);
  const v = r.value(0);
  r.skipSpace();
  if (r.pos < text.length) r.fail(`unexpected text after the value: ${JSON.stringify(text.slice(r.pos, r.pos + 20))}`);
  return v;
}
