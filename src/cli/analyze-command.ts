// `jellyfish analyze`: evaluate the audit files on every fresh host (SPEC §10), print the summary.
import path from 'node:path';
import type { Command } from 'commander';
import { analyze } from '../audits/analyze.js';
import { Log } from '../app/log.js';
import { renderJson } from '../report/status-json.js';
import { addConfigFlag, configFrom, type CommonFlags } from './options.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerAnalyze(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('analyze')
    .description('evaluate the audit files (-a, else [analyze] audits, else the shipped config/audits.d) on every host with a successful collection within [analyze] max_age; results kept as intervals, counts collated per audit, pop, srvtype and result; its own lock, and never while a run holds the run lock')
    .option('-a, --auditdir <dir>', 'a folder of *.ini and *.json audit files, read recursively (repeatable; replaces [analyze] audits)', collect)
    .option('--full', 'evaluate every audit on every fresh host again, not only the hosts whose facts changed and the audits whose definition changed since the last analyze')
    .option('-V, --verbose', 'more on stderr')
    .option('--compact', 'print the JSON on one line');
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Prints one JSON summary on stdout: audits, audit_files, hosts_evaluated, hosts_reevaluated
(hosts evaluated again on every audit: their facts changed since the last analyze, or they are
new or back from stale), audits_reevaluated (audits evaluated again on every host: new, edited,
or not analyzed last time), pass, fail, exempt (counts of audit x host results), stale (hosts without a successful collection within max_age,
left out), errors [{file, line, audit, message}], warnings, jobtime (seconds), run_id.
A bad audit file or audit is reported with file:line and skipped; the others still run.
Examples:
  jellyfish analyze
  jellyfish analyze -a /etc/jellyfish/audits.d -a ./feed-audits --compact
  # in cron, after the collection run:
  15 2 * * *  jellyfish run -c /etc/jellyfish/scheduler.ini; jellyfish analyze -c /etc/jellyfish/scheduler.ini
  (\`;\`, not \`&&\`: a run that exits 1 or 2 still collected hosts, and they are fresh)
Exit codes: 0 done, 1 done but an audit file or audit was invalid (or its evaluation failed),
64 usage, 70 internal error, 74 storage error, 75 a run holds the run lock (or another analyze
holds the analyze lock): nothing was analyzed, 78 config error.`);
  cmd.action(async (flags: CommonFlags & { auditdir?: string[]; compact?: boolean; full?: boolean }) => {
    const config = configFrom(flags);
    const log = new Log(Boolean(flags.verbose));
    for (const w of config.warnings) log.warn(w);
    const summary = await analyze({ config, log, full: Boolean(flags.full), ...(flags.auditdir ? { auditDirs: flags.auditdir.map((d) => path.resolve(d)) } : {}) });
    process.stdout.write(renderJson(summary, Boolean(flags.compact)) + '\n');
    setExit(summary.exit_code);
  });
}
