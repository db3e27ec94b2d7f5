// The `lumen` command: every app's subcommands in one tree, and the one place where what a
// user got wrong becomes a one-line message and an exit code.
import { UserError } from '@lumen/core';
import { predictCommands } from '@lumen/predict';
import { trainCommands } from '@lumen/train';
import { Command, CommanderError } from 'commander';
import { version } from '../package.json';

/** Exit codes: 0 done, 1 failed (or some inputs failed), 2 a user error, 130 interrupted (set by the commands). */
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
    .description('Faster R-CNN object detection in TypeScript: train, evaluate, check datasets, predict, serve')
    .version(version, '-V, --version')
    .addHelpText('after', '\nRun `lumen <command> --help` for the options of a command.');
  for (const command of [...trainCommands(), ...predictCommands()]) cli.addCommand(command);
  return configure(cli);
}

/** Where the one-line messages go (stderr; a test may catch them). */
export interface Output {
  error(line: string): void;
}

const stderr: Output = { error: (line) => process.stderr.write(line + '\n') };

/**
 * The exit code for what a command threw: a user error is one line (no stack trace), a
 * commander error (unknown option, missing argument) was already printed by commander.
 */
export function exitCodeFor(error: unknown, output: Output = stderr): number {
  if (error instanceof CommanderError) return error.exitCode;
  if (error instanceof UserError) {
    output.error(`lumen: ${error.message}`);
    return EXIT_USER_ERROR;
  }
  output.error(error instanceof Error ? (error.stack ?? error.message) : `lumen: ${String(error)}`);
  return EXIT_FAILURE;
}

/** Runs `lumen` on `argv` (node, script, args…); a bare `lumen` prints the help. Sets process.exitCode. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const cli = program();
  if (argv.length <= 2) {
    cli.outputHelp();
    return;
  }
  try {
    await cli.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}
