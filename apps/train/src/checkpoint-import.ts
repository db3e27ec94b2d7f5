import { UserError } from '@lumen/core';
import { importTorchvision, TORCHVISION_ARCHITECTURES, type ImportedCheckpoint } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { existsSync } from 'node:fs';
import { importCheckpointArchive, isTarArchive, type ArchiveImport } from './checkpoint-archive';
import { versions } from './versions';

export interface CheckpointImportOptions {
  /** A torchvision state dict (.pth or safetensors), or a `lumen checkpoint export` archive (.tar.gz). */
  file: string;
  /** The torchvision builder; required for a state dict, refused with an archive. */
  arch?: string;
  out: string;
  /** 'coco' or a text file of class names; default COCO's for a 91-output classifier. */
  classes?: string;
  overrides?: string[];
  /** Where the backend notice goes (default: nowhere). */
  log?: (message: string) => void;
}

export type CheckpointImport = ({ kind: 'torchvision' } & ImportedCheckpoint) | ({ kind: 'archive' } & ArchiveImport);

/**
 * `lumen checkpoint import`: a `lumen checkpoint export` archive unpacked as a checkpoint
 * folder, or a torchvision Faster R-CNN file converted into one (`importTorchvision`). Which
 * is read from the file's content, not its name.
 */
export async function runCheckpointImport(options: CheckpointImportOptions): Promise<CheckpointImport> {
  const { file } = options;
  if (!existsSync(file)) throw new UserError(`${file} does not exist`);
  if (isTarArchive(file)) {
    const torchOnly = [options.arch && '--arch', options.classes && '--classes', options.overrides?.length && '--set'].filter(Boolean);
    if (torchOnly.length > 0) {
      throw new UserError(`${file} is a checkpoint archive (lumen checkpoint export): it carries its own model, classes and config; leave out ${torchOnly.join(', ')}`);
    }
    return { kind: 'archive', ...(await importCheckpointArchive(file, options.out)) };
  }
  if (!options.arch) {
    throw new UserError(`--arch is required to import ${file} (a torchvision state dict): the builder that made it, one of ${TORCHVISION_ARCHITECTURES.join(', ')}`);
  }
  const backend = await initBackend({ log: options.log ?? (() => undefined) });
  return { kind: 'torchvision', ...(await importTorchvision({ ...options, arch: options.arch, versions: versions(backend.name) })) };
}

/** The one line `lumen checkpoint import` prints. */
export function describeImport(imported: CheckpointImport, file: string): string {
  if (imported.kind === 'archive') {
    const { meta, verified, dir } = imported;
    const check = verified ? 'weights sha256 verified' : 'no sha256 recorded: weights not verified';
    return `imported ${file} (Lumen checkpoint, step ${meta.step}, ${meta.classes.length} classes, ${check}) -> ${dir}`;
  }
  const { arch, classes, layout, params, ignored, dir } = imported;
  const counters = ignored > 0 ? `, ${ignored} num_batches_tracked ignored` : '';
  return `imported ${file} (${arch}, ${layout} names${counters}): ${(params / 1e6).toFixed(2)}M params, ${classes.length} classes -> ${dir}`;
}
