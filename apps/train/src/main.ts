import { ConfigError, loadConfig } from '@lumen/config';
import { checkDataset, formatCheckReport } from '@lumen/data';
import { Command, Option } from 'commander';
import { UserError } from './job';
import { runEvaluation } from './run-eval';
import { dataConfigOf, runTraining } from './train';

const collect = (value: string, previous: string[]) => [...previous, value];

export function program(): Command {
  const cli = new Command('lumen').description('Faster R-CNN in TypeScript: train, evaluate and check datasets (`lumen predict` runs detections)');
  cli.showHelpAfterError();

  cli
    .command('train', { isDefault: true })
    .description('train a detector from a named config (default: digits)')
    .option('--config <name>', 'config name in configs/ or a path to a .yaml file', 'digits')
    .option('--set <key=value>', 'override a config value (repeatable), e.g. --set train.steps=500', collect, [])
    .option('--job-dir <dir>', 'where checkpoints and metrics.jsonl go (default jobs/<config>-<time>)')
    .option('--resume', 'continue the last run of this config (or of --job-dir) from its last checkpoint', false)
    .addOption(new Option('--plain', 'plain log lines instead of a progress bar').default(false))
    .action(async (opts) => {
      const result = await runTraining({ config: opts.config, overrides: opts.set, jobDir: opts.jobDir, resume: opts.resume, plain: opts.plain });
      if (result.interrupted) process.exitCode = 130;
    });

  cli
    .command('eval')
    .description('evaluate a checkpoint on a split: prints the table, writes eval-<split>.json beside the checkpoint')
    .requiredOption('--checkpoint <dir>', 'a checkpoint folder (jobs/<run>/checkpoint-NNNNNNN)')
    .option('--config <name>', "config for the data (default: the checkpoint's own config.yaml)")
    .option('--set <key=value>', 'override a config value (repeatable)', collect, [])
    .addOption(new Option('--split <split>', 'which split').choices(['train', 'val', 'test']).default('test'))
    .option('--max-images <n>', 'evaluate only the first n images', (v) => Number.parseInt(v, 10))
    .action(async (opts) => {
      await runEvaluation({ checkpoint: opts.checkpoint, config: opts.config, overrides: opts.set, split: opts.split, maxImages: opts.maxImages });
    });

  const dataset = cli.command('dataset').description('dataset tools');
  dataset
    .command('check')
    .description('read a whole dataset and report what would be skipped and why (exit 0 when anything is usable)')
    .option('--config <name>', 'config name or path', 'digits')
    .option('--set <key=value>', 'override a config value (repeatable), e.g. --set data.dataset.dir=DIR', collect, [])
    .action(async (opts) => {
      const { config } = loadConfig(opts.config, { overrides: opts.set });
      const report = await checkDataset(dataConfigOf(config));
      process.stdout.write(formatCheckReport(report) + '\n');
      process.exitCode = report.usable ? 0 : 1;
    });
  return cli;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof UserError || error instanceof ConfigError) {
      process.stderr.write(`lumen: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
}

if (require.main === module || process.argv[1]?.endsWith('lumen.js') || process.argv[1]?.endsWith('lumen')) {
  void main();
}
