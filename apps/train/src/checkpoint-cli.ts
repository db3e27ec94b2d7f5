// `lumen checkpoint`: checkpoint tools (import). Errors are left to the CLI's one handler.
import { TORCHVISION_ARCHITECTURES } from '@lumen/detector';
import { Command, Option } from 'commander';
import { describeImport, runCheckpointImport } from './checkpoint-import';

const collect = (value: string, previous: string[]) => [...previous, value];

function importCommand(): Command {
  return new Command('import')
    .summary("a torchvision Faster R-CNN file as a Lumen checkpoint")
    .description(
      "write a Lumen checkpoint folder from a torchvision Faster R-CNN state dict (torch.save(model.state_dict()) .pth, or safetensors), " +
        "with the builder's settings (image sizes, RPN and detection thresholds) in its config.yaml",
    )
    .argument('<file>', 'the state dict: a .pth or .safetensors file')
    .addOption(new Option('--arch <name>', 'the torchvision builder that made the model').choices(TORCHVISION_ARCHITECTURES).makeOptionMandatory())
    .requiredOption('--out <dir>', 'the checkpoint folder to write (must not exist)')
    .option('--classes <coco|file>', "class names: 'coco' (torchvision's 91-entry list, 'N/A' kept) or a text file, one per line (default: coco for 91 outputs)")
    .addOption(new Option('--set <key=value>', 'override a config value (repeatable): the sizes of a narrower model, e.g. --set model.rcnn.hidden=512').argParser(collect).default([]))
    .action(async (file: string, opts: { arch: string; out: string; classes?: string; set: string[] }) => {
      const imported = await runCheckpointImport({ file, arch: opts.arch, out: opts.out, classes: opts.classes, overrides: opts.set });
      process.stdout.write(describeImport(imported, file) + '\n');
    });
}

/** `lumen checkpoint import`. */
export function checkpointCommands(): Command[] {
  const checkpoint = new Command('checkpoint').summary('checkpoint tools: import').description('checkpoint tools');
  checkpoint.addCommand(importCommand());
  return [checkpoint];
}
