// Flags shared by the commands, and the settings-table override flags.
import { Option, type Command } from 'commander';
import { SETTINGS, longFlagName, settingId } from '../config/settings.js';
import { loadConfig, type Config } from '../config/load.js';
import { UsageError } from '../core/errors.js';
import { OUTPUT_FORMATS, type OutputFormat, type OutputOptions } from '../report/output.js';
import path from 'node:path';

export interface CommonFlags {
  config?: string;
  servercsv?: string;
  verbose?: boolean;
  [flag: string]: unknown;
}

export interface OutputFlags {
  format?: OutputFormat;
  json?: boolean;
  compact?: boolean;
  /** false with --no-headers */
  headers?: boolean;
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

/**
 * The output flags of a command that prints an answer: `--format` (the formats it has), `--json`
 * (= `--format json`), `--compact` (JSON on one line; implies --json) and, where there is a header
 * row to drop, `--no-headers`. Read them back with `outputFormat`.
 */
export function addOutputFlags(cmd: Command, formats: readonly OutputFormat[] = OUTPUT_FORMATS): Command {
  cmd.addOption(new Option('--format <format>', 'output format (default table)').choices(formats));
  cmd.option('--json', 'the same as --format json (sorted keys)');
  cmd.option('--compact', 'print the JSON on one line (implies --json)');
  if (formats.includes('csv')) cmd.option('--no-headers', 'no header row in table and csv output');
  return cmd;
}

export function outputFormat(flags: OutputFlags): OutputOptions {
  const f = flags.format;
  if (flags.json && f !== undefined && f !== 'json') throw new UsageError(`--json is --format json: it cannot go with --format ${f}`);
  if (flags.compact && f !== undefined && f !== 'json' && f !== 'ndjson') throw new UsageError(`--compact is for JSON: it cannot go with --format ${f}`);
  return { format: f ?? (flags.json || flags.compact ? 'json' : 'table'), compact: Boolean(flags.compact), headers: flags.headers !== false };
}

/** A repeatable, comma-separated option's values: `--site ams --site fra,lon` is [ams, fra, lon]. */
export const collectList = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export interface HostFilterFlags { site?: string[]; srvtype?: string[]; prod?: boolean }

/**
 * The read commands' host filters (SPEC §9 targeting), on the stored hosts' inventory columns:
 * `--site` (pop, any case), `--srvtype`, `--prod`. Several values of one flag are alternatives
 * (OR); different flags combine (AND).
 */
export function addHostFilterFlags(cmd: Command): Command {
  return cmd
    .option('--site <site>', "only hosts of this site (the inventory's pop, any case; repeatable, or comma-separated)", collectList)
    .option('--srvtype <srvtype>', 'only hosts of this server type (repeatable, or comma-separated)', collectList)
    .option('--prod', 'only production hosts');
}

/** The filters the flags give, absent ones left out (the request echoes only what was asked). */
export function hostFilterFrom(flags: HostFilterFlags): { sites?: string[]; srvtypes?: string[]; prod?: true } {
  return {
    ...(flags.site?.length ? { sites: flags.site } : {}),
    ...(flags.srvtype?.length ? { srvtypes: flags.srvtype } : {}),
    ...(flags.prod ? { prod: true as const } : {}),
  };
}
