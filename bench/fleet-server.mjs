#!/usr/bin/env node
// The fixture fleet for the benchmark, in its own process so its CPU is never the controller's.
// Like `fixtures/fleet/fleet.mjs --count ...` but with what its CLI cannot take: the shared user
// key (every contender authenticates with the same ed25519 key) and a `commands` map, so the
// fleet answers the peers' script text (and any wrapper a tool needs around it) with a recorded
// output.
//   node bench/fleet-server.mjs --config FILE
// FILE: {"count", "base", "port", "dir", "delayMs", "userKey", "commands": {text: output},
//        "outputs": {type: output} (for every host, before fixtures/outputs/debian12)}
// Prints one JSON line {"ready":true,...} and serves until SIGTERM or stdin closes.
import fs from 'node:fs';
import { startFleet } from '../fixtures/fleet/fleet.mjs';
import { serveUntilStopped } from './lib/serve.mjs';

const i = process.argv.indexOf('--config');
if (i < 0 || !process.argv[i + 1]) {
  process.stderr.write('usage: fleet-server.mjs --config FILE\n');
  process.exit(64);
}
const cfg = JSON.parse(fs.readFileSync(process.argv[i + 1], 'utf8'));
if (!String(cfg.base).startsWith('127.')) throw new Error('the bench fleet only serves 127.0.0.0/8');
const fleet = await startFleet({
  count: cfg.count, base: cfg.base, port: cfg.port, dir: cfg.dir, delayMs: cfg.delayMs ?? 0,
  userKey: cfg.userKey, commands: cfg.commands ?? {}, outputs: cfg.outputs ?? {},
});
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, hosts: fleet.hosts.length, knownHosts: fleet.knownHostsPath })}\n`);

serveUntilStopped(() => fleet.close(), 3000);
// SIGUSR2: print the fleet's counters (sessions, execs) on stderr, for debugging a contender.
process.on('SIGUSR2', () => process.stderr.write(`${JSON.stringify(fleet.stats())}\n`));
