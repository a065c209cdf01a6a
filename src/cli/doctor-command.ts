// `jellyfish doctor`: is this configuration ready for cron?
import type { Command } from 'commander';
import { renderOutput } from '../report/output.js';
import { cell } from '../report/table.js';
import { addConfigFlag, addInventoryFlag, addOutputFlags, configFrom, inventoryFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';

export function registerDoctor(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('doctor')
    .description('check a configuration end to end: INI, inventory, collections, SSH key, known_hosts, database, lock folder, and (with --host) one real connection')
    .option('--host <host>', 'also connect to this host (as written in the inventory: name, name:port, [v6]:port) and run `uname -sr`')
  addOutputFlags(cmd, ['table', 'json']);
  addConfigFlag(cmd);
  addInventoryFlag(cmd);
  cmd.addHelpText('after', '\nExit codes: 0 every check passed, 1 at least one failed, 78 the INI itself is invalid.');
  cmd.action(async (flags: CommonFlags & OutputFlags & { host?: string }) => {
    const out = outputFormat(flags);
    const config = configFrom(flags);
    const { runDoctor } = await import('../app/doctor.js');
    const checks = await runDoctor(config, inventoryFrom(flags, config), flags.host);
    const width = Math.max(...checks.map((c) => c.name.length));
    // The detail may hold a host's own words (its output, its DISCONNECT text): escaped.
    process.stdout.write(renderOutput(out, {
      json: () => ({ ok: checks.every((c) => c.ok), checks }),
      table: () => checks.map((c) => `${cell(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`)}\n`).join(''),
    }));
    setExit(checks.every((c) => c.ok) ? 0 : 1);
  });
}
