// Entry point for bin/jellyfish.
import { main } from './program.js';

await main(process.argv);
