// What about this run's own surroundings an operator should know (a folder others can write to,
// a database reached without a verified certificate): warnings, once per run, never errors.
import type { Config } from '../config/load.js';
import { databaseTrustWarning, isDatabaseFile } from '../store/database.js';
import { unsafeFolderWarnings } from './safe-files.js';

/** The warnings, as plain lines (stderr, and the run's list of warnings). */
export function trustWarnings(config: Config, lockFile = config.lockfile): string[] {
  const database = config.storage.database;
  const files = [{ what: 'lock file', file: lockFile }];
  if (isDatabaseFile(database)) files.unshift({ what: 'database', file: database });
  if (config.results.outputJsonFile) files.push({ what: 'result JSON', file: config.results.resultJson });
  if (config.results.metricsFile) files.push({ what: 'metrics file', file: config.results.metricsFile });
  const tls = databaseTrustWarning(database);
  return [...unsafeFolderWarnings(files), ...(tls ? [`[storage] database: ${tls}`] : [])];
}
