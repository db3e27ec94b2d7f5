// `lumen checkpoint`: checkpoint tools (list, info, export, import, delete). Errors are left to
// the CLI's one handler.
import { fromWorkspace } from '@lumen/core';
import { TORCHVISION_ARCHITECTURES } from '@lumen/detector';
import { Command, Option } from 'commander';
import { exportCheckpoint } from './checkpoint-archive';
import { deleteCheckpoint } from './checkpoint-delete';
import { describeImport, runCheckpointImport } from './checkpoint-import';
import { formatCheckpointInfo, readCheckpointInfo } from './checkpoint-info';
import { formatCheckpointList, listCheckpointsUnder } from './checkpoint-list';
import { formatBytes } from './checkpoint-summary';

const collect = (value: string, previous: string[]) => [...previous, value];

function listCommand(): Command {
  return new Command('list')
    .summary('the checkpoints of the jobs folder, one line each')
    .description('list every checkpoint under a jobs folder (jobs/<run>/checkpoint-NNNNNNN, or a checkpoint folder put there): job, step, val mAP, backbone, classes, date')
    .option('--jobs <dir>', "the folder holding the job folders (default: the workspace's jobs/)")
    .action((opts: { jobs?: string }) => {
      const listing = listCheckpointsUnder(opts.jobs ?? fromWorkspace('jobs'));
      for (const { dir, reason } of listing.skipped) process.stderr.write(`skipped ${dir}: ${reason}\n`);
      process.stdout.write(formatCheckpointList(listing) + '\n');
    });
}

function infoCommand(): Command {
  return new Command('info')
    .summary("a checkpoint's model, classes, metrics, config and weights check")
    .description(
      "show a checkpoint's architecture, classes, step, metrics and evaluations, its config's differences from the defaults, " +
        "the weights' sha256 and whether it matches meta.json (exit 1 when it does not), and the files' sizes",
    )
    .argument('<dir>', 'the checkpoint folder')
    .action(async (dir: string) => {
      const info = await readCheckpointInfo(dir);
      process.stdout.write(formatCheckpointInfo(info) + '\n');
      if (info.weights.status === 'mismatch') process.exitCode = 1;
    });
}

function exportCommand(): Command {
  return new Command('export')
    .summary('a checkpoint as one .tar.gz file')
    .description(
      "write a checkpoint folder as one self-contained .tar.gz (config, classes, weights and their sha256; " +
        'optimizer.safetensors only with --with-optimizer) that `lumen checkpoint import` unpacks',
    )
    .argument('<dir>', 'the checkpoint folder')
    .requiredOption('--out <file>', 'the archive to write, e.g. model.tar.gz')
    .option('--force', 'replace --out when it exists', false)
    .option('--with-optimizer', 'include the optimizer state (to resume training elsewhere)', false)
    .action(async (dir: string, opts: { out: string; force: boolean; withOptimizer: boolean }) => {
      const exported = await exportCheckpoint({ dir, out: opts.out, force: opts.force, optimizer: opts.withOptimizer });
      const note = exported.addedSha256 ? '; the weights sha256, not in its meta.json, recorded in the archive' : '';
      process.stdout.write(`exported ${dir} (${exported.files.join(', ')}${note}) -> ${exported.out} (${formatBytes(exported.bytes)})\n`);
    });
}

function importCommand(): Command {
  return new Command('import')
    .summary('a checkpoint archive, or a torchvision Faster R-CNN file, as a checkpoint folder')
    .description(
      'write a Lumen checkpoint folder from an archive `lumen checkpoint export` wrote (.tar.gz: unpacked, its weights sha256 checked), ' +
        "or from a torchvision Faster R-CNN state dict (torch.save(model.state_dict()) .pth, or safetensors; needs --arch), " +
        "with the builder's settings (image sizes, RPN and detection thresholds) in its config.yaml",
    )
    .argument('<file>', 'a .tar.gz checkpoint archive, or the state dict: a .pth or .safetensors file')
    .addOption(new Option('--arch <name>', 'for a state dict: the torchvision builder that made the model').choices(TORCHVISION_ARCHITECTURES))
    .requiredOption('--out <dir>', 'the checkpoint folder to write (must not exist)')
    .option('--classes <coco|file>', "for a state dict: class names: 'coco' (torchvision's 91-entry list, 'N/A' kept) or a text file, one per line (default: coco for 91 outputs)")
    .addOption(new Option('--set <key=value>', 'for a state dict: override a config value (repeatable): the sizes of a narrower model, e.g. --set model.rcnn.hidden=512').argParser(collect).default([]))
    .action(async (file: string, opts: { arch?: string; out: string; classes?: string; set: string[] }) => {
      const imported = await runCheckpointImport({ file, arch: opts.arch, out: opts.out, classes: opts.classes, overrides: opts.set });
      process.stdout.write(describeImport(imported, file) + '\n');
    });
}

function deleteCommand(): Command {
  return new Command('delete')
    .summary('remove a checkpoint folder')
    .description('remove a checkpoint folder; refuses a folder that is not a Lumen checkpoint (no meta.json of format lumen-checkpoint, or holding a subfolder)')
    .argument('<dir>', 'the checkpoint folder')
    .action((dir: string) => {
      const bytes = deleteCheckpoint(dir);
      process.stdout.write(`deleted ${dir} (${formatBytes(bytes)})\n`);
    });
}

/** `lumen checkpoint list | info | export | import | delete`. */
export function checkpointCommands(): Command[] {
  const checkpoint = new Command('checkpoint').summary('list, info, export, import, delete checkpoints').description('checkpoint tools: list, info, export, import (an export or a torchvision file), delete');
  for (const command of [listCommand(), infoCommand(), exportCommand(), importCommand(), deleteCommand()]) checkpoint.addCommand(command);
  return [checkpoint];
}
