// The commander program: flags -> requests -> actions. The only place errors become exit codes.
// (bin/jellyfish starts it through cli/main.ts; importing this file runs nothing.)
import { Command, CommanderError } from 'commander';
import { releaseEarlySignals, signalExitCode } from '../app/early-signals.js';
import { EXIT_CODES, JellyfishError, LockHeldError, UsageError } from '../core/errors.js';
import { printError } from '../app/log.js';
import { VERSION } from '../app/version.js';
import { renderJson } from '../report/status-json.js';

type Register = (program: Command, setExit: (code: number) => void) => void;

/**
 * Every command's file, in the order `--help` lists them. `jellyfish X ...` loads only X's file:
 * the others' imports (feeds, tables, tokens, ICU for a number in a help text...) are CPU a run
 * would spend before its first host. `--help`, `help`, `--version` and a mistyped command load
 * them all.
 */
const COMMANDS: [string, () => Promise<Register>][] = [
  ['run', async () => (await import('./run-command.js')).registerRun],
  ['gap-fix', async () => (await import('./gap-fix-command.js')).registerGapFix],
  ['status', async () => (await import('./status-command.js')).registerStatus],
  ['hosts', async () => (await import('./hosts-command.js')).registerHosts],
  ['facts', async () => (await import('./facts-command.js')).registerFacts],
  ['query', async () => (await import('./query-command.js')).registerQuery],
  ['changes', async () => (await import('./changes-command.js')).registerChanges],
  ['analyze', async () => (await import('./analyze-command.js')).registerAnalyze],
  ['audits', async () => (await import('./audits-command.js')).registerAudits],
  ['ingest', async () => (await import('./ingest-command.js')).registerIngest],
  ['prune', async () => (await import('./prune-command.js')).registerPrune],
  ['feed', async () => (await import('./feed-command.js')).registerFeed],
  ['doctor', async () => (await import('./doctor-command.js')).registerDoctor],
  ['migrate', async () => (await import('./migrate-command.js')).registerMigrate],
  ['serve', async () => (await import('./serve-command.js')).registerServe],
  ['token', async () => (await import('./token-command.js')).registerToken],
  ['agent-script', async () => (await import('./agent-script-command.js')).registerAgentScript],
];

/** The commands `argv` can run: the one it names (its first word not an option), else every one. */
export async function commandsFor(argv: string[]): Promise<Register[]> {
  const word = argv.slice(2).find((a) => !a.startsWith('-'));
  const named = COMMANDS.filter(([name]) => name === word);
  return Promise.all((named.length ? named : COMMANDS).map(([, load]) => load()));
}

/** After the answer is printed, a leftover handle (a socket a dying thread kept) must not keep cron waiting. */
const EXIT_SAFETY_MS = 5_000;
/** Commands whose run handles SIGINT/SIGTERM itself (see app/early-signals.ts). */
const RUN_COMMANDS = new Set(['run', 'gap-fix']);

function finish(code: number): void {
  process.exitCode = code;
  const arm = () => { setTimeout(() => process.exit(code), EXIT_SAFETY_MS).unref(); };
  // A large answer piped to a slow reader is still queued: exit only once it is written.
  if (process.stdout.writableLength > 0) process.stdout.once('drain', arm);
  else arm();
}

/** The command whose action is running: a usage error found there points at its help. */
let running: string | undefined;

export function buildProgram(commands: Register[]): Command {
  const program = new Command();
  program
    .name('jellyfish')
    .description('Profile a fleet of Linux servers over SSH into a fact-history database (run it from cron).')
    .version(VERSION, '--version', 'print the version')
    .showHelpAfterError('see `jellyfish --help`')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of commands) register(program, finish);
  // A usage error is one line and a pointer to the command's help, not thirty lines of help.
  for (const c of program.commands) c.exitOverride().showHelpAfterError(`see \`jellyfish ${c.name()} --help\``);
  // Only the collection runs act on a signal themselves (JSON first); the others stop before
  // doing anything, with the signal's exit code.
  program.hook('preAction', (_program, action) => {
    running = action.name();
    if (RUN_COMMANDS.has(action.name())) return;
    const sig = releaseEarlySignals();
    if (sig) process.exit(signalExitCode(sig));
  });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const program = buildProgram(await commandsFor(argv));
    await program.parseAsync(argv);
    // Still trapped here: gap-fix --list, --help, or a run that ended before taking the signal over.
    const sig = releaseEarlySignals();
    if (sig) finish(signalExitCode(sig));
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; anything else is a usage error (64).
      finish(e.exitCode === 0 ? 0 : EXIT_CODES.usage);
      return;
    }
    if (e instanceof LockHeldError) {
      process.stdout.write(renderJson({ locked: true, holder: e.holder }) + '\n');
      printError(`jellyfish: ${e.message}`);
      finish(e.exitCode);
      return;
    }
    if (e instanceof JellyfishError) {
      printError(`jellyfish: error: ${e.message}`);
      // As commander's own usage errors: one line, and where the right spelling is.
      if (e instanceof UsageError) printError(`see \`jellyfish${running ? ` ${running}` : ''} --help\``);
      finish(e.exitCode);
      return;
    }
    // A stack keeps its lines; each is escaped.
    for (const line of `jellyfish: internal error (a bug): ${(e as Error)?.stack ?? String(e)}`.split('\n')) printError(line);
    finish(EXIT_CODES.software);
  }
}

