// The fixture fleet in its own process (as a large fleet should be: its CPU is not the client's).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export interface FleetProcess {
  knownHosts: string;
  userKey: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startFleetProcess(o: { dir: string; count: number; base: string; port?: number; faults?: Record<string, unknown>; delayMs?: number }): Promise<FleetProcess> {
  const faultsFile = path.join(o.dir, 'faults.json');
  fs.writeFileSync(faultsFile, JSON.stringify(o.faults ?? {}));
  const args = [path.resolve('fixtures/fleet/fleet.mjs'), '--count', String(o.count), '--base', o.base, '--port', String(o.port ?? 2222), '--dir', o.dir, '--faults', faultsFile];
  if (o.delayMs) args.push('--delay-ms', String(o.delayMs));
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise<{ ready: boolean; knownHosts: string; userKey: string } | undefined>((resolve) => {
    readline.createInterface({ input: child.stdout! }).once('line', (l) => { try { resolve(JSON.parse(l)); } catch { resolve(undefined); } });
    child.once('exit', () => resolve(undefined));
  });
  if (!ready?.ready) throw new Error('fleet process did not start');
  return {
    knownHosts: ready.knownHosts,
    userKey: ready.userKey,
    child,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
