// The torchvision Faster R-CNN files of tools/fixtures/detector_parity_fixtures.py, for the
// importer's specs: narrow models with random weights, and the arguments that import them.
import { readWeightsFile, type SafeTensor } from '@lumen/backbone';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const TORCHVISION_FIXTURES = join(__dirname, '..', 'fixtures', 'torchvision-detectors');

export interface TorchvisionCase {
  arch: string;
  /** The .pth in TORCHVISION_FIXTURES. */
  file: string;
  /** `--classes`: 'coco' or a file in TORCHVISION_FIXTURES. */
  classes: string;
  /** `--set` overrides: the narrow model's sizes. */
  set: string[];
}

export function torchvisionCase(arch: string): TorchvisionCase & { path: string } {
  const manifest = JSON.parse(readFileSync(join(TORCHVISION_FIXTURES, 'manifest.json'), 'utf8')) as { cases: TorchvisionCase[] };
  const found = manifest.cases.find((c) => c.arch === arch);
  if (!found) throw new Error(`no torchvision fixture for ${arch}`);
  return { ...found, path: join(TORCHVISION_FIXTURES, found.file) };
}

/** A fixture file's state dict. */
export function readCaseState(arch: string): Record<string, SafeTensor> {
  return readWeightsFile(new Uint8Array(readFileSync(torchvisionCase(arch).path)));
}
