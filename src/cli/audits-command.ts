// `jellyfish audits [AUDIT]`: the audit list, or one audit's hosts (SPEC §10). Parses flags,
// calls audits/audits-view.ts, renders in the SPEC §9 formats.
import type { Command } from 'commander';
import { auditDetailView, auditListView, type AuditDetailView, type AuditListView, type AuditsRequest } from '../audits/audits-view.js';
import { printError } from '../app/log.js';
import { outputChunks, type Printable } from '../report/output.js';
import { firstLine, shortTime } from '../report/table.js';
import { addConfigFlag, addOutputFlags, configFrom, outputFormat, type CommonFlags, type OutputFlags } from './options.js';
import { withReadStore } from './read-store.js';
import { writeChunks } from './write-out.js';

/** Exit code when the audit named is not in the database. */
export const EXIT_UNKNOWN_AUDIT = 1;

interface AuditsFlags extends CommonFlags, OutputFlags { failing?: boolean; site?: string[]; srvtype?: string[]; prod?: boolean }

const LIST_COLUMNS = ['name', 'priority', 'pass', 'fail', 'exempt', 'failing_prod', 'failing_prod_hosts', 'last_analyzed', 'link'] as const;
const HOST_COLUMNS = ['audit', 'host', 'result', 'since', 'fixed_at', 'last_seen', 'stale', 'bucket', 'pop', 'srvtype', 'prod'] as const;

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

/** A list of names in a table cell: the first few and how many more. */
function someOf(names: string[], n = 3): string {
  return names.length <= n ? names.join(', ') : `${names.slice(0, n).join(', ')} +${names.length - n}`;
}

/** The request the flags (or the API's parameters) ask. */
export function auditsRequest(o: { failing?: boolean; site?: string[]; srvtype?: string[]; prod?: boolean }): AuditsRequest {
  return {
    ...(o.failing ? { failing: true } : {}), ...(o.site ? { sites: o.site } : {}),
    ...(o.srvtype ? { srvtypes: o.srvtype } : {}), ...(o.prod ? { prod: true } : {}),
  };
}

/** The audit list in every format (`--format json` is what GET /api/v1/audits sends too). */
export function auditListPrintable(view: AuditListView): Printable {
  return {
    json: () => view,
    columns: LIST_COLUMNS,
    records: () => view.audits.map((a) => ({ ...a, failing_prod_hosts: a.failing_prod_hosts.join(' ') })),
    table: () => view.audits.length === 0
      ? 'no audit analyzed yet: run `jellyfish analyze`\n'
      : {
        headers: ['AUDIT', 'PRIO', 'PASS', 'FAIL', 'EXEMPT', 'FAILING PROD'],
        rows: view.audits.map((a) => [a.name, String(a.priority), String(a.pass), String(a.fail), String(a.exempt), someOf(a.failing_prod_hosts)]),
      },
  };
}

/** One audit's hosts in every format (GET /api/v1/audits/NAME sends the json). */
export function auditDetailPrintable(view: AuditDetailView): Printable {
  return {
    json: () => view,
    columns: HOST_COLUMNS,
    records: () => view.hosts.map((h) => ({ audit: view.audit.name, ...h })),
    table: () => ({
      headers: ['HOST', 'RESULT', 'SINCE', 'FIXED AT', 'BUCKET', 'SITE', 'SRVTYPE'],
      rows: view.hosts.map((h) => [h.host, h.stale ? `${h.result} (stale)` : h.result, shortTime(h.since), shortTime(h.fixed_at), h.bucket ?? '', h.pop ?? '', h.srvtype ?? '']),
    }),
  };
}

export function registerAudits(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('audits')
    .argument('[audit]', 'one audit (its name as in the audit file): its hosts, with failing since and fixed at')
    .description('the audits of the last analyze with their current pass/fail/exempt host counts and failing production hosts; with AUDIT, that audit\'s hosts and since when they have their result')
    .option('--failing', 'the list: only audits failing on some host; one audit: only its failing hosts')
    .option('--site <site>', 'only hosts of this site (the inventory\'s pop; repeatable, or comma-separated)', collect)
    .option('--srvtype <srvtype>', 'only hosts of this server type (repeatable, or comma-separated)', collect)
    .option('--prod', 'only production hosts');
  addOutputFlags(cmd);
  addConfigFlag(cmd);
  cmd.addHelpText('after', `
Counts are of hosts the last analyze evaluated; a host without a fresh collection keeps its
result (marked stale) but is not counted. since = when the current result began (for a fail:
failing since); fixed_at = for a pass, when the host's last fail interval closed.
Examples:
  jellyfish audits
  jellyfish audits --failing --prod
  jellyfish audits DSA-5532-1 --failing --format csv > exposed.csv
  jellyfish audits openssl-bookworm --site ams --json
Exit codes: 0, ${EXIT_UNKNOWN_AUDIT} AUDIT is not in the database (message on stderr, with similar names),
64 usage, 74 no or unreadable database, 78 config error.`);
  cmd.action(async (audit: string | undefined, flags: AuditsFlags) => {
    const out = outputFormat(flags);
    const config = configFrom(flags);
    const req = auditsRequest(flags);
    if (audit === undefined) {
      const view = await withReadStore(config, (s) => auditListView(s, req));
      const printable = auditListPrintable(view);
      // Without headers (a script), an empty list prints nothing rather than the hint.
      await writeChunks(outputChunks(out, view.audits.length === 0 && !out.headers ? { ...printable, table: () => '' } : printable));
      setExit(0);
      return;
    }
    const view = await withReadStore(config, (s) => auditDetailView(s, audit, req));
    if ('unknownAudit' in view) {
      const hint = view.similar.length ? `; similar: ${view.similar.join(', ')}` : '';
      printError(`jellyfish: no audit named ${view.unknownAudit} was analyzed${hint}`);
      setExit(EXIT_UNKNOWN_AUDIT);
      return;
    }
    await writeChunks(outputChunks(out, auditDetailPrintable(view)));
    if (out.format === 'table' && out.headers) {
      printError(`${firstLine(view.audit.name)} (priority ${view.audit.priority}): ${view.pass} pass, ${view.fail} fail, ${view.exempt} exempt`);
    }
    setExit(0);
  });
}
