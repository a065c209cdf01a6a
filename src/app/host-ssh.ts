// Per-host SSH settings: the INI's settings, filled in from the operator's OpenSSH client config
// (HostName, User, Port, IdentityFile, IdentitiesOnly, ProxyJump, ProxyCommand, ConnectTimeout,
// UserKnownHostsFile, GlobalKnownHostsFile, StrictHostKeyChecking, HostKeyAlias) wherever the INI
// does not set them. Host-key checking is never weakened by the client config: its
// `StrictHostKeyChecking no` is read as accept-new (a changed key is still refused); only the
// INI's host_key_policy = off turns checking off. Each ProxyJump hop gets its own host-key
// settings, as `ssh -G HOP` would.
import fs from 'node:fs';
import os from 'node:os';
import type { Config } from '../config/load.js';
import { settingId } from '../config/settings.js';
import type { InventoryHost } from '../inventory/host.js';
import { parseHostField } from '../inventory/csv.js';
import type { HostKeyPolicy, JumpHop, SshSettings } from '../core/ssh-types.js';
import { currentUser, expandProxyCommand, expandTokens, SshConfig, type ConfigWarning, type SshHostConfig } from '../ssh/ssh-config.js';
import { ConfigError } from '../core/errors.js';
import { checkKnownHostsReadable, readPrivateKey, warnWeakHostKeys } from './ssh-settings.js';

export interface HostSsh {
  host: string;
  port: number;
  ssh: SshSettings;
  hostKeyAlias?: string;
  jump?: JumpHop[];
  proxyCommand?: string;
}

/** StrictHostKeyChecking as SshConfig spells it -> policy. `no`/`off` (false) is accept-new: never off. */
const POLICY: Record<string, HostKeyPolicy> = { true: 'strict', ask: 'strict', 'accept-new': 'accept-new', false: 'accept-new' };

type HostKeySettings = Pick<SshSettings, 'hostKeyPolicy' | 'knownHostsPath'>;
const INI_KNOWN_HOSTS = '[paramiko] known_hosts';

export class HostSshResolver {
  private readonly sshConfig: SshConfig | undefined;
  private readonly keys = new Map<string, { path: string; text: string } | null>();
  private readonly settings = new Map<string, SshSettings>();
  /** known_hosts files already found readable */
  private readonly readable = new Set<string>();
  /** ProxyJump specs already resolved: most hosts of a fleet share a few jump hosts */
  private readonly hops = new Map<string, JumpHop[]>();
  /** looked up once: os.userInfo() reads the password database on every call */
  private readonly localUser = currentUser();
  /** ssh_config lines jellyfish does not act on (each also warned once, when the resolver is made) */
  readonly configWarnings: readonly ConfigWarning[];

  constructor(private readonly config: Config, private readonly base: SshSettings, private readonly warn: (m: string) => void) {
    const { sshConfig: file, systemSshConfig: system } = config.ssh;
    if (file !== undefined && !fs.existsSync(file)) throw new ConfigError(`${file}: cannot read the OpenSSH client config (set [paramiko] ssh_config = none to read none)`);
    this.sshConfig = file || system ? SshConfig.parseFile(file, os.homedir(), system) : undefined;
    this.configWarnings = this.sshConfig?.warnings ?? [];
    for (const w of this.configWarnings) warn(w.text);
    this.checkReadable(base);
    if (!this.sshConfig) warnWeakHostKeys(base.hostKeyPolicy, base.knownHostsPath, INI_KNOWN_HOSTS, warn);
  }

  private checkReadable(k: HostKeySettings): void {
    if (k.hostKeyPolicy === 'off' || this.readable.has(k.knownHostsPath)) return;
    checkKnownHostsReadable(k.knownHostsPath, k.hostKeyPolicy);
    this.readable.add(k.knownHostsPath);
  }

  private set(section: string, key: string): boolean {
    return this.config.explicit.has(settingId(section, key));
  }

  /** A key named by IdentityFile: read once, skipped with a warning when missing or unsafe. */
  private key(file: string): { path: string; text: string } | undefined {
    if (!this.keys.has(file)) {
      try {
        this.keys.set(file, fs.existsSync(file) ? readPrivateKey(file) : null);
      } catch (e) {
        this.warn(`IdentityFile skipped: ${(e as Error).message}`);
        this.keys.set(file, null);
      }
    }
    return this.keys.get(file) ?? undefined;
  }

  resolve(h: Pick<InventoryHost, 'host' | 'port'>): HostSsh {
    const inventoryPort = h.port;
    if (!this.sshConfig) return { host: h.host, port: inventoryPort ?? this.config.ssh.port, ssh: this.base };
    const c = this.sshConfig.compute(h.host, this.localUser);
    const port = inventoryPort ?? (this.set('paramiko', 'port') ? this.config.ssh.port : c.port);
    const user = this.set('paramiko', 'paramiko_user') ? this.base.user : c.user;
    const ssh = this.settingsFor(c, user);
    const jump = c.proxyJump ? this.jumpHops(c.proxyJump) : undefined;
    const proxyCommand = c.proxyCommand ? expandProxyCommand(c.proxyCommand, { h: c.hostname, p: String(port), r: user, n: h.host, u: os.userInfo().username, d: os.homedir() }) : undefined;
    if (typeof proxyCommand === 'object') throw new ConfigError(proxyCommand.reason);
    return {
      host: c.hostname,
      port,
      ssh,
      ...(c.hostKeyAlias ? { hostKeyAlias: c.hostKeyAlias } : {}),
      ...(jump ? { jump } : {}),
      ...(proxyCommand ? { proxyCommand } : {}),
    };
  }

