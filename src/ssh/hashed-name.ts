// HMAC-SHA1 of a short name under one fixed key, for hashed known_hosts lines (`|1|salt|hash`).
// A lookup HMACs the name under every line's salt. Through node:crypto each HMAC is a new object
// and a pass through OpenSSL (~4 µs here); with the key's inner and outer SHA-1 states computed
// once per salt, a name of up to 55 bytes is two SHA-1 blocks (~1.5 µs, bench/known-hosts.mjs).
// Longer names take node:crypto. Compared against node:crypto in test/ssh-units.test.ts.
import crypto from 'node:crypto';

const IV = Int32Array.from([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
const w = new Int32Array(80);
const inner = new Int32Array(5);
const outer = new Int32Array(5);

/** One SHA-1 compression of the 16 words in `w[0..15]`, from `state` into `out`. */
function compress(state: Int32Array, out: Int32Array): void {
  for (let t = 16; t < 80; t++) {
    const x = (w[t - 3] as number) ^ (w[t - 8] as number) ^ (w[t - 14] as number) ^ (w[t - 16] as number);
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = state[0] as number, b = state[1] as number, c = state[2] as number, d = state[3] as number, e = state[4] as number;
  for (let t = 0; t < 80; t++) {
    const f = t < 20 ? ((b & c) | (~b & d)) + 0x5a827999 : t < 40 ? (b ^ c ^ d) + 0x6ed9eba1 : t < 60 ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc : (b ^ c ^ d) + 0xca62c1d6;
    const next = (((a << 5) | (a >>> 27)) + f + e + (w[t] as number)) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = next;
  }
  out[0] = ((state[0] as number) + a) | 0; out[1] = ((state[1] as number) + b) | 0; out[2] = ((state[2] as number) + c) | 0;
  out[3] = ((state[3] as number) + d) | 0; out[4] = ((state[4] as number) + e) | 0;
}

/** The key, zero-padded to one block (HMAC's K0). */
const block = Buffer.alloc(64);

/** SHA-1 state after the block K0 XOR pad. */
function padState(pad: number, state: Int32Array): void {
  for (let j = 0; j < 16; j++) w[j] = block.readInt32BE(4 * j) ^ pad;
  compress(IV, state);
}

export class HashedNames {
  private readonly ipad = new Int32Array(5);
  private readonly opad = new Int32Array(5);

  /** `key`: the line's salt (OpenSSH's are 20 bytes; a key over 64 bytes is hashed first, as HMAC says). */
  constructor(private readonly key: Buffer) {
    block.fill(0);
    (key.length > 64 ? crypto.createHash('sha1').update(key).digest() : key).copy(block);
    padState(0x36363636, this.ipad);
    padState(0x5c5c5c5c, this.opad);
  }

  /** HMAC-SHA1(key, name) as five big-endian words (a shared array, valid until the next call). */
  hash(name: Buffer): Int32Array {
    if (name.length > 55) return words(crypto.createHmac('sha1', this.key).update(name).digest());
    // Inner: the name, 0x80, zeros, the bit length of (64-byte key block + name).
    w.fill(0, 0, 16);
    for (let i = 0; i < name.length; i++) w[i >> 2] = (w[i >> 2] as number) | ((name[i] as number) << (24 - 8 * (i & 3)));
    w[name.length >> 2] = (w[name.length >> 2] as number) | (0x80 << (24 - 8 * (name.length & 3)));
    w[15] = (64 + name.length) * 8;
    compress(this.ipad, inner);
    // Outer: the 20-byte inner digest, 0x80, zeros, the bit length of (64 + 20) bytes.
    w.fill(0, 0, 16);
    w.set(inner, 0);
    w[5] = 0x80000000 | 0;
    w[15] = (64 + 20) * 8;
    compress(this.opad, outer);
    return outer;
  }
}

/** A 20-byte digest as five big-endian words, as `hash` gives it. */
export function words(digest: Buffer): Int32Array {
  const out = new Int32Array(5);
  for (let j = 0; j < 5; j++) out[j] = digest.readInt32BE(4 * j);
  return out;
}

export function sameWords(a: Int32Array, b: Int32Array): boolean {
  for (let j = 0; j < 5; j++) if (a[j] !== b[j]) return false;
  return true;
}
