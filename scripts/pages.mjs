#!/usr/bin/env node
// `npm run pages` (after `npm start`): the fleet pages of the demo database on loopback, until
// Ctrl-C. Reads the database the INI names (-c, default ./scheduler.ini) or --db FILE, read-only;
// no token (a loopback listen). Options: -c FILE, --db FILE, --listen HOST:PORT (default 127.0.0.1:8423).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (names, dflt) => { const i = args.findIndex((a) => names.includes(a)); return i >= 0 ? args[i + 1] : dflt; };
const ini = opt(['-c', '--config'], path.join(root, 'scheduler.ini'));
const database = opt(['--db'], undefined);
const listen = opt(['--listen'], '127.0.0.1:8423');
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
if (!/^127\./.test(host) && host !== 'localhost' && host !== '::1') {
  process.stderr.write(`pages: --listen ${listen}: this demo server has no token check, so it listens on loopback only\n`);
  process.exit(64);
}
const { startPagesServer } = await import(path.join(root, 'scripts/lib/pages-server.mjs'));
let server;
try {
  server = await startPagesServer({ ini, database, host, port });
} catch (e) {
  process.stderr.write(`pages: ${e.message}\n`);
  process.exit(e.exitCode ?? 74);
}
process.stderr.write(`pages: the fleet pages of ${server.database} at ${server.url}/ (Ctrl-C stops)\n`);
process.stdout.write(`${server.url}/\n`);
const stop = async () => { await server.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
