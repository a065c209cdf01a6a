// The commander program: flags -> requests -> actions. The only place errors become exit codes.
// (bin/jellyfish starts it through cli/main.ts; importing this file runs nothing.)
import { Command, CommanderError } from 'commander';
import { releaseEarlySignals, signalExitCode } from '../app/early-signals.js';
import { JellyfishError, LockHeldError, UsageError } from '../app/errors.js';
import { printError } from '../app/log.js';
import { VERSION } from '../app/version.js';
import { renderJson } from '../report/status-json.js';
import { registerAnalyze } from './analyze-command.js';
import { registerAudits } from './audits-command.js';
import { registerChanges } from './changes-command.js';
import { registerDoctor } from './doctor-command.js';
import { registerFacts } from './facts-command.js';
import { registerFeed } from './feed-command.js';
import { registerHosts } from './hosts-command.js';
import { registerIngest } from './ingest-command.js';
import { registerMigrate } from './migrate-command.js';
import { registerPrune } from './prune-command.js';
import { registerQuery } from './query-command.js';
import { registerStatus } from './status-command.js';
import { registerGapFix } from './gap-fix-command.js';
import { registerRun } from './run-command.js';
import { registerServe } from './serve-command.js';
import { registerToken } from './token-command.js';
import { registerAgentScript } from './agent-script-command.js';

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

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('jellyfish')
    .description('Profile a fleet of Linux servers over SSH into a fact-history database (run it from cron).')
    .version(VERSION, '--version', 'print the version')
    .showHelpAfterError('see `jellyfish --help`')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerRun(program, finish);
  registerGapFix(program, finish);
  registerStatus(program, finish);
  registerHosts(program, finish);
  registerFacts(program, finish);
  registerQuery(program, finish);
  registerChanges(program, finish);
  registerAnalyze(program, finish);
  registerAudits(program, finish);
  registerIngest(program, finish);
  registerPrune(program, finish);
  registerFeed(program, finish);
  registerDoctor(program, finish);
  registerMigrate(program, finish);
  registerServe(program, finish);
  registerToken(program, finish);
  registerAgentScript(program, finish);
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
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // Still trapped here: gap-fix --list, --help, or a run that ended before taking the signal over.
    const sig = releaseEarlySignals();
    if (sig) finish(signalExitCode(sig));
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; anything else is a usage error (64).
      finish(e.exitCode === 0 ? 0 : 64);
      return;
    }
    if (e instanceof LockHeldError) {
      process.stdout.write(renderJson({ locked: true, holder: e.holder }) + '\n');
      printError(`jellyfish: ${e.message}`);
      finish(75);
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
    finish(70);
  }
}

