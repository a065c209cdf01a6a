// The Piscina worker entry: one call = one host. Never throws across the thread boundary.
import type { HostResult } from '../core/results.js';
import type { HostTask } from '../pool/messages.js';
import { collectHost } from './collect-host.js';

export default function collectInThread(task: HostTask): Promise<HostResult> {
  return collectHost(task);
}
