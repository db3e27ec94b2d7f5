import { importTorchvision, type ImportedCheckpoint } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { versions } from './versions';

export interface CheckpointImportOptions {
  /** The torchvision state dict (.pth or safetensors). */
  file: string;
  arch: string;
  out: string;
  /** 'coco' or a text file of class names; default COCO's for a 91-output classifier. */
  classes?: string;
  overrides?: string[];
  /** Where the backend notice goes (default: nowhere). */
  log?: (message: string) => void;
}

/** `lumen checkpoint import`: a torchvision Faster R-CNN file as a Lumen checkpoint (`importTorchvision`). */
export async function runCheckpointImport(options: CheckpointImportOptions): Promise<ImportedCheckpoint> {
  const backend = await initBackend({ log: options.log ?? (() => undefined) });
  return importTorchvision({ ...options, versions: versions(backend.name) });
}

/** The one line `lumen checkpoint import` prints. */
export function describeImport(imported: ImportedCheckpoint, file: string): string {
  const { arch, classes, layout, params, ignored, dir } = imported;
  const counters = ignored > 0 ? `, ${ignored} num_batches_tracked ignored` : '';
  return `imported ${file} (${arch}, ${layout} names${counters}): ${(params / 1e6).toFixed(2)}M params, ${classes.length} classes -> ${dir}`;
}
