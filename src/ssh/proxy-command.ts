// OpenSSH ProxyCommand: the command's stdin and stdout carry the SSH session. It runs as
// `/bin/sh -c "exec COMMAND"` (as ssh(1) runs it) in a process group of its own, so that ending
// the session ends the command and anything it started; its stderr is kept only as a bounded tail
// for the failure message.
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { cell } from '../report/table.js';
import type { ConnectFailure } from './connect.js';

/** The last bytes of the command's stderr kept for the message: enough for ssh's or nc's error. */
const STDERR_TAIL = 4096;
/** How long a command gets after its stdin closed (the session ended) before it is killed. */
const END_GRACE_MS = 1000;
/** How long a command gets to exit on SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2000;

export class ProxyCommand {
  readonly stream: Duplex;
  private tail = Buffer.alloc(0);
  private exit: { code: number | null; signal: string | null; error?: string } | undefined;
  private readonly exited: Promise<void>;
  /** set once jellyfish itself ends the command: its exit is then no failure */
  private stopped = false;
  private readonly pid: number | undefined;

  constructor(readonly command: string) {
    const child = spawn('/bin/sh', ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.pid = child.pid;
    let closed!: () => void;
    this.exited = new Promise((r) => { closed = r; });
    child.stderr.on('data', (d: Buffer) => {
      const all = Buffer.concat([this.tail, d]);
      this.tail = all.length > STDERR_TAIL ? all.subarray(all.length - STDERR_TAIL) : all;
    });
    // A write to a command that has exited fails with EPIPE; the session sees it through `stream`.
    child.stdin.on('error', () => {});
    child.on('error', (e) => { this.exit ??= { code: null, signal: null, error: e.message }; closed(); stream.push(null); });
    const stream = new Duplex({
      read: () => { child.stdout.resume(); },
      write: (chunk: Buffer, _enc, cb) => { child.stdin.write(chunk, (e) => cb(e ?? undefined)); },
      final: (cb) => {
        child.stdin.end();
        setTimeout(() => this.stop(), END_GRACE_MS).unref();
        cb();
      },
      destroy: (err, cb) => { this.stop(); cb(err); },
    });
    child.stdout.on('data', (d: Buffer) => { if (!stream.push(d)) child.stdout.pause(); });
    // The stream ends only once the command has exited, so its status is known when SSH sees the end.
    child.on('close', (code, signal) => { this.exit ??= { code, signal }; closed(); stream.push(null); });
    this.stream = stream;
  }

  /** End the command and its process group: SIGTERM, then SIGKILL if it is still there. */
  stop(): void {
    if (this.exit || this.stopped || this.pid === undefined) return;
    this.stopped = true;
    const pgid = -this.pid;
    const signal = (s: NodeJS.Signals) => { try { process.kill(pgid, s); } catch { /* already gone */ } };
    signal('SIGTERM');
    setTimeout(() => { if (!this.exit) signal('SIGKILL'); }, KILL_GRACE_MS).unref();
  }

  /**
   * The failure to report when the command ended by itself before the session was ready (it could
   * not reach the host, or is not a proxy at all); undefined while it runs or when jellyfish ended it.
   */
  async failure(waitMs: number): Promise<ConnectFailure | undefined> {
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, waitMs).unref())]);
    if (!this.exit || this.stopped) return undefined;
    const how = this.exit.error ? `could not be started (${this.exit.error})` : this.exit.signal ? `was killed by ${this.exit.signal}` : `exited with status ${this.exit.code}`;
    const said = this.tail.toString('utf8').trim().split(/\r?\n/).slice(-3).join(' | ');
    return { outcome: 'unreachable', code: 'PROXY_COMMAND', message: cell(`ProxyCommand ${how} before the SSH session was ready${said ? `: ${said}` : ''}`) };
  }
}
