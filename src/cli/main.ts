// Entry point for bin/jellyfish.
import { main } from './program.js';

// A reader that goes away (`jellyfish hosts | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

await main(process.argv);
