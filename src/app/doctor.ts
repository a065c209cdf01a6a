// `jellyfish doctor`: checks a configuration end to end before cron depends on it. Each check is
// independent, so one broken file does not hide the state of the others.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadCollections } from '../collections/load.js';
import type { Config } from '../config/load.js';
import { readInventory } from '../inventory/csv.js';
import { parseHostField } from '../inventory/csv.js';
import { collectHost } from '../pipeline/collect-host.js';
import type { HostKeyPolicy, SshSettings } from '../core/ssh-types.js';
import { HASHED_LINES_COSTLY, HMAC_MICROSECONDS, knownHostsName, loadKnownHosts } from '../ssh/known-hosts.js';
import { describeDatabase, isDatabaseFile } from '../store/database.js';
import { openAnyStore } from '../store/store.js';
import { StorageError } from '../core/errors.js';
import { HostSshResolver, type HostSsh } from './host-ssh.js';
import { checkApiSettings } from './serve-settings.js';
import { buildSshSettings, checkKnownHostsReadable } from './ssh-settings.js';
import { Warnings } from './warnings.js';

/** How one host of a connection (the target, or a jump host on the way) has its host key checked. */
export interface HostKeyView {
  role: 'target' | 'jump';
  host: string;
  port: number;
  policy: HostKeyPolicy;
  /** the files its key is looked up in (none under policy off) */
  known_hosts: string[];
  /** the name it is looked up under: `host`, `[host]:port`, or its HostKeyAlias */
  known_as: string;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** the `host keys H` check: the effective host-key settings, for --json */
  host_keys?: HostKeyView[];
}

function attempt(name: string, fn: () => string): Check {
  try {
    return { name, ok: true, detail: fn() };
  } catch (e) {
    return { name, ok: false, detail: (e as Error).message };
  }
}

async function attemptAsync(name: string, fn: () => Promise<string>): Promise<Check> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (e) {
    return { name, ok: false, detail: (e as Error).message };
  }
}

/**
 * Whether `file` could be written: its folder takes a probe file, or (a folder not made yet) the
 * nearest existing one above it is writable. Doctor only reads: it creates no folder.
 */
function writableFolder(file: string): string {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) {
    let above = path.dirname(dir);
    while (!fs.existsSync(above) && path.dirname(above) !== above) above = path.dirname(above);
    fs.accessSync(above, fs.constants.W_OK | fs.constants.X_OK);
    return `${dir} does not exist yet; the first run creates it (${above} is writable)`;
  }
  // A random name, created exclusively: a link planted at a guessable one is never followed.
  const probe = path.join(dir, `.jellyfish-doctor-${crypto.randomBytes(8).toString('hex')}`);
  fs.closeSync(fs.openSync(probe, 'wx', 0o600));
  fs.unlinkSync(probe);
  return `${dir} is writable`;
}

/** A warning when hashed lines make each host's lookup cost more than collecting the host. */
function hashedCost(files: string[]): string {
  const hashed = files.reduce((n, f) => n + loadKnownHosts(f).hashedLines, 0);
  if (hashed <= HASHED_LINES_COSTLY) return '';
  const ms = (hashed * HMAC_MICROSECONDS) / 1000;
  return `; warning: ${hashed} hashed lines (|1|...): finding each host costs ~${ms.toFixed(0)} ms of CPU, more than collecting it (~4 ms); give jellyfish a known_hosts of its own (accept-new writes plain host names, found by a map lookup)`;
}

