// scheduler.ini -> frozen, filled, typed Config. Values come from the `ini` package; a line scan
// beside it keeps line numbers, because `ini` drops them and every error must name file:line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ini from 'ini';
import { ConfigError, UsageError } from '../core/errors.js';
import { LEGACY_KEYS, SETTINGS, describeKind, longFlagName, settingId, type SettingDef } from './settings.js';
import { parseBool, parseDuration, parseInteger, parseList, parseShard, parseSites, parseSize } from './values.js';

import type { Order } from '../inventory/order.js';
import type { Shard } from '../inventory/sites.js';
import type { HostKeyPolicy } from '../core/ssh-types.js';
import { databaseUrlProblem, displayUrl, isDatabaseFile } from '../store/database.js';

export interface Config {
  /** the INI file read, or undefined when none was found and defaults apply */
  file: string | undefined;
  warnings: string[];
  /** settingId()s given in the INI or by a flag: where an OpenSSH client config may not override */
  explicit: ReadonlySet<string>;
  lockfile: string;
  ssh: {
    user: string;
    key: string | undefined;
    port: number;
    family: 0 | 4 | 6;
    connectTimeoutMs: number;
    hostKeyPolicy: HostKeyPolicy;
    knownHosts: string;
    /** OpenSSH client config to read per host; undefined = none */
    sshConfig: string | undefined;
    /** the system-wide client config read after it; undefined = none */
    systemSshConfig: string | undefined;
    /** read-only known_hosts files consulted after knownHosts */
    globalKnownHosts: string[];
  };
  collector: {
    collconfig: string;
    servercsv: string;
    threads: number;
    workers: number | 'auto';
    threadtimeoutMs: number;
    hostTimeoutMs: number;
    prodStatuses: string[];
    /** facts one collection may yield on one host before it fails with FACT_CAP */
    maxFacts: number;
    order: Order;
    /** lower-cased site (pop) names this collector covers; empty = all sites */
    sites: string[];
    /** this collector's shard of those hosts; undefined = no shard */
    shard: Shard | undefined;
  };
  storage: { database: string; maxOutputBytes: number };
  sapi: { maxAgeMs: number; verifyEveryMs: number; maxSkewMs: number; maxDocumentBytes: number };
  analyze: { audits: string[]; maxAgeMs: number; lockfile: string };
  api: { host: string; port: number; tlsCert: string | undefined; tlsKey: string | undefined; maxBodyBytes: number; uiAuth: 'token' | 'none' };
  gapfix: { threads: number; threadtimeoutMs: number; maxAgeMs: number };
  results: { outputJsonFile: boolean; resultJson: string; maxFailPercent: number; metricsFile: string | undefined };
}

/** The shipped collector.ini, found from this file's place in src/ or dist/. */
export const SHIPPED_COLLCONFIG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../config/collector.ini');
/** The shipped sample audits. */
export const SHIPPED_AUDITS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../config/audits.d');

