// The PostgreSQL server of the store rows: bench/pg-server.mjs (the test suite's private server,
// under tsx) started inside its own cgroup, like the fleet, so every postgres process (postmaster,
// background workers, one backend per connection) is counted as server CPU, never as the
// contender's. It shares the machine's cores with the fleet and the contenders.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { cgroup } from './cgroup.mjs';
import { spawnIn } from './fleets.mjs';
import { cpuMsOf, descendants } from './measure.mjs';
import { BENCH, ROOT } from './paths.mjs';
import { stopServer } from './serve.mjs';

const PG_ROOT = '/usr/lib/postgresql';

/** The postgres binary the test helper picks (the highest version in Debian's layout), or undefined. */
function postgresBinary() {
  let versions = [];
  try { versions = fs.readdirSync(PG_ROOT).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a)); } catch { /* not installed */ }
  return versions.map((v) => path.join(PG_ROOT, v, 'bin/postgres')).find((f) => fs.existsSync(f));
}

/** `postgres (PostgreSQL) 15.x`, or 'unknown'. */
export function postgresVersion() {
  const bin = postgresBinary();
  try { return bin ? execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() : 'unknown'; } catch { return 'unknown'; }
}

/** Why the PostgreSQL rows cannot run here, or undefined. */
export function postgresUnavailable() {
  if (!postgresBinary()) return `PostgreSQL server binaries not found under ${PG_ROOT} (apt-get install postgresql)`;
  if (!fs.existsSync(path.join(ROOT, 'node_modules/tsx'))) return 'tsx is not installed (npm ci installs the devDependencies)';
  return undefined;
}

/**
 * Starts the server with these (empty) databases. Returns { url, password, env, databases,
 * pid, cpuMs(), cpuMethod, stop() }; cpuMs() is the server's CPU so far (its cgroup; without one,
 * the processes' own and reaped children's counters, which miss nothing here: the postmaster
 * reaps its backends).
 */
export async function startPostgresServer({ databases = [], log = () => {} } = {}) {
  const cg = cgroup('postgres');
  const child = spawnIn(cg, process.execPath, ['--import', 'tsx', path.join(BENCH, 'pg-server.mjs'), '--databases', databases.join(',')], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ready = await new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).once('line', (l) => { try { resolve(JSON.parse(l)); } catch { resolve({ ready: false, error: l }); } });
    child.once('exit', (code) => resolve({ ready: false, error: `bench/pg-server.mjs exited ${code}` }));
  });
  if (!ready.ready) throw new Error(`the PostgreSQL server did not start: ${ready.error}`);
  log(`  PostgreSQL server on 127.0.0.1:${ready.port} (${ready.dataDir}); server CPU by ${cg ? 'cgroup' : 'cutime'}`);
  const pids = () => descendants(child.pid);
  return {
    url: ready.url,
    password: ready.password,
    env: { PGPASSWORD: ready.password },
    databases: ready.databases,
    pid: child.pid,
    pids,
    cpuMs: () => (cg ? cg.cpuMs() : cpuMsOf(pids())),
    cpuMethod: cg ? 'cgroup' : 'cutime',
    stop: () => stopServer(child, cg),
  };
}
