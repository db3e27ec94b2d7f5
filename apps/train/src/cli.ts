// The train app's subcommands of `lumen` (assembled with the others in apps/cli): train, eval,
// dataset check. Errors are left to the CLI's one handler.
import { loadConfig } from '@lumen/config';
import { checkDataset, formatCheckReport } from '@lumen/data';
import { UserError } from '@lumen/core';
import { Command, Option } from 'commander';
import { runEvaluation } from './run-eval';
import { signalExitCode } from './stop';
import { runTraining } from './train';

const collect = (value: string, previous: string[]) => [...previous, value];

const setOption = (example: string, what = 'override a config value') =>
  new Option('--set <key=value>', `${what} (repeatable), e.g. --set ${example}`).argParser(collect).default([]);

/** An option parser taking only whole numbers >= 1 (parseInt would take "abc" as NaN and "2x" as 2). */
const positiveInteger = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new UserError(`${flag} must be a positive integer, but got ${JSON.stringify(value)}`);
  return n;
};

function trainCommand(): Command {
  return new Command('train')
    .summary('train a detector (default config: digits)')
    .description('train a detector from a named config (default: digits), then evaluate it')
    .option('--config <name>', 'config name in configs/ or a path to a .yaml file', 'digits')
    .addOption(setOption('train.steps=500'))
    .option('--job-dir <dir>', 'where checkpoints and metrics.jsonl go (default jobs/<config>-<time>)')
    .option('--resume', 'continue the last run of this config (or of --job-dir) from its last checkpoint', false)
    .option('--init <dir>', "start from a checkpoint's model and weights (fine-tuning; a config's model.init does the same); with other classes its box predictor starts afresh")
    .option('--plain', 'plain log lines instead of a progress bar', false)
    .action(async (opts) => {
      const result = await runTraining({ config: opts.config, overrides: opts.set, jobDir: opts.jobDir, resume: opts.resume, init: opts.init, plain: opts.plain });
      if (result.interrupted) process.exitCode = signalExitCode(result.signal ?? 'SIGINT');
    });
}

function evalCommand(): Command {
  return new Command('eval')
    .summary('score a checkpoint on a dataset split')
    .description('evaluate a checkpoint on a split: prints the table, writes eval-<split>.json beside the checkpoint')
    .requiredOption('--checkpoint <dir>', 'a checkpoint folder (jobs/<run>/checkpoint-NNNNNNN)')
    .option('--config <name>', "config for the data (default: the checkpoint's own config.yaml)")
    .addOption(
      setOption(
        'data.dataset.dir=DIR',
        'override a data.* or eval.* value, or an inference setting (model.rcnn.scoreThresh, nmsThresh, detectionsPerImage, model.rpn.preNmsTopN.test, postNmsTopN.test, nmsThresh)',
      ),
    )
    .option('--split <split>', 'which split: train, val, test or another key of the config\'s data.dataset.splits (digits: shift)', 'test')
    .option('--max-images <n>', 'evaluate only the first n images (a positive integer)', positiveInteger('--max-images'))
    .action(async (opts) => {
      await runEvaluation({ checkpoint: opts.checkpoint, config: opts.config, overrides: opts.set, split: opts.split, maxImages: opts.maxImages });
    });
}

function datasetCommand(): Command {
  const dataset = new Command('dataset').summary('dataset tools: check').description('dataset tools');
  dataset
    .command('check')
    .summary('report what a dataset would skip, and why')
    .description(
      'read a whole dataset and report what would be skipped and why (exit 0 when anything is usable). ' +
        "Reads every annotation and every image's header (format, size); --decode also decodes every image's pixels",
    )
    .option('--config <name>', 'config name or path', 'digits')
    .addOption(setOption('data.dataset.dir=DIR'))
    .option('--decode', "decode every image's pixels, not only its header: finds truncated or corrupt JPEG/PNG files (slower)")
    .action(async (opts) => {
      const { config } = loadConfig(opts.config, { overrides: opts.set });
      const report = await checkDataset(config.data, { images: opts.decode ? 'decode' : 'header' });
      process.stdout.write(formatCheckReport(report) + '\n');
      process.exitCode = report.usable ? 0 : 1;
    });
  return dataset;
}

/** `lumen train`, `lumen eval`, `lumen dataset check`. */
export function trainCommands(): Command[] {
  return [trainCommand(), evalCommand(), datasetCommand()];
}
