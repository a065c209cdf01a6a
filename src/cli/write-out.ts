// Writing a large answer to stdout: in chunks of about 64 KB, waiting while the reader (a pipe to
// a slow `less`, a network filesystem) catches up, so memory stays bounded whatever the size.

const CHUNK = 64 * 1024;

/** Pieces made as they are written: a generator's, or an async one's reading a database as it goes. */
export async function writeChunks(pieces: Iterable<string> | AsyncIterable<string>, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  let buf = '';
  const flush = async () => {
    const more = out.write(buf);
    buf = '';
    if (!more) await new Promise<void>((resolve) => { out.once('drain', resolve); });
  };
  if (Symbol.asyncIterator in pieces) {
    for await (const p of pieces) {
      buf += p;
      if (buf.length >= CHUNK) await flush();
    }
  } else {
    for (const p of pieces) {
      buf += p;
      if (buf.length >= CHUNK) await flush();
    }
  }
  if (buf) await flush();
}
