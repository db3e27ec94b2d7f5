// The board app's subcommand of `lumen` (assembled with the others in apps/cli): board.
// Errors are left to the CLI's one handler.
import { Command } from 'commander';
import { runBoardCommand, type BoardCliOptions } from './commands';
import { DEFAULT_HOST, DEFAULT_PORT } from './server';

function boardCommand(): Command {
  return new Command('board')
    .summary('live training curves of every job in a web page')
    .description('serve a page with the loss, learning-rate and mAP curves of every job in a jobs folder, updated while they train')
    .option('--jobs <dir>', 'the folder of job folders (each with a metrics.jsonl), or one job folder (default: jobs/ of the workspace)')
    .option('--port <n>', 'port to listen on', String(DEFAULT_PORT))
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', DEFAULT_HOST)
    .action(async (opts: BoardCliOptions) => {
      await runBoardCommand(opts);
    });
}

/** `lumen board`. */
export function boardCommands(): Command[] {
  return [boardCommand()];
}
