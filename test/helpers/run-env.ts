// Builds a scheduler.ini + server4.csv + collector.ini for a fixture fleet in a test folder.
import fs from 'node:fs';
import path from 'node:path';

export interface EnvOptions {
  dir: string;
  keyPath: string;
  knownHosts: string;
  port: number;
  /** inventory lines (hostname,srvtype,pop,status[,notes]) */
  rows: string[];
  ini?: Record<string, Record<string, string>>;
  /** collector.ini text; default: four quick collections with a 2 s timeout */
  collectors?: string;
}

export const QUICK_COLLECTORS = `
[release]
multi = true
collection = cat /etc/os-release
timeout = 2s

[rkernel]
collection = uname -r
timeout = 2s

[packages]
multi = true
collection = dpkg-query -W
timeout = 2s

[memory]
multi = true
collection = grep -E '^(MemTotal|SwapTotal):' /proc/meminfo
timeout = 2s
`;

export function writeEnv(o: EnvOptions): { ini: string; csv: string; db: string } {
  const sections: Record<string, Record<string, string>> = {
    GLOBAL: { lockfile: 'var/jf.lock' },
    paramiko: { paramiko_user: 'tester', paramiko_key: o.keyPath, port: String(o.port), known_hosts: o.knownHosts, host_key_policy: 'strict', connect_timeout: '3s', system_ssh_config: 'none', global_known_hosts: 'none' },
    collector: { collconfig: 'collector.ini', servercsv: 'server4.csv', threads: '64', workers: '0', threadtimeout: '60s', host_timeout: '20s' },
    storage: { database: 'var/jf.db' },
    results: { output_json_file: 'true', result_json: 'var/out.json' },
  };
  for (const [sec, kv] of Object.entries(o.ini ?? {})) sections[sec] = { ...(sections[sec] ?? {}), ...kv };
  const text = Object.entries(sections).map(([s, kv]) => `[${s}]\n${Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`).join('\n');
  fs.writeFileSync(path.join(o.dir, 'scheduler.ini'), text);
  fs.writeFileSync(path.join(o.dir, 'server4.csv'), o.rows.join('\n') + '\n');
  fs.writeFileSync(path.join(o.dir, 'collector.ini'), o.collectors ?? QUICK_COLLECTORS);
  return { ini: path.join(o.dir, 'scheduler.ini'), csv: path.join(o.dir, 'server4.csv'), db: path.join(o.dir, 'var/jf.db') };
}

/** The SPEC §6 invariants that monitoring relies on (the shared checker's rules, in-process). */
export function statusProblems(json: Record<string, unknown>, inventory: string[]): string[] {
  const problems: string[] = [];
  const lists = ['global_success_hosts', 'global_fail_hosts', 'sapi_hosts', 'not_started_hosts'];
  const seen = new Map<string, string[]>();
  for (const k of [...lists, 'global_fail_prod']) {
    const list = json[`${k}_list`];
    if (!Array.isArray(list)) { problems.push(`${k}_list missing`); continue; }
    if (json[k] !== list.length) problems.push(`${k} != len(${k}_list)`);
    if (k === 'global_fail_prod') continue;
    for (const h of list as string[]) seen.set(h, [...(seen.get(h) ?? []), k]);
  }
  for (const [h, where] of seen) if (where.length > 1) problems.push(`${h} in ${where.join(', ')}`);
  for (const h of inventory) if (!seen.has(h)) problems.push(`${h} in no list`);
  const failures = json.failures as Record<string, unknown>;
  for (const h of (json.global_fail_hosts_list as string[]) ?? []) if (!failures?.[h]) problems.push(`${h} has no failures entry`);
  if (typeof json.jobtime !== 'number') problems.push('jobtime not a number');
  return problems;
}

/** Remove a key that writeEnv set (writeEnv sets host_key_policy = strict), so its default or an ssh_config applies. */
export function unsetIniKey(ini: string, key: string): void {
  fs.writeFileSync(ini, fs.readFileSync(ini, 'utf8').split('\n').filter((l) => !l.startsWith(`${key} = `)).join('\n'));
}
