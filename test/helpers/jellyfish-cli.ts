// The built jellyfish as a new user runs it: a child process in a folder, stdin closed, CI=1 (no
// spinner), with what it printed, its exit code and how long it took. Asynchronous, never
// spawnSync: a test's fixture fleet lives in the test's own process and must go on answering.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve('bin/jellyfish');

export interface Ran { code: number | null; stdout: string; stderr: string; ms: number }

export function jf(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end();
  });
}
