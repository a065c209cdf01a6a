// `jellyfish facts HOST`: what a host looks like now, or its whole history.
import type { Command } from 'commander';
import { renderJson } from '../report/status-json.js';
import { renderTable } from '../report/table.js';
import { hostExists, hostFacts } from '../store/queries.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';
import { withReadStore } from './read-store.js';

export function registerFacts(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('facts')
    .argument('<host>', 'the host as written in the inventory')
    .description("a host's current facts (type, subtype, value, since when); --history for every interval")
    .option('--type <type>', 'only this collection type (e.g. packages)')
    .option('--history', 'every interval, closed ones included')
    .option('--json', 'print JSON');
  addConfigFlag(cmd);
  cmd.addHelpText('after', '\nExit codes: 0, 1 the host is not in the database, 74 no or unreadable database, 78 config error.');
  cmd.action((host: string, flags: CommonFlags & { type?: string; history?: boolean; json?: boolean }) => {
    const config = configFrom(flags);
    const found = withReadStore(config, (s) => (hostExists(s.database, host)
      ? hostFacts(s.database, host, { ...(flags.type ? { type: flags.type } : {}), ...(flags.history ? { history: true } : {}) })
      : undefined));
    if (!found) {
      process.stderr.write(`jellyfish: ${host} is not in the database (hosts are named as in the inventory)\n`);
      setExit(1);
      return;
    }
    if (flags.json) {
      process.stdout.write(renderJson({ host, facts: found.map((f) => ({ type: f.type, subtype: f.subtype, value: f.value, first_seen: f.firstSeen, last_seen: f.lastSeen, current: f.current })) }) + '\n');
    } else {
      const headers = flags.history ? ['TYPE', 'SUBTYPE', 'VALUE', 'FIRST SEEN', 'LAST SEEN', 'CURRENT'] : ['TYPE', 'SUBTYPE', 'VALUE', 'SINCE'];
      process.stdout.write(renderTable(headers, found.map((f) => {
        const value = f.value.includes('\n') ? `${f.value.split('\n')[0]} …` : f.value;
        return flags.history ? [f.type, f.subtype, value, f.firstSeen, f.lastSeen, f.current ? 'yes' : 'no'] : [f.type, f.subtype, value, f.firstSeen];
      })));
    }
    setExit(0);
  });
}
