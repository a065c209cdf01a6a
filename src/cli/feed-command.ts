// `jellyfish feed FILE --from debian-tracker|osv --out DIR [--releases ...]`: advisory feed -> audit files.
import path from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { FEED_SOURCES, MAX_FEED_MEMBER, MAX_FEED_STDIN, runFeed, type FeedSource } from '../app/feed.js';
import { printError } from '../app/log.js';
import { renderJson } from '../report/status-json.js';

/** Bad entries shown on stderr; all of them (up to the summary's list) are in the JSON. */
const STDERR_ERRORS = 20;
const RELEASE_RE = /^[a-z][a-z0-9-]{0,39}$/;

export function parseReleases(value: string): string[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError('--releases: expected a comma list of release names (bookworm,jammy,rhel9)');
  for (const r of list) if (!RELEASE_RE.test(r)) throw new UsageError(`--releases: ${JSON.stringify(r)} is not a release name (lowercase codename: bookworm, jammy, noble, rhel9)`);
  return [...new Set(list)];
}

export function registerFeed(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('feed')
    .argument('<file>', 'the feed: a JSON file, an OSV folder or .zip, or - for stdin')
    .usage('<file> --from debian-tracker|osv --out <dir> [--releases list]')
    .description('turn an offline advisory feed (Debian security tracker JSON, OSV) into audit files; no database')
    .addOption(new Option('--from <kind>', '(required) the feed format').choices([...FEED_SOURCES]).makeOptionMandatory())
    .requiredOption('--out <dir>', '(required) the audits folder to write into (created 0700; files 0600)')
    .option('--releases <list>', 'only these releases (comma list of codenames: bookworm,jammy,noble; rhel9, rocky9, alma9)')
    .option('--min-priority <n>', 'leave out audits of a lower vuln-priority, 0-10 (2 drops Debian\'s "unimportant" entries)')
    .option('--compact', 'print the summary on one line');
  cmd.addHelpText('after', `
Examples:
  jellyfish feed json --from debian-tracker --out audits.d/debian --releases bookworm,trixie
  jellyfish feed all.zip --from osv --out audits.d/ubuntu --releases jammy,noble
  jellyfish feed osv-advisories/ --from osv --out audits.d/osv --min-priority 2
  curl -s https://security-tracker.debian.org/tracker/data/json | jellyfish feed - --from debian-tracker --out audits.d/debian

Writes one audit file per (CVE, source package) of the tracker, one per OSV advisory (one audit
per package in it), in the JSON audit format \`analyze\` reads: one bucket per release, whose
filter is release ID and VERSION_CODENAME (RHEL family: ID and PLATFORM_ID) and whose comparison
is the host's package-sources version (rpm feeds: packages) >= the fixed version (aptge, rpmge).
An entry with no fixed version yet becomes an audit every host with the package fails
(nematch .*): its file is NAME.unfixed.json and its short description starts "unfixed". Writing
one form removes the other, so the audit keeps its name and history when the fix arrives.
Not affected (fixed_version 0), undetermined, unstable (sid), unrequested releases, unknown
ecosystems and audits below --min-priority are skipped and counted. Priority: urgency
unimportant 1, low 3, medium 5, high 8, not yet assigned/end-of-life 5; OSV: CVSS v3 base score
rounded, or the severity word (negligible 1 ... critical 10); default 5. Files are written whole (temp file + rename).
Limits: one tracker source package or one OSV document up to ${MAX_FEED_MEMBER / 2 ** 20} MB (the tracker file
itself is streamed, any size); an OSV zip or JSON from stdin up to ${MAX_FEED_STDIN / 2 ** 20} MB.
A bad entry is reported (file:line or zip entry, JSON path) and skipped; the others are written.

Prints {"files_written", "audits_written", "unfixed_files", "replaced", "skipped": {reason: n},
"errors": [{"where", "reason"}], "errors_left_off", "releases", "releases_not_seen", "min_priority"}.
Exit codes: 0 written, 64 usage error, 65 some entries (or the whole input) malformed (the good
ones are written), 66 the input does not exist or cannot be read, 73 the output cannot be written.`);
  cmd.action(async (file: string, flags: { from: FeedSource; out: string; releases?: string; minPriority?: string; compact?: boolean }) => {
    const releases = flags.releases === undefined ? undefined : parseReleases(flags.releases);
    const minPriority = flags.minPriority === undefined ? undefined : Number(flags.minPriority);
    if (minPriority !== undefined && !(Number.isInteger(minPriority) && minPriority >= 0 && minPriority <= 10 && /^\d+$/.test(flags.minPriority ?? ''))) {
      throw new UsageError(`--min-priority ${JSON.stringify(flags.minPriority)}: expected a whole number 0-10`);
    }
    let shown = 0;
    const result = await runFeed({ input: file, from: flags.from, out: path.resolve(flags.out), ...(releases ? { releases } : {}), ...(minPriority !== undefined ? { minPriority } : {}) }, {
      onError: (e) => {
        shown += 1;
        if (shown <= STDERR_ERRORS) printError(`jellyfish: ${e.where}: ${e.reason}`);
      },
    });
    if (shown > STDERR_ERRORS) printError(`jellyfish: ${shown - STDERR_ERRORS} more bad entries (see "errors" in the JSON)`);
    const { exitCode, ...summary } = result;
    process.stdout.write(renderJson(summary, Boolean(flags.compact)) + '\n');
    setExit(exitCode);
  });
}
