#!/usr/bin/env node
// A private PostgreSQL server for the benchmark, in its own process (the bench starts it inside
// a cgroup of its own, so the server's CPU is measured apart from the contenders' and the
// fleet's). It is the test suite's server (test/helpers/postgres.ts: a throwaway cluster in a
// temp folder, SCRAM password over TCP on 127.0.0.1, a `jellyfish` role), hence tsx:
//   node --import tsx bench/pg-server.mjs [--databases a,b]
// Prints one JSON line {"ready": true, "url", "password", "port", "dataDir", "databases": {name: url}}
// and serves until SIGTERM/SIGINT or stdin closes; then stops the server and removes its folder.
import path from 'node:path';
import { ROOT } from './lib/paths.mjs';
import { serveUntilStopped } from './lib/serve.mjs';

const i = process.argv.indexOf('--databases');
const names = i >= 0 ? process.argv[i + 1].split(',').filter(Boolean) : [];
const { startPostgres } = await import(path.join(ROOT, 'test/helpers/postgres.ts'));

let server;
try {
  server = await startPostgres();
} catch (e) {
  process.stdout.write(`${JSON.stringify({ ready: false, error: e.message })}\n`);
  process.exit(1);
}
const databases = {};
for (const name of names) databases[name] = await server.createDatabase(name);
process.stdout.write(`${JSON.stringify({ ready: true, url: server.url, password: server.password, port: server.port, dataDir: server.dataDir, databases })}\n`);

serveUntilStopped(() => server.stop(), 15_000);
