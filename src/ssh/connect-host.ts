// A host's SSH session, opened the way its settings say: straight to the host, through its
// ProxyJump hops, or over its ProxyCommand. The connection itself is opened by connect.ts.
import type { Client } from 'ssh2';
import type { SshSettings } from '../core/ssh-types.js';
import type { HostTask } from '../pool/messages.js';
import { openClient, resolve, type ClientTarget, type ConnectFailure, type Connected } from './connect.js';
import { openThroughJumps } from './jump.js';
import { knownHostsName } from './known-hosts.js';
import { ProxyCommand } from './proxy-command.js';

export type { ConnectFailure, Connected };

/**
 * Connect within `limitMs` (connect timeout, host timeout and run deadline already folded in by
 * the caller), verify the host key, authenticate.
 */
export async function connectHost(task: HostTask, limitMs: number, onClient: (c: Client) => void): Promise<Connected | ConnectFailure> {
  const { ssh } = task;
  const knownName = task.hostKeyAlias ? knownHostsName(task.hostKeyAlias, 22) : knownHostsName(task.host, task.port);
  if (task.jump && task.jump.length > 0) {
    const started = Date.now();
    const via = await openThroughJumps(task.jump, task.host, task.port, ssh, limitMs);
    if ('outcome' in via) return via;
    const c = await openClient({ address: task.host, port: task.port, user: ssh.user, knownName, sock: via.stream }, ssh, Math.max(1, limitMs - (Date.now() - started)), onClient);
    if (via.learned.length === 0) return c;
    return { ...c, learnedHostKeys: [...via.learned, ...(c.learnedHostKeys ?? [])] };
  }
  if (task.proxyCommand) return connectThroughCommand(task.proxyCommand, { address: task.host, port: task.port, user: ssh.user, knownName }, ssh, limitMs, onClient);
  const address = await resolve(task.host, ssh.family);
  if (typeof address !== 'string') return address;
  return openClient({ address, port: task.port, user: ssh.user, knownName }, ssh, limitMs, onClient);
}

/** ProxyCommand: the session runs over the command's stdio; a command that gives up is named as the cause. */
async function connectThroughCommand(command: string, target: ClientTarget, ssh: SshSettings, limitMs: number, onClient: (c: Client) => void): Promise<Connected | ConnectFailure> {
  const proxy = new ProxyCommand(command);
  const c = await openClient({ ...target, sock: proxy.stream }, ssh, limitMs, onClient);
  if (!('outcome' in c)) return c;
  // A refused host key or login is the server's answer, whatever carried it.
  const failure = c.code === 'HOSTKEY' || c.code === 'AUTH' ? undefined : await proxy.failure(200);
  proxy.stop();
  return failure ?? c;
}
