// Writing a large answer to stdout: in chunks of about 64 KB, waiting while the reader (a pipe to
// a slow `less`, a network filesystem) catches up, so memory stays bounded whatever the size.

const CHUNK = 64 * 1024;

export async function writeChunks(pieces: Iterable<string>, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  let buf = '';
  const flush = async () => {
    const more = out.write(buf);
    buf = '';
    if (!more) await new Promise<void>((resolve) => { out.once('drain', resolve); });
  };
  for (const p of pieces) {
    buf += p;
    if (buf.length >= CHUNK) await flush();
  }
  if (buf) await flush();
}
