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
import type { SshSettings } from '../pool/messages.js';
import { loadKnownHosts } from '../ssh/known-hosts.js';
import { isPostgresUrl, openAnyStore } from '../store/store.js';
import { buildSshSettings } from './ssh-settings.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
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

function writableFolder(file: string): string {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A random name, created exclusively: a link planted at a guessable one is never followed.
  const probe = path.join(dir, `.jellyfish-doctor-${crypto.randomBytes(8).toString('hex')}`);
  fs.closeSync(fs.openSync(probe, 'wx', 0o600));
  fs.unlinkSync(probe);
  return `${dir} is writable`;
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
    fs.accessSync(file, fs.constants.R_OK);
    return `${file}: ${loadKnownHosts(file).size} entries, policy ${config.ssh.hostKeyPolicy}`;
  }));
  checks.push(await attemptAsync('database', async () => {
    const store = await openAnyStore(config.storage.database);
    try {
      const integrity = await store.integrityCheck();
      if (integrity !== 'ok') throw new Error(`${store.path}: integrity_check says ${integrity}`);
      const kind = store.dialect === 'postgresql' ? 'PostgreSQL database' : 'SQLite file';
      return `${kind} ${store.path} opens read-write, schema current, integrity ok, ${await store.factRowCount()} fact rows`;
    } finally {
      await store.close();
    }
  }));
  // With PostgreSQL the run locks are advisory locks in the database; the lock folder still holds gap-fix's.
  checks.push(attempt('lock', () => `${writableFolder(config.lockfile)}${isPostgresUrl(config.storage.database) ? ' (with PostgreSQL the run and gap-fix locks are advisory locks per site)' : ''}`));
  if (config.results.outputJsonFile) checks.push(attempt('result_json', () => writableFolder(config.results.resultJson)));
  if (host !== undefined) {
    if (!ssh) {
      checks.push({ name: `connect ${host}`, ok: false, detail: 'skipped: no usable SSH credentials' });
    } else {
      const parsed = parseHostField(host);
      if ('reason' in parsed) {
        checks.push({ name: `connect ${host}`, ok: false, detail: parsed.reason });
      } else {
        const r = await collectHost({
          name: parsed.host, label: host, host: parsed.host, port: parsed.port ?? config.ssh.port,
          collections: [{ type: 'doctor', command: 'uname -sr', multi: false, timeoutMs: 10_000, enabled: true }],
          ssh: { ...ssh, hostKeyPolicy: config.ssh.hostKeyPolicy === 'accept-new' ? 'strict' : ssh.hostKeyPolicy },
          deadlineAt: Date.now() + config.ssh.connectTimeoutMs + 15_000,
        });
        const value = r.collections[0]?.values?.default;
        // accept-new is checked as strict here: doctor never writes to known_hosts.
        const hint = r.code === 'HOSTKEY' && config.ssh.hostKeyPolicy === 'accept-new' ? ' (unknown keys are learned by a real run; doctor does not write known_hosts)' : '';
        checks.push({
          name: `connect ${host}`,
          ok: r.outcome === 'ok',
          detail: r.outcome === 'ok' ? `ok in ${r.finishedAt - r.startedAt} ms: ${value}` : `${r.outcome} ${r.code ?? ''}: ${r.message ?? ''}${hint}`,
        });
      }
    }
  }
  return checks;
}
