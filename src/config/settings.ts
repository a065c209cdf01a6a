// The one settings table: it drives the INI parser, the CLI override flags and the --help text,
// so the three cannot drift apart.
import { MAX_SHARDS } from '../inventory/sites.js';

export type SettingKind = 'string' | 'path' | 'database' | 'int' | 'duration' | 'bool' | 'size' | 'list' | 'workers' | 'percent'
  | 'sites' | 'shard' | 'paths' | 'listen' | { oneOf: readonly string[] };

export interface SettingDef {
  section: string;
  key: string;
  kind: SettingKind;
  /** default, in INI text form; undefined = "not set" (the meaning is in doc) */
  default?: string;
  doc: string;
  /** a CLI flag that overrides the INI value for one run, e.g. `--threads <n>` */
  flag?: string;
}

export const SETTINGS: readonly SettingDef[] = [
  { section: 'GLOBAL', key: 'lockfile', kind: 'path', default: 'var/jellyfish.lock', doc: 'the run lock (a proper-lockfile directory <lockfile>.lock appears beside it)' },
  { section: 'paramiko', key: 'paramiko_user', kind: 'string', doc: 'SSH user (default: the current user)' },
  { section: 'paramiko', key: 'paramiko_key', kind: 'path', doc: 'private key file, not group/world readable (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)' },
  { section: 'paramiko', key: 'port', kind: 'int', default: '22', doc: 'default SSH port (a host:port in the inventory wins)' },
  { section: 'paramiko', key: 'ipv4', kind: 'bool', default: 'false', doc: 'resolve and connect over IPv4 only' },
  { section: 'paramiko', key: 'ipv6', kind: 'bool', default: 'false', doc: 'resolve and connect over IPv6 only' },
  { section: 'paramiko', key: 'connect_timeout', kind: 'duration', default: '10s', doc: 'TCP connect + SSH handshake + authentication', flag: '--connect-timeout <duration>' },
  { section: 'paramiko', key: 'host_key_policy', kind: { oneOf: ['strict', 'accept-new', 'off'] }, default: 'accept-new', doc: 'strict: key must be in known_hosts; accept-new: learn unknown keys, refuse changed ones; off: no check (warns every run)', flag: '--host-key-policy <policy>' },
  { section: 'paramiko', key: 'known_hosts', kind: 'path', default: '~/.ssh/known_hosts', doc: 'OpenSSH known_hosts file (hashed entries included)' },
  { section: 'paramiko', key: 'global_known_hosts', kind: 'paths', default: '/etc/ssh/ssh_known_hosts, /etc/ssh/ssh_known_hosts2', doc: 'system-wide known_hosts files (comma list) consulted after known_hosts, never written; `none` = none; an ssh_config GlobalKnownHostsFile applies when this is not set' },
  { section: 'paramiko', key: 'system_ssh_config', kind: 'path', default: '/etc/ssh/ssh_config', doc: 'system-wide OpenSSH client config, read after ssh_config (the first value obtained wins); as with `ssh -F`, an explicit ssh_config leaves it unread unless this is set too; `none` = do not read it' },
  { section: 'paramiko', key: 'ssh_config', kind: 'path', doc: 'OpenSSH client config read per host (HostName, User, Port, IdentityFile, ProxyJump, ...); INI keys that are set win; `none` = do not read one (default: ~/.ssh/config if it exists)', flag: '-F, --ssh-config <file>' },
  { section: 'collector', key: 'collconfig', kind: 'path', doc: 'collections file (default: the shipped config/collector.ini)' },
  { section: 'collector', key: 'servercsv', kind: 'path', default: 'server4.csv', doc: 'the inventory' },
  { section: 'collector', key: 'threads', kind: 'int', default: '256', doc: 'host pipelines in flight at once', flag: '--threads <n>' },
  { section: 'collector', key: 'workers', kind: 'workers', default: 'auto', doc: 'worker threads carrying the pipelines (auto, or a number; 0 = the main thread)', flag: '--workers <n>' },
  { section: 'collector', key: 'threadtimeout', kind: 'duration', default: '8h', doc: 'wall-clock limit of the whole run', flag: '--threadtimeout <duration>' },
  { section: 'collector', key: 'host_timeout', kind: 'duration', default: '5m', doc: 'limit for one host, connect to last byte', flag: '--host-timeout <duration>' },
  { section: 'collector', key: 'prod_statuses', kind: 'list', default: 'prod', doc: 'inventory statuses that mean production (comma list, case-insensitive)' },
  { section: 'collector', key: 'order', kind: { oneOf: ['stale-first', 'shuffle', 'file'] }, default: 'stale-first', doc: 'stale-first: prod first, never-collected then oldest success first; shuffle: prod shuffled then the rest in file order; file', flag: '--order <order>' },
  { section: 'collector', key: 'max_facts', kind: 'int', default: '100000', doc: 'facts one collection may yield on one host; beyond it the collection fails with code FACT_CAP' },
  { section: 'collector', key: 'sites', kind: 'sites', default: '', doc: 'the sites (inventory pop column) this collector covers: comma list, case-insensitive; empty = all sites', flag: '--site <list>' },
  { section: 'collector', key: 'shard', kind: 'shard', default: '', doc: 'K/N: collect only shard K of N of those hosts, by a stable hash of the hostname (port left out); empty = no shard', flag: '--shard <K/N>' },
  { section: 'storage', key: 'database', kind: 'database', default: 'var/jellyfish.db', doc: 'SQLite file (created 0600 in a 0700 folder), or postgresql://user@host:port/db for a store shared by several collectors (password from PGPASSWORD or ~/.pgpass, never here)' },
  { section: 'storage', key: 'max_output', kind: 'size', default: '8MB', doc: 'per-host output cap; more is cut and the host marked partial' },
  { section: 'sapi', key: 'max_age', kind: 'duration', default: '3d', doc: 'hosts that pushed (ingest or the API) within this are skipped' },
  { section: 'sapi', key: 'verify_every', kind: 'duration', default: '7d', doc: 'a pushing host is still collected over SSH when its last SSH attempt is older than this (or it never had one)' },
  { section: 'sapi', key: 'max_skew', kind: 'duration', default: '5m', doc: "how far in the future a pushed document's timestamp may be" },
  { section: 'sapi', key: 'max_document', kind: 'size', default: '64MB', doc: 'the largest pushed document' },
  { section: 'gapfix', key: 'threads', kind: 'int', default: '16', doc: 'pipelines in flight for gap-fix' },
  { section: 'gapfix', key: 'threadtimeout', kind: 'duration', default: '1h', doc: 'wall-clock limit of a gap-fix run' },
  { section: 'gapfix', key: 'max_age', kind: 'duration', default: '1d', doc: 'how recent a success must be for gap-fix to leave a prod host alone' },
  { section: 'analyze', key: 'audits', kind: 'paths', doc: 'audit folders, comma list, read recursively (default: the shipped config/audits.d)' },
  { section: 'analyze', key: 'max_age', kind: 'duration', default: '2d', doc: 'only hosts with a successful collection (SSH or push) this recent are audited; the rest count as stale' },
  { section: 'analyze', key: 'lockfile', kind: 'path', default: 'var/jellyfish-analyze.lock', doc: "analyze's own lock (when not set: beside [GLOBAL] lockfile, its name with -analyze)" },
  { section: 'api', key: 'listen', kind: 'listen', default: '127.0.0.1:8422', doc: 'address:port `serve` listens on ([::1]:8422 for IPv6)', flag: '--listen <addr:port>' },
  { section: 'api', key: 'tls_cert', kind: 'path', doc: 'PEM certificate: HTTPS when tls_cert and tls_key are both set' },
  { section: 'api', key: 'tls_key', kind: 'path', doc: 'PEM private key for tls_cert (not group/world readable)' },
  { section: 'api', key: 'max_body', kind: 'size', default: '64MB', doc: 'the largest request body `serve` accepts (413 above it)' },
  { section: 'api', key: 'ui_auth', kind: { oneOf: ['token', 'none'] }, default: 'token', doc: 'the fleet pages need a read token (token), or are open (none: a loopback listen only)' },
  { section: 'results', key: 'output_json_file', kind: 'bool', default: 'false', doc: 'also write the final JSON to result_json (atomically)' },
  { section: 'results', key: 'result_json', kind: 'path', default: 'var/sched_output.json', doc: 'where output_json_file writes' },
  { section: 'results', key: 'metrics_file', kind: 'path', doc: 'also write Prometheus textfile-collector metrics here at the end of every run and gap-fix (atomically)' },
  { section: 'results', key: 'max_fail_percent', kind: 'percent', default: '100', doc: 'exit 1 when more hosts failed than this share of those attempted (and always when none succeeded)' },
];

