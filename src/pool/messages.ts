// What crosses the thread boundary: a host task out (HostTask), a HostResult back
// (core/results.ts). Only plain data travels: a custom Error class posted from a worker arrives
// as a plain Error, so results are objects, never throws.
import type { CollectionDef } from '../collections/types.js';
import type { JumpHop, SshSettings } from '../core/ssh-types.js';

export interface HostTask {
  /** hostname as written in the inventory (without port) */
  name: string;
  /** inventory spelling, used in every output */
  label: string;
  host: string;
  port: number;
  collections: CollectionDef[];
  ssh: SshSettings;
  /** epoch ms: the run deadline; the thread aborts its own work at this instant */
  deadlineAt: number;
  /** OpenSSH HostKeyAlias: the name to look the host key up under */
  hostKeyAlias?: string;
  /** OpenSSH ProxyJump hops, first to last */
  jump?: JumpHop[];
  /** OpenSSH ProxyCommand, tokens expanded: its stdin/stdout carry the session */
  proxyCommand?: string;
}
