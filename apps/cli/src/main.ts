// The `lumen` command: every app's subcommands in one tree, and the one place where what a
// user got wrong becomes a one-line message and an exit code.
import { boardCommands } from '@lumen/board';
import { UserError } from '@lumen/core';
import { predictCommands } from '@lumen/predict';
import { checkpointCommands, trainCommands } from '@lumen/train';
import { Command, CommanderError } from 'commander';
import { version } from '../package.json';

/** Exit codes: 0 done, 1 failed (or some inputs failed), 2 a user error, 130 / 143 stopped by SIGINT / SIGTERM (set by the commands). */
export const EXIT_USER_ERROR = 2;
export const EXIT_FAILURE = 1;

/** Settings every command of the tree shares (commander copies them only to `.command()` children). */
function configure(command: Command): Command {
  command.showHelpAfterError().exitOverride();
  for (const child of command.commands) configure(child);
  return command;
}

export function program(): Command {
  const cli = new Command('lumen')
    .description('Faster R-CNN object detection in TypeScript: train, evaluate, check datasets, predict, serve, watch training')
    .version(version, '-V, --version')
    .addHelpText('after', '\nRun `lumen <command> --help` for the options of a command.');
  for (const command of [...trainCommands(), ...checkpointCommands(), ...predictCommands(), ...boardCommands()]) cli.addCommand(command);
  return configure(cli);
}

/** Where the one-line messages go (stderr; a test may catch them). */
export interface Output {
  error(line: string): void;
}

const stderr: Output = { error: (line) => process.stderr.write(line + '\n') };

/** `LUMEN_DEBUG=1` (or any value but 0/false): stack traces with every error. */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.LUMEN_DEBUG?.trim().toLowerCase();
  return value != null && value !== '' && value !== '0' && value !== 'false';
}

/** One line for an error nobody wrapped: a system error (ENOSPC, EACCES…) says what failed on which path. */
function describeUnexpected(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = error.message.split('\n')[0];
  return error.name && error.name !== 'Error' && !message.startsWith(error.name) ? `${error.name}: ${message}` : message;
}

/**
 * The exit code for what a command threw, and its one line on stderr: a user error is its
 * message (exit 2); a commander error (unknown option, missing argument) was already printed;
 * anything else is its first line (exit 1). With LUMEN_DEBUG=1 the stack follows.
 */
export function exitCodeFor(error: unknown, output: Output = stderr, debug = debugEnabled()): number {
  if (error instanceof CommanderError) return error.exitCode;
  const stack = debug && error instanceof Error && error.stack ? `\n${error.stack}` : '';
  if (error instanceof UserError) {
    output.error(`lumen: ${error.message}${stack}`);
    return EXIT_USER_ERROR;
  }
  output.error(`lumen: ${describeUnexpected(error)}${stack || ' (LUMEN_DEBUG=1 shows where)'}`);
  return EXIT_FAILURE;
}

/**
 * Errors thrown outside the command's promise (a stream's 'error' event, a timer) end the
 * program the same way, with the same one line.
 */
function handleStrayErrors(): void {
  const fatal = (error: unknown) => process.exit(exitCodeFor(error));
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

/** Runs `lumen` on `argv` (node, script, args…); a bare `lumen` prints the help. Sets process.exitCode. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const cli = program();
  if (argv.length <= 2) {
    cli.outputHelp();
    return;
  }
  handleStrayErrors();
  try {
    await cli.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}