export async function runDoctor(config: Config, inventoryFile: string, host: string | undefined): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push({ name: 'config', ok: true, detail: `${config.file ?? '(built-in defaults)'} is valid${config.warnings.length ? `; warnings: ${config.warnings.join('; ')}` : ''}` });
  checks.push(attempt('inventory', () => {
    const inv = readInventory(inventoryFile, { prodStatuses: config.collector.prodStatuses });
    const bad = inv.invalid.slice(0, 3).map((r) => `line ${r.line}: ${r.reason}`).join('; ');
    return `${inv.file}: ${inv.hosts.length} hosts (${inv.hosts.filter((h) => h.isProd).length} prod), ${inv.invalid.length} invalid rows${bad ? ` (${bad})` : ''}`;
  }));
  checks.push(attempt('collections', () => {
    const all = loadCollections(config.collector.collconfig);
    return `${config.collector.collconfig}: ${all.filter((c) => c.enabled).length} enabled of ${all.length}`;
  }));
  let ssh: SshSettings | undefined;
  checks.push(attempt('ssh key', () => {
    ssh = buildSshSettings(config, () => {});
    const keys = ssh.privateKeys.map((k) => k.path).join(', ');
    return `${keys || '(no key file)'}${ssh.agent ? `${keys ? ' + ' : ''}ssh-agent at ${ssh.agent}` : ''}, user ${ssh.user}`;
  }));
  checks.push(attempt('known_hosts', () => {
    const file = config.ssh.knownHosts;
    if (config.ssh.hostKeyPolicy === 'off') return `not checked: host_key_policy = off (host keys are NOT verified)`;
    if (!fs.existsSync(file)) {
      if (config.ssh.hostKeyPolicy === 'strict') throw new Error(`${file} does not exist and host_key_policy = strict: every host would fail`);
      return `${file} does not exist yet; accept-new will create it`;
    }
    checkKnownHostsReadable(file, config.ssh.hostKeyPolicy);
    return `${file}: ${loadKnownHosts(file).size} entries, policy ${config.ssh.hostKeyPolicy}${hashedCost([file, ...config.ssh.globalKnownHosts])}`;
  }));
  checks.push(await attemptAsync('database', async () => {
    // Doctor never creates or migrates the database: a missing or empty one, or one of an older
    // schema, is what the first run (or the next) takes care of; it is opened read-write only
    // once it is known to be current, when opening it changes nothing.
    const database = config.storage.database;
    const shared = !isDatabaseFile(database);
    if (!shared && (!fs.existsSync(database) || fs.statSync(database).size === 0)) {
      const what = fs.existsSync(database) ? `${database} is an empty file` : `no database yet at ${database}`;
      return `${what}: the first run creates it (${writableFolder(database)})`;
    }
    try {
      await (await openAnyStore(database, { readonly: true })).close();
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      if (/older than this jellyfish's/.test(e.message)) return e.message;
      if (shared && /no schema_migrations table/.test(e.message)) return `${describeDatabase(database)} has no jellyfish schema yet: the first run creates it`;
      throw e;
    }
    const store = await openAnyStore(database);
    try {
      const integrity = await store.integrityCheck();
      if (integrity !== 'ok') throw new Error(`${store.path}: integrity_check says ${integrity}`);
      return `${describeDatabase(store.path)} opens read-write, schema current, integrity ok, ${await store.factRowCount()} fact rows`;
    } finally {
      await store.close();
    }
  }));
  // With PostgreSQL the run locks are advisory locks in the database; the lock folder still holds gap-fix's.
  checks.push(attempt('lock', () => `${writableFolder(config.lockfile)}${isDatabaseFile(config.storage.database) ? '' : ' (with PostgreSQL the run and gap-fix locks are advisory locks per site)'}`));
  if (config.results.outputJsonFile) checks.push(attempt('result_json', () => writableFolder(config.results.resultJson)));
  if (host !== undefined) checks.push(...(await hostChecks(config, ssh, host)));
  // `serve`'s settings: what it would refuse at start (TLS files, ui_auth), and its warnings.
  checks.push(attempt('api', () => {
    const api = checkApiSettings(config);
    return `serve would listen on ${api.url}, max_body ${config.api.maxBodyBytes} bytes, ui_auth ${config.api.uiAuth}${api.warnings.length ? `; warning: ${api.warnings.join('; ')}` : ''}`;
  }));
  return checks;
}

