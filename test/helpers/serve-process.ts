// A real `jellyfish serve` (the built binary) in a child process, for the storage API tests: a
// folder with its scheduler.ini, tokens made with `jellyfish token add`, and the server started
// on a loopback address given by the test. Asynchronous only (see jellyfish-cli.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, jf } from './jellyfish-cli.js';

export interface Serve {
  url: string;
  child: ChildProcess;
  stderr(): string;
  /** resolves with the exit code once the process ended */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A scheduler.ini in `dir` with [storage] database and [api] listen (and more sections). */
export function writeServeIni(dir: string, listen: string, extra: Record<string, Record<string, string>> = {}, database = 'var/jf.db'): string {
  const sections: Record<string, Record<string, string>> = { storage: { database }, api: { listen } };
  for (const [s, kv] of Object.entries(extra)) sections[s] = { ...(sections[s] ?? {}), ...kv };
  const ini = path.join(dir, 'scheduler.ini');
  fs.writeFileSync(ini, Object.entries(sections).map(([s, kv]) => `[${s}]\n${Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`).join('\n'));
  return ini;
}

export async function addToken(dir: string, name: string, scope: 'push' | 'read', hosts?: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await jf(['token', 'add', name, '--scope', scope, ...(hosts ? ['--hosts', hosts] : []), '-c', 'scheduler.ini'], dir, env);
  if (r.code !== 0) throw new Error(`token add ${name}: exit ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { token: string }).token;
}

export async function startServe(dir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Serve> {
  const child = spawn(process.execPath, [BIN, 'serve', '-c', 'scheduler.ini', ...args], { cwd: dir, env: { ...process.env, CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d;
      const m = /serving the storage API on (\S+)/.exec(err);
      if (m) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
  });
  return {
    url, child, exited,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A loopback address of the test's own /16 and a port: parallel test files never collide. */
export function loopbackListen(net16: string): { host: string; port: number; listen: string } {
  const host = `${net16}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  return { host, port, listen: `${host}:${port}` };
}
