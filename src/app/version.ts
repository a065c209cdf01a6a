import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package version, read from package.json beside src/ or dist/. */
export const VERSION: string = (() => {
  try {
    const file = fileURLToPath(new URL('../../package.json', import.meta.url));
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();