/** Old keys that are accepted and ignored (with the warning, when one is given). */
export const LEGACY_KEYS: readonly { section: string; key: string; warning?: string }[] = [
  { section: 'GLOBAL', key: 'jellyfish_version' },
  { section: 'storage', key: 'storeconfig', warning: '[storage] storeconfig (the old MySQL settings) is ignored; jellyfish stores into [storage] database' },
];

/** `--threads <n>` or `-F, --ssh-config <file>` -> `threads` / `ssh-config`. */
export function longFlagName(flag: string): string {
  return (/--([a-z0-9-]+)/.exec(flag)?.[1]) ?? flag;
}

export function settingId(section: string, key: string): string {
  return `${section.toLowerCase()}.${key.toLowerCase()}`;
}

export function describeKind(kind: SettingKind): string {
  if (typeof kind === 'object') return `one of ${kind.oneOf.join(', ')}`;
  switch (kind) {
    case 'duration': return 'a duration such as 30, 30s, 5m, 8h or 3d';
    case 'bool': return 'a boolean (true/false/yes/no/1/0)';
    case 'int': return 'a whole number';
    case 'size': return 'a size such as 8MB, 512KB or 1048576';
    case 'workers': return '"auto" or a whole number';
    case 'percent': return 'a number from 0 to 100';
    case 'list': return 'a comma-separated list';
    case 'sites': return "a comma-separated list of site names (no spaces or '/'; empty = all sites)";
    case 'shard': return `K/N with whole numbers 1 <= K <= N <= ${MAX_SHARDS} (empty = no shard)`;
    case 'path': return 'a file path';
    case 'paths': return 'a comma-separated list of paths';
    case 'listen': return 'host:port, e.g. 127.0.0.1:8422 or [::1]:8422';
    case 'database': return 'a SQLite file path or a postgresql://user@host:port/dbname URL';
    case 'string': return 'text';
  }
}