/** The host-key settings a run would use for the host and each jump host on the way. */
function hostKeyViews(r: HostSsh): HostKeyView[] {
  const view = (role: HostKeyView['role'], host: string, port: number, policy: HostKeyPolicy, file: string, alias: string | undefined): HostKeyView => ({
    role, host, port, policy, known_hosts: policy === 'off' ? [] : [file], known_as: alias ? knownHostsName(alias, 22) : knownHostsName(host, port),
  });
  return [
    ...(r.jump ?? []).map((h) => view('jump', h.host, h.port, h.hostKeyPolicy, h.knownHostsPath, h.hostKeyAlias)),
    view('target', r.host, r.port, r.ssh.hostKeyPolicy, r.ssh.knownHostsPath, r.hostKeyAlias),
  ];
}

function describeHostKeys(v: HostKeyView): string {
  const what = v.policy === 'off' ? 'policy off (host keys are NOT verified)' : `policy ${v.policy}, known_hosts ${v.known_hosts.join(', ')} as ${v.known_as}`;
  return v.role === 'jump' ? `jump host ${v.host}:${v.port}: ${what}` : what;
}

/** `--host H`: the effective host-key settings for H, then one real connection made as a run would. */
async function hostChecks(config: Config, ssh: SshSettings | undefined, host: string): Promise<Check[]> {
  const connect = `connect ${host}`;
  if (!ssh) return [{ name: connect, ok: false, detail: 'skipped: no usable SSH credentials' }];
  const parsed = parseHostField(host);
  if ('reason' in parsed) return [{ name: connect, ok: false, detail: parsed.reason }];
  const warnings = new Warnings();
  let r: HostSsh;
  try {
    r = new HostSshResolver(config, ssh, warnings.add).resolve(parsed);
  } catch (e) {
    return [{ name: `host keys ${host}`, ok: false, detail: (e as Error).message }, { name: connect, ok: false, detail: 'skipped: the SSH settings for this host are unusable' }];
  }
  const views = hostKeyViews(r);
  const keys: Check = {
    name: `host keys ${host}`,
    ok: true,
    detail: [...views.map(describeHostKeys), ...(r.proxyCommand ? [`through ProxyCommand ${r.proxyCommand}`] : []), ...warnings.list().map((w) => `warning: ${w}`)].join('; '),
    host_keys: views,
  };
  // accept-new is checked as strict here: doctor never writes to known_hosts.
  const strictly = (p: HostKeyPolicy): HostKeyPolicy => (p === 'accept-new' ? 'strict' : p);
  const res = await collectHost({
    name: parsed.host, label: host, host: r.host, port: r.port,
    collections: [{ type: 'doctor', command: 'uname -sr', multi: false, timeoutMs: 10_000, enabled: true }],
    ssh: { ...r.ssh, hostKeyPolicy: strictly(r.ssh.hostKeyPolicy) },
    ...(r.hostKeyAlias ? { hostKeyAlias: r.hostKeyAlias } : {}),
    ...(r.jump ? { jump: r.jump.map((h) => ({ ...h, hostKeyPolicy: strictly(h.hostKeyPolicy) })) } : {}),
    // The route a run takes, never a direct connection the operator routed elsewhere.
    ...(r.proxyCommand ? { proxyCommand: r.proxyCommand } : {}),
    deadlineAt: Date.now() + r.ssh.connectTimeoutMs + 15_000,
  });
  const value = res.collections[0]?.values?.default;
  const learning = views.some((v) => v.policy === 'accept-new');
  const hint = res.code === 'HOSTKEY' || (res.code === 'JUMP' && /HOSTKEY/.test(res.message ?? '')) ? (learning ? ' (unknown keys are learned by a real run; doctor does not write known_hosts)' : '') : '';
  return [keys, {
    name: connect,
    ok: res.outcome === 'ok',
    detail: res.outcome === 'ok' ? `ok in ${res.finishedAt - res.startedAt} ms: ${value}` : `${res.outcome} ${res.code ?? ''}: ${res.message ?? ''}${hint}`,
  }];
}
