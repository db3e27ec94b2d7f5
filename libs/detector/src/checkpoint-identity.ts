// What a program that does not run the model needs to know of a checkpoint: its classes, the
// resize rule its images take, and the sha256 of its weights (which names the exact model, so
// processes on different machines can check they run the same one).
import { loadConfig, type Config } from '@lumen/config';
import { join } from 'node:path';
import { CONFIG_FILE, readCheckpointMeta, WEIGHTS_FILE } from './checkpoint';
import { sha256OfFile } from './checkpoint-integrity';

/** The resize rule a model was trained with: decode its images with it. */
export interface ImageSizeRule {
  minSize: number;
  maxSize: number;
  resize?: 'sharp' | 'torchvision';
}

export function imageSizeRule(config: Config): ImageSizeRule {
  return { minSize: config.data.image.minSize, maxSize: config.data.image.maxSize, resize: config.data.image.resize };
}

export interface CheckpointIdentity {
  dir: string;
  classes: string[];
  imageSize: ImageSizeRule;
  /** meta.json's weightsSha256, or (older checkpoints) the sha256 of weights.safetensors. */
  weightsSha256: string;
}

/** Reads meta.json and config.yaml (and hashes the weights only when meta.json has no sha256). */
export async function checkpointIdentity(dir: string): Promise<CheckpointIdentity> {
  const meta = readCheckpointMeta(dir);
  const config = loadConfig(join(dir, CONFIG_FILE)).config;
  const weightsSha256 = meta.weightsSha256 ?? (await sha256OfFile(join(dir, WEIGHTS_FILE)));
  return { dir, classes: meta.classes, imageSize: imageSizeRule(config), weightsSha256 };
}