/** `host:port`, `[v6]:port`: the address `serve` listens on. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text.trim()) ?? /^([^:\s\[\]]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

const BY_ID = new Map(SETTINGS.map((s) => [settingId(s.section, s.key), s]));
const LEGACY_BY_ID = new Map(LEGACY_KEYS.map((l) => [settingId(l.section, l.key), l]));
const SECTIONS = new Set([...SETTINGS, ...LEGACY_KEYS].map((s) => s.section.toLowerCase()));

interface Located { text: string; line: number }

/** Text from the file as shown in a message: control bytes escaped, long runs cut. */
function printable(text: string): string {
  const cut = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) => (c === '\ufffd' ? '?' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** Where each section.key sits, and the unknown ones, by scanning the raw lines. */
function scanLines(file: string, raw: string): Map<string, Located> {
  const found = new Map<string, Located>();
  let section: string | undefined;
  const lines = raw.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((lineText, i) => {
    const line = i + 1;
    const t = lineText.trim();
    if (t === '' || t.startsWith(';') || t.startsWith('#')) return;
    const sec = /^\[([^\]]*)\]\s*([;#].*)?$/.exec(t);
    if (sec) {
      section = (sec[1] ?? '').trim();
      if (!SECTIONS.has(section.toLowerCase())) {
        throw new ConfigError(`${file}:${line}: unknown section [${printable(section)}]; known sections: ${[...new Set(SETTINGS.map((s) => s.section))].map((s) => `[${s}]`).join(' ')}`);
      }
      return;
    }
    const eq = t.indexOf('=');
    const key = (eq < 0 ? t : t.slice(0, eq)).trim();
    if (section === undefined) throw new ConfigError(`${file}:${line}: '${printable(key)}' is outside any [section]`);
    if (eq < 0) throw new ConfigError(`${file}:${line}: [${printable(section)}] ${printable(key)}: expected 'key = value'`);
    const id = settingId(section, key);
    if (!BY_ID.has(id) && !LEGACY_BY_ID.has(id)) {
      const known = SETTINGS.filter((s) => s.section.toLowerCase() === section!.toLowerCase()).map((s) => s.key);
      throw new ConfigError(`${file}:${line}: unknown key '${printable(key)}' in [${printable(section)}]; known keys: ${known.join(', ')}`);
    }
    if (found.has(id)) throw new ConfigError(`${file}:${line}: [${section}] ${key} is set twice (first on line ${found.get(id)!.line})`);
    found.set(id, { text: t.slice(eq + 1).trim(), line });
  });
  return found;
}

/** The value text `ini` made of a key (quotes and inline comments handled), found case-insensitively. */
function iniValue(parsed: Record<string, unknown>, def: SettingDef): string | undefined {
  for (const [sec, body] of Object.entries(parsed)) {
    if (sec.toLowerCase() !== def.section.toLowerCase() || typeof body !== 'object' || body === null) continue;
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (k.toLowerCase() === def.key.toLowerCase()) return typeof v === 'string' ? v : String(v);
    }
  }
  return undefined;
}

export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return p;
}

/** Check and convert one value; `where` names file:line (or the flag) in the message. */
export function convertSetting(def: SettingDef, text: string, where: string, baseDir: string): unknown {
  const bad = (): never => {
    // A database URL is shown masked: a secret in it must not reach a log through its own error.
    const shown = def.kind === 'database' ? displayUrl(text) : text;
    throw new ConfigError(`${where}: [${def.section}] ${def.key} = '${shown}': expected ${describeKind(def.kind)}`);
  };
  const kind = def.kind;
  if (typeof kind === 'object') {
    const v = text.trim().toLowerCase();
    return kind.oneOf.includes(v) ? v : bad();
  }
  switch (kind) {
    case 'string': return text;
    case 'path': return text === '' ? bad() : path.resolve(baseDir, expandHome(text));
    case 'database': {
      if (text === '') return bad();
      if (isDatabaseFile(text)) return path.resolve(baseDir, expandHome(text));
      const problem = databaseUrlProblem(text);
      if (problem && 'malformed' in problem) return bad();
      if (problem) throw new ConfigError(`${where}: [${def.section}] ${def.key}: ${problem.refused}`);
      return text;
    }
    case 'list': return parseList(text);
    case 'paths': { const l = parseList(text); return l.length === 0 ? bad() : l.map((p) => path.resolve(baseDir, expandHome(p))); }
    case 'listen': return parseListen(text) ?? bad();
    case 'sites': return parseSites(text) ?? bad();
    case 'shard': return text.trim() === '' ? undefined : parseShard(text) ?? bad();
    case 'int': return parseInteger(text) ?? bad();
    case 'duration': { const v = parseDuration(text); return v === undefined || v <= 0 ? bad() : v; }
    case 'bool': return parseBool(text) ?? bad();
    case 'size': { const v = parseSize(text); return v === undefined || v <= 0 ? bad() : v; }
    case 'percent': { const v = Number(text.trim()); return text.trim() !== '' && Number.isFinite(v) && v >= 0 && v <= 100 ? v : bad(); }
    case 'workers': return text.trim().toLowerCase() === 'auto' ? 'auto' : parseInteger(text) ?? bad();
  }
}

