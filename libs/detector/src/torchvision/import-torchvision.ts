import { readWeightsFile, type SafeTensor } from '@lumen/backbone';
import type { Config } from '@lumen/config';
import { seededRandom, UserError } from '@lumen/core';
import { existsSync, readFileSync } from 'node:fs';
import { saveCheckpoint } from '../checkpoint';
import { buildDetector, initDetector } from '../model';
import { assignParams, countParams, disposeParams } from '../params';
import { torchParamMap } from '../torch-names';
import { architectureConfig, TORCHVISION_ARCHITECTURES, type TorchvisionArchitecture } from './architectures';
import { importedClasses } from './class-list';
import { mapTorchvisionState, type TorchLayout } from './state-dict';

export interface ImportTorchvisionOptions {
  /** A torchvision Faster R-CNN state dict: `torch.save(model.state_dict())` (.pth) or safetensors. */
  file: string;
  /** The builder that made the model (`TORCHVISION_ARCHITECTURES`). */
  arch: string;
  /** The checkpoint folder to write; it must not exist. */
  out: string;
  /** 'coco', a text file with one class name per line, or undefined (COCO's for 91 outputs). */
  classes?: string;
  /** `a.b=c` config overrides: the sizes of a model narrower than the builder's, a threshold. */
  overrides?: readonly string[];
  /** Recorded in meta.json. */
  versions?: Record<string, string>;
}

export interface ImportedCheckpoint {
  dir: string;
  arch: TorchvisionArchitecture;
  config: Config;
  classes: string[];
  layout: TorchLayout;
  /** Parameter values imported. */
  params: number;
  /** Tensors of the file read past (BatchNorm2d's num_batches_tracked). */
  ignored: number;
}

/** The tensor whose rows are the classifier's outputs: background + one per class. */
const CLASSIFIER = 'roi_heads.box_predictor.cls_score.weight';

function readStateDict(file: string): Record<string, SafeTensor> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (error) {
    throw new UserError(`${file}: cannot read it: ${(error as Error).message}`);
  }
  try {
    return readWeightsFile(bytes);
  } catch (error) {
    throw new UserError(`${file}: not a readable state dict: ${(error as Error).message.replace(/^Error in \w+: /, '')}`);
  }
}

function classifierOutputs(tensors: Record<string, SafeTensor>, file: string): number {
  const classifier = tensors[CLASSIFIER];
  if (classifier === undefined || classifier.shape.length !== 2 || classifier.shape[0] < 2) {
    const names = Object.keys(tensors);
    const first = names.slice(0, 3).join(', ') || 'none';
    throw new UserError(`${file} is not a torchvision Faster R-CNN state dict: it has no ${CLASSIFIER} [classes + 1, hidden] for 1 class or more (${names.length} tensors, first ${first})`);
  }
  return classifier.shape[0];
}

/** The builders whose models have every tensor name of the file's (names alone: widths and class counts aside). */
function architecturesNamed(names: ReadonlySet<string>): TorchvisionArchitecture[] {
  return TORCHVISION_ARCHITECTURES.filter((arch) => torchParamMap(architectureConfig(arch), ['object']).every((p) => p.torchNames.some((n) => names.has(n))));
}

/** What the mapping error adds: the builder the names point to, or that the sizes differ. */
function diagnosis(arch: TorchvisionArchitecture, tensors: Record<string, SafeTensor>): string {
  const named = architecturesNamed(new Set(Object.keys(tensors)));
  if (named.includes(arch)) {
    return (
      '. Its names are those of this model but not all its shapes: a model of other sizes? Give them with --set ' +
      '(model.backbone.width, model.backbone.fpn.outChannels, model.rcnn.hidden, model.rcnn.convChannels)'
    );
  }
  if (named.length > 0) return `. Its names are those of ${named.join(' or ')}: --arch ${named[0]}?`;
  return '';
}

/**
 * `lumen checkpoint import`: a torchvision Faster R-CNN file as a Lumen checkpoint folder. The
 * config is the builder's (`architectureConfig`, with `overrides`); each tensor is found by
 * its torchvision name, 0.13's or the older one (`torchParamMap`), checked and converted to
 * Lumen's layout (`mapTorchvisionState`); the classes come from `classes`. Writes
 * weights.safetensors, config.yaml and meta.json (step 0) with `saveCheckpoint`. Anything
 * wrong with the arguments or the file is a UserError naming it. Needs a tfjs backend.
 */
export async function importTorchvision(options: ImportTorchvisionOptions): Promise<ImportedCheckpoint> {
  const { file, out } = options;
  const config = architectureConfig(options.arch, options.overrides);
  const arch = options.arch as TorchvisionArchitecture;
  if (existsSync(out)) throw new UserError(`--out ${out} already exists: give a new folder for the checkpoint`);
  const tensors = readStateDict(file);
  const outputs = classifierOutputs(tensors, file);
  // The tensors first, with placeholder names: a wrong --arch or --set is the news, not the classes.
  const placeholders = Array.from({ length: outputs - 1 }, (_, i) => `class ${i + 1}`);
  let mapped: ReturnType<typeof mapTorchvisionState>;
  try {
    mapped = mapTorchvisionState(tensors, torchParamMap(config, placeholders), file, `torchvision's ${arch} builds`);
  } catch (error) {
    if (error instanceof UserError) throw new UserError(error.message + diagnosis(arch, tensors));
    throw error;
  }
  const classes = importedClasses(options.classes, outputs, file);
  const params = initDetector(buildDetector(config, classes), seededRandom(0));
  try {
    assignParams(params, mapped.weights, file);
    await saveCheckpoint(out, { params, config, classes, step: 0, versions: options.versions });
    return { dir: out, arch, config, classes, layout: mapped.layout, params: countParams(params).total, ignored: mapped.ignored.length };
  } finally {
    disposeParams(params);
  }
}
