// A small zip reader for OSV's all.zip exports: the central directory (ZIP64 too: an export can
// hold more than 65,535 advisories), stored and deflated entries through node:zlib, every entry
// bounded in size and checked against its CRC. Hand-written because it is ~150 lines and the
// project takes no new dependency for it; encryption, multi-disk archives and other methods are
// refused with a message.
import fs from 'node:fs';
import zlib from 'node:zlib';

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
/** The end record is 22 bytes plus a comment of at most 65,535. */
const EOCD_SEARCH = 22 + 0xffff;
/** A central directory this large would be millions of entries: refuse rather than allocate it. */
const MAX_CENTRAL_DIRECTORY = 512 * 2 ** 20;
const STORED = 0;
const DEFLATED = 8;

/** The archive as a whole cannot be read (not a zip, truncated, unsupported layout). */
export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** Random access to the archive's bytes: a file read in place, or a buffer (stdin). */
interface Source { size: number; read(offset: number, length: number): Buffer; close(): void }

function fileSource(file: string): Source {
  const fd = fs.openSync(file, 'r');
  const size = fs.fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = fs.readSync(fd, buf, got, length - got, offset + got);
        if (n === 0) throw new ZipError(`unexpected end of file at byte ${offset + got}`);
        got += n;
      }
      return buf;
    },
    close() { fs.closeSync(fd); },
  };
}

function bufferSource(data: Buffer): Source {
  return {
    size: data.length,
    read(offset, length) {
      if (offset < 0 || offset + length > data.length) throw new ZipError(`unexpected end of data at byte ${Math.min(offset + length, data.length)}`);
      return data.subarray(offset, offset + length);
    },
    close() { /* nothing held */ },
  };
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError('a ZIP64 size or offset is too large');
  return Number(v);
}

export function isZip(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === LOCAL_SIG;
}

export class ZipReader {
  readonly entries: ZipEntry[];

  private constructor(private readonly src: Source) {
    try {
      this.entries = this.readCentralDirectory();
    } catch (e) {
      src.close();
      throw e;
    }
  }

  static openFile(file: string): ZipReader { return new ZipReader(fileSource(file)); }
  static fromBuffer(data: Buffer): ZipReader { return new ZipReader(bufferSource(data)); }

  close(): void { this.src.close(); }

  private readCentralDirectory(): ZipEntry[] {
    const { size } = this.src;
    const tailLength = Math.min(size, EOCD_SEARCH);
    const tail = this.src.read(size - tailLength, tailLength);
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD_SIG) { at = i; break; }
    if (at < 0) throw new ZipError('not a zip archive (no end of central directory record)');
    let count = tail.readUInt16LE(at + 10);
    let cdSize = tail.readUInt32LE(at + 12);
    let cdOffset = tail.readUInt32LE(at + 16);
    if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) throw new ZipError('multi-disk zip archives are not supported');
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locAt = size - tailLength + at - 20;
      if (locAt < 0) throw new ZipError('ZIP64 end of central directory locator missing');
      const loc = this.src.read(locAt, 20);
      if (loc.readUInt32LE(0) !== ZIP64_LOCATOR_SIG) throw new ZipError('ZIP64 end of central directory locator missing');
      const rec = this.src.read(u64(loc, 8), 56);
      if (rec.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw new ZipError('ZIP64 end of central directory record missing');
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
    }
    if (cdSize > MAX_CENTRAL_DIRECTORY) throw new ZipError(`central directory of ${cdSize} bytes is larger than ${MAX_CENTRAL_DIRECTORY / 2 ** 20} MB`);
    if (cdOffset + cdSize > size) throw new ZipError('central directory runs past the end of the archive (truncated?)');
    const cd = this.src.read(cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) throw new ZipError(`central directory entry ${n + 1} of ${count} is damaged`);
      const flags = cd.readUInt16LE(p + 8);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const end = p + 46 + nameLength + extraLength + commentLength;
      if (end > cd.length) throw new ZipError(`central directory entry ${n + 1} of ${count} is damaged`);
      const entry: ZipEntry = {
        name: cd.toString((flags & 0x800) !== 0 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLength),
        method: cd.readUInt16LE(p + 10),
        flags,
        crc: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localOffset: cd.readUInt32LE(p + 42),
      };
      // ZIP64 extra field: the 64-bit values, in this order, of those whose 32-bit field is full.
      let x = p + 46 + nameLength;
      const xEnd = x + extraLength;
      while (x + 4 <= xEnd) {
        const id = cd.readUInt16LE(x);
        const len = cd.readUInt16LE(x + 2);
        if (id === 0x0001) {
          let q = x + 4;
          const take = () => { if (q + 8 > x + 4 + len) throw new ZipError(`entry ${entry.name}: short ZIP64 extra field`); const v = u64(cd, q); q += 8; return v; };
          if (entry.size === 0xffffffff) entry.size = take();
          if (entry.compressedSize === 0xffffffff) entry.compressedSize = take();
          if (entry.localOffset === 0xffffffff) entry.localOffset = take();
        }
        x += 4 + len;
      }
      entries.push(entry);
      p = end;
    }
    return entries;
  }

  /** An entry's bytes, refused (with a message) above `maxBytes`, damaged, encrypted or of another method. */
  read(entry: ZipEntry, maxBytes: number): Buffer {
    if ((entry.flags & 0x1) !== 0) throw new Error('encrypted entries are not supported');
    if (entry.method !== STORED && entry.method !== DEFLATED) throw new Error(`compression method ${entry.method} is not supported (only stored and deflate)`);
    if (entry.size > maxBytes) throw new Error(`${entry.size} bytes uncompressed, more than the ${maxBytes / 2 ** 20} MB allowed per entry`);
    // Deflate never grows data by more than a few bytes per 16 KB block: a bigger compressed size is a lie.
    if (entry.compressedSize > maxBytes + 1024 * 1024) throw new Error(`${entry.compressedSize} bytes compressed, more than allowed`);
    const local = this.src.read(entry.localOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL_SIG) throw new Error('local header missing (damaged archive)');
    const dataAt = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    const raw = this.src.read(dataAt, entry.compressedSize);
    let data: Buffer;
    if (entry.method === STORED) data = raw;
    else {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, maxBytes) });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new Error(err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError
          ? `inflates to more than the ${maxBytes / 2 ** 20} MB allowed per entry` : `cannot inflate: ${err.message}`);
      }
    }
    if (data.length !== entry.size) throw new Error(`${data.length} bytes, but the directory says ${entry.size} (damaged archive)`);
    if (zlib.crc32(data) >>> 0 !== entry.crc >>> 0) throw new Error('CRC mismatch (damaged archive)');
    return data;
  }
}