export interface LoadOptions {
  /** -c as given; undefined = ./scheduler.ini if it exists */
  file?: string;
  /** flag overrides: settingId -> text */
  overrides?: Map<string, string>;
  cwd?: string;
}

/** `none` turns it off; unset means ~/.ssh/config when that file exists, as ssh(1) would. */
function sshConfigPath(setting: string | undefined): string | undefined {
  if (setting !== undefined) return path.basename(setting) === 'none' ? undefined : setting;
  const dflt = path.join(os.homedir(), '.ssh', 'config');
  return fs.existsSync(dflt) ? dflt : undefined;
}

/**
 * ssh(1) reads the system-wide file after the user's, but not when given `-F`: an explicit
 * ssh_config here is that `-F`, unless system_ssh_config is set too.
 */
function systemSshConfigPath(setting: string, explicit: ReadonlySet<string>): string | undefined {
  if (path.basename(setting) === 'none') return undefined;
  if (explicit.has(settingId('paramiko', 'ssh_config')) && !explicit.has(settingId('paramiko', 'system_ssh_config'))) return undefined;
  return fs.existsSync(setting) ? setting : undefined;
}

function currentUser(): string {
  try { return os.userInfo().username; } catch { return process.env.USER ?? 'root'; }
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const warnings: string[] = [];
  let file: string | undefined = path.resolve(cwd, opts.file ?? 'scheduler.ini');
  let raw = '';
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (opts.file === undefined && err.code === 'ENOENT') {
      warnings.push(`no ${file}: using built-in defaults (give one with -c)`);
      file = undefined;
    } else {
      throw new ConfigError(`${file}: cannot read: ${err.code === 'EISDIR' ? 'is a directory' : err.message}`);
    }
  }
  const baseDir = file ? path.dirname(file) : cwd;
  const located = file ? scanLines(file, raw) : new Map<string, Located>();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = file ? ini.parse(raw.replace(/^\uFEFF/, '')) : {};
  } catch (e) {
    throw new ConfigError(`${file}: not a valid INI file: ${(e as Error).message}`);
  }
  for (const [id, legacy] of LEGACY_BY_ID) if (located.has(id) && legacy.warning) warnings.push(legacy.warning);

  const values = new Map<string, unknown>();
  const explicit = new Set<string>();
  for (const def of SETTINGS) {
    const id = settingId(def.section, def.key);
    const over = opts.overrides?.get(id);
    const loc = located.get(id);
    if (over !== undefined || loc) explicit.add(id);
    if (over !== undefined) {
      const flag = `--${def.flag ? longFlagName(def.flag) : def.key}`;
      try {
        values.set(id, convertSetting(def, over, flag, cwd));
      } catch (e) {
        // A bad value on the command line is a usage error (64), not a broken config file (78).
        if (e instanceof ConfigError) throw new UsageError(e.message);
        throw e;
      }
    } else if (loc) {
      values.set(id, convertSetting(def, iniValue(parsed, def) ?? loc.text, `${file}:${loc.line}`, baseDir));
    } else if (def.default !== undefined) {
      values.set(id, convertSetting(def, def.default, `default of ${def.key}`, baseDir));
    }
  }
  const v = <T>(section: string, key: string): T => values.get(settingId(section, key)) as T;

  const ipv4 = v<boolean>('paramiko', 'ipv4');
  const ipv6 = v<boolean>('paramiko', 'ipv6');
  if (ipv4 && ipv6) throw new ConfigError(`${file ?? 'config'}: [paramiko] ipv4 and ipv6 are both true; set at most one`);
  const threads = v<number>('collector', 'threads');
  if (threads < 1) throw new ConfigError(`${file ?? 'config'}: [collector] threads must be at least 1`);
  const port = v<number>('paramiko', 'port');
  if (port < 1 || port > 65535) throw new ConfigError(`${file ?? 'config'}: [paramiko] port ${port} is out of range 1-65535`);
  if (v<number>('gapfix', 'threads') < 1) throw new ConfigError(`${file ?? 'config'}: [gapfix] threads must be at least 1`);
  const policy = v<HostKeyPolicy>('paramiko', 'host_key_policy');
  if (policy === 'off') warnings.push('host_key_policy = off: host keys are NOT verified; any server can impersonate a host');

  return Object.freeze({
    file,
    warnings,
    explicit,
    lockfile: v<string>('GLOBAL', 'lockfile'),
    ssh: Object.freeze({
      user: v<string | undefined>('paramiko', 'paramiko_user') || currentUser(),
      key: v<string | undefined>('paramiko', 'paramiko_key'),
      port,
      family: ipv4 ? 4 : ipv6 ? 6 : 0,
      connectTimeoutMs: v<number>('paramiko', 'connect_timeout'),
      hostKeyPolicy: policy,
      knownHosts: v<string>('paramiko', 'known_hosts'),
      sshConfig: sshConfigPath(v<string | undefined>('paramiko', 'ssh_config')),
      systemSshConfig: systemSshConfigPath(v<string>('paramiko', 'system_ssh_config'), explicit),
      globalKnownHosts: v<string[]>('paramiko', 'global_known_hosts').filter((f) => path.basename(f) !== 'none'),
    }),
    collector: Object.freeze({
      collconfig: v<string | undefined>('collector', 'collconfig') ?? SHIPPED_COLLCONFIG,
      servercsv: v<string>('collector', 'servercsv'),
      threads,
      workers: v<number | 'auto'>('collector', 'workers'),
      threadtimeoutMs: v<number>('collector', 'threadtimeout'),
      hostTimeoutMs: v<number>('collector', 'host_timeout'),
      prodStatuses: v<string[]>('collector', 'prod_statuses').map((s) => s.toLowerCase()),
      maxFacts: v<number>('collector', 'max_facts'),
      order: v<Order>('collector', 'order'),
      sites: v<string[]>('collector', 'sites'),
      shard: v<Shard | undefined>('collector', 'shard'),
    }),
    storage: Object.freeze({ database: v<string>('storage', 'database'), maxOutputBytes: v<number>('storage', 'max_output') }),
    sapi: Object.freeze({
      maxAgeMs: v<number>('sapi', 'max_age'),
      verifyEveryMs: v<number>('sapi', 'verify_every'),
      maxSkewMs: v<number>('sapi', 'max_skew'),
      maxDocumentBytes: v<number>('sapi', 'max_document'),
    }),
    analyze: Object.freeze({
      audits: v<string[] | undefined>('analyze', 'audits') ?? [SHIPPED_AUDITS],
      maxAgeMs: v<number>('analyze', 'max_age'),
      lockfile: v<string>('analyze', 'lockfile'),
    }),
    api: Object.freeze({
      ...v<{ host: string; port: number }>('api', 'listen'),
      tlsCert: v<string | undefined>('api', 'tls_cert'),
      tlsKey: v<string | undefined>('api', 'tls_key'),
      maxBodyBytes: v<number>('api', 'max_body'),
      uiAuth: v<'token' | 'none'>('api', 'ui_auth'),
    }),
    gapfix: Object.freeze({ threads: v<number>('gapfix', 'threads'), threadtimeoutMs: v<number>('gapfix', 'threadtimeout'), maxAgeMs: v<number>('gapfix', 'max_age') }),
    results: Object.freeze({
      outputJsonFile: v<boolean>('results', 'output_json_file'),
      resultJson: v<string>('results', 'result_json'),
      maxFailPercent: v<number>('results', 'max_fail_percent'),
      metricsFile: v<string | undefined>('results', 'metrics_file'),
    }),
  });
}
