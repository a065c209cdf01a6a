// The frame decoder against a host that sends a marker and then never a newline: what it holds
// stays under a marker line, whatever comes after, and the work stays linear in the input.
import t from 'tap';
import { FrameReader, MAX_MARKER_LINE } from '../src/collections/frames.js';

const NONCE = '0123456789abcdef';
const BEGIN = `@@${NONCE} B `;
const END = `\n@@${NONCE} E `;
const TOTAL = 50 * 1024 * 1024;
const CHUNK = Buffer.alloc(32 * 1024, 'x');

interface Seen { events: string[]; dataBytes: number; maxHeld: number }

function feed(prefix: string, suffix = ''): Seen & { ms: number } {
  const seen: Seen = { events: [], dataBytes: 0, maxHeld: 0 };
  const r = new FrameReader(NONCE, {
    begin: (i) => { seen.events.push(`begin ${i}`); },
    data: (_i, c) => { seen.dataBytes += c.length; },
    end: (i, code) => { seen.events.push(`end ${i} ${code}`); },
  });
  const started = process.hrtime.bigint();
  r.push(Buffer.from(prefix));
  for (let sent = 0; sent < TOTAL; sent += CHUNK.length) {
    r.push(CHUNK);
    seen.maxHeld = Math.max(seen.maxHeld, r.held);
  }
  if (suffix) r.push(Buffer.from(suffix));
  return { ...seen, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

t.test('a begin marker and then 50 MB without a newline: malformed, skipped, nothing piles up', async (t) => {
  const got = feed(BEGIN, `\n${BEGIN}0\nvalue${END}0 0\n`);
  t.ok(got.maxHeld <= MAX_MARKER_LINE, `held at most ${got.maxHeld} bytes (cap ${MAX_MARKER_LINE})`);
  t.same(got.events, ['begin 0', 'end 0 0'], 'the overlong begin line never opened a step; a good frame after it still decodes');
  t.equal(got.dataBytes, 'value'.length);
  // Generous: linear work on 50 MB is well under a second; the quadratic decoder took minutes.
  t.ok(got.ms < 20_000, `50 MB decoded in ${Math.round(got.ms)} ms`);
});

t.test('an end marker and then 50 MB without a newline: the step ends malformed (255), the rest is noise', async (t) => {
  const got = feed(`${BEGIN}3\nsome output${END}`);
  t.ok(got.maxHeld <= MAX_MARKER_LINE, `held at most ${got.maxHeld} bytes (cap ${MAX_MARKER_LINE})`);
  t.same(got.events, ['begin 3', 'end 3 255']);
  t.equal(got.dataBytes, 'some output'.length, 'the bytes after the malformed marker are no step\'s output');
  t.ok(got.ms < 20_000, `50 MB decoded in ${Math.round(got.ms)} ms`);
});

t.test('a marker line just under the cap still decodes, split anywhere', async (t) => {
  // Both marker lines exactly MAX_MARKER_LINE bytes long, newline included (leading zeros pad the index).
  const begin = `${BEGIN}${'7'.padStart(MAX_MARKER_LINE - BEGIN.length - 1, '0')}\n`;
  const end = `${END}${'7 0'.padStart(MAX_MARKER_LINE - END.length - 1, '0')}\n`;
  const text = Buffer.from(`${begin}v${end}`);
  for (const size of [1, 5, text.length]) {
    const events: string[] = [];
    const r = new FrameReader(NONCE, { begin: (i) => events.push(`begin ${i}`), data: () => {}, end: (i, c) => events.push(`end ${i} ${c}`) });
    for (let at = 0; at < text.length; at += size) r.push(text.subarray(at, at + size));
    t.same(events, ['begin 7', 'end 7 0'], `chunks of ${size}`);
    t.equal(r.held, 0);
  }
});
