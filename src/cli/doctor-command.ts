// `jellyfish doctor`: is this configuration ready for cron?
import type { Command } from 'commander';
import { runDoctor } from '../app/doctor.js';
import { renderJson } from '../report/status-json.js';
import { cell } from '../report/table.js';
import { addConfigFlag, addInventoryFlag, configFrom, inventoryFrom, type CommonFlags } from './options.js';

export function registerDoctor(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('doctor')
    .description('check a configuration end to end: INI, inventory, collections, SSH key, known_hosts, database, lock folder, and (with --host) one real connection')
    .option('--host <host>', 'also connect to this host (as written in the inventory: name, name:port, [v6]:port) and run `uname -sr`')
    .option('--json', 'print the checks as JSON')
    .option('--compact', 'print the JSON on one line (implies --json)');
  addConfigFlag(cmd);
  addInventoryFlag(cmd);
  cmd.addHelpText('after', '\nExit codes: 0 every check passed, 1 at least one failed, 78 the INI itself is invalid.');
  cmd.action(async (flags: CommonFlags & { host?: string; json?: boolean }) => {
    const config = configFrom(flags);
    const checks = await runDoctor(config, inventoryFrom(flags, config), flags.host);
    if (flags.json || flags.compact) {
      process.stdout.write(renderJson({ ok: checks.every((c) => c.ok), checks }, Boolean(flags.compact)) + '\n');
    } else {
      const width = Math.max(...checks.map((c) => c.name.length));
      // The detail may hold a host's own words (its output, its DISCONNECT text): escaped.
      for (const c of checks) process.stdout.write(cell(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`) + '\n');
    }
    setExit(checks.every((c) => c.ok) ? 0 : 1);
  });
}
