// Flags shared by the commands, and the settings-table override flags.
import { Option, type Command } from 'commander';
import { SETTINGS, longFlagName, settingId } from '../config/settings.js';
import { loadConfig, type Config } from '../config/load.js';
import path from 'node:path';

export interface CommonFlags {
  config?: string;
  servercsv?: string;
  verbose?: boolean;
  compact?: boolean;
  [flag: string]: unknown;
}

export function addConfigFlag(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'scheduler.ini: names the database, lock, inventory and settings', undefined);
}

export function addInventoryFlag(cmd: Command): Command {
  return cmd.option('-b, --servercsv <file>', 'the inventory CSV (default: [collector] servercsv, else ./server4.csv)');
}

/** One `--flag` per settings-table row that declares one, with the row's doc and default. */
export function addOverrideFlags(cmd: Command): Command {
  for (const s of SETTINGS) {
    if (!s.flag) continue;
    cmd.addOption(new Option(s.flag, `${s.doc} (overrides [${s.section}] ${s.key}${s.default ? `, default ${s.default}` : ''})`));
  }
  return cmd;
}

/** Only the site flags (`--site`, `--shard`), for commands that take no other override. */
export function addSiteFlags(cmd: Command): Command {
  for (const s of SETTINGS) {
    if (s.flag && s.section === 'collector' && (s.key === 'sites' || s.key === 'shard')) {
      cmd.addOption(new Option(s.flag, `${s.doc} (overrides [${s.section}] ${s.key})`));
    }
  }
  return cmd;
}

function camel(flag: string): string {
  const name = longFlagName(flag);
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function overridesFrom(flags: CommonFlags): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of SETTINGS) {
    if (!s.flag) continue;
    const v = flags[camel(s.flag)];
    if (typeof v === 'string') out.set(settingId(s.section, s.key), v);
  }
  return out;
}

export function configFrom(flags: CommonFlags): Config {
  return loadConfig({ ...(flags.config !== undefined ? { file: flags.config } : {}), overrides: overridesFrom(flags) });
}

/** -b wins; else the INI's [collector] servercsv (resolved against the INI's folder). */
export function inventoryFrom(flags: CommonFlags, config: Config): string {
  return flags.servercsv ? path.resolve(flags.servercsv) : config.collector.servercsv;
}