  private settingsFor(c: SshHostConfig, user: string): SshSettings {
    const tokens = { h: c.hostname, r: user, p: String(c.port), u: this.localUser, d: os.homedir() };
    const explicitIds = this.set('paramiko', 'paramiko_key') || !c.given.has('identityfile') ? [] : c.identityFiles.map((f) => expandTokens(f, tokens));
    const fromConfig = explicitIds.map((f) => this.key(f)).filter((k): k is { path: string; text: string } => k !== undefined);
    const privateKeys = this.set('paramiko', 'paramiko_key') ? this.base.privateKeys : fromConfig.length ? fromConfig : this.base.privateKeys;
    const agent = this.set('paramiko', 'paramiko_key') || (c.identitiesOnly && fromConfig.length) ? undefined : this.base.agent;
    const { knownHostsPath, hostKeyPolicy } = this.hostKeys(c);
    const globalKnownHostsPaths = this.set('paramiko', 'global_known_hosts') || !c.given.has('globalknownhostsfile') ? this.base.globalKnownHostsPaths : c.globalKnownHostsFiles.filter((f) => f !== 'none');
    const connectTimeoutMs = this.set('paramiko', 'connect_timeout') || c.connectTimeoutSeconds === undefined ? this.base.connectTimeoutMs : c.connectTimeoutSeconds * 1000;
    const s: SshSettings = { ...this.base, user, privateKeys, knownHostsPath, globalKnownHostsPaths, hostKeyPolicy, connectTimeoutMs };
    if (agent) s.agent = agent; else delete s.agent;
    // Hosts sharing a settings shape share one object (fewer copies in memory; the same data is sent per task anyway).
    const id = JSON.stringify([user, privateKeys.map((k) => k.path), s.agent, knownHostsPath, globalKnownHostsPaths, hostKeyPolicy, connectTimeoutMs]);
    const known = this.settings.get(id);
    if (known) return known;
    this.settings.set(id, s);
    return s;
  }

  /**
   * The host-key policy and known_hosts file for one computed host (a target or a hop): the INI's
   * where it sets them, else the client config's, else the INI's defaults.
   */
  private hostKeys(c: SshHostConfig): HostKeySettings {
    const file = this.config.ssh.sshConfig;
    const fromConfig = !this.set('paramiko', 'known_hosts') && c.given.has('userknownhostsfile') && c.userKnownHostsFiles[0] !== undefined;
    const knownHostsPath = fromConfig ? (c.userKnownHostsFiles[0] as string) : this.base.knownHostsPath;
    let hostKeyPolicy = this.base.hostKeyPolicy;
    if (!this.set('paramiko', 'host_key_policy') && c.given.has('stricthostkeychecking')) {
      hostKeyPolicy = POLICY[c.strictHostKeyChecking] ?? this.base.hostKeyPolicy;
      if (c.strictHostKeyChecking === 'false') {
        this.warn(`${file}: StrictHostKeyChecking no is read as accept-new (a changed host key is still refused); only host_key_policy = off in the INI turns host key checking off`);
      }
    }
    const k = { knownHostsPath, hostKeyPolicy };
    warnWeakHostKeys(hostKeyPolicy, knownHostsPath, fromConfig ? `${file}: UserKnownHostsFile` : INI_KNOWN_HOSTS, this.warn);
    this.checkReadable(k);
    return k;
  }

  /** `ProxyJump a,user@b:2222` -> hops, each completed from the client config for that name. */
  private jumpHops(spec: string): JumpHop[] {
    const known = this.hops.get(spec);
    if (known) return known;
    const hops = spec.split(',').map((raw) => {
      const at = raw.lastIndexOf('@');
      const userPart = at >= 0 ? raw.slice(0, at) : undefined;
      const hostPart = at >= 0 ? raw.slice(at + 1) : raw;
      const parsed = parseHostField(hostPart.replace(/^ssh:\/\//, ''));
      if ('reason' in parsed) throw new ConfigError(`${this.config.ssh.sshConfig}: ProxyJump ${raw}: ${parsed.reason}`);
      const c = this.sshConfig!.compute(parsed.host, this.localUser);
      return {
        host: c.hostname,
        port: parsed.port ?? c.port,
        user: userPart ?? (this.set('paramiko', 'paramiko_user') ? this.base.user : c.user),
        ...this.hostKeys(c),
        ...(c.hostKeyAlias ? { hostKeyAlias: c.hostKeyAlias } : {}),
      };
    });
    this.hops.set(spec, hops);
    return hops;
  }
}
