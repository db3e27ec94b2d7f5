import { seededRandom, UserError } from '@lumen/core';
import type { Config } from '@lumen/config';
import { join } from 'node:path';
import { loadCheckpoint, WEIGHTS_FILE, type CheckpointMeta } from './checkpoint';
import { imageSizeRule, type ImageSizeRule } from './checkpoint-identity';
import { detectBatch, type Detection, type ImageScale } from './forward';
import { buildDetector, initDetector, type Detector, type DetectorParams } from './model';
import { assignParams, disposeParams } from './params';
import { batchImages, type ImageInput } from './transform';

/** An image ready for the network: resized RGB bytes plus how it relates to the original. */
export type DetectorInput = ImageInput & ImageScale;

/** A trained detector loaded from a checkpoint folder, ready to run. */
export interface LoadedDetector {
  detector: Detector;
  params: DetectorParams;
  config: Config;
  classes: string[];
  meta: CheckpointMeta;
  /** The resize rule the model was trained with (decode images with it). */
  imageSize: ImageSizeRule;
  /** Detections per image, boxes in original-image pixels, labels 1..N (`classes[label - 1]`). */
  detect(images: readonly DetectorInput[]): Promise<Detection[]>;
  dispose(): void;
}

/**
 * Loads a checkpoint written by `lumen train` (weights.safetensors, config.yaml, meta.json)
 * into a detector. Images must be decoded and resized with `imageSize` first (@lumen/data's
 * `decodeImage(pathOrBuffer, loaded.imageSize)` does it).
 */
export function loadDetector(dir: string): LoadedDetector {
  const checkpoint = loadCheckpoint(dir, { optimizer: false });
  const { config, meta } = checkpoint;
  const detector = buildDetector(config, meta.classes);
  const params = initDetector(detector, seededRandom(0));
  try {
    const unused = assignParams(params, checkpoint.weights, join(dir, WEIGHTS_FILE));
    if (unused.length > 0) throw new UserError(`${join(dir, WEIGHTS_FILE)}: ${unused.length} tensor(s) the model does not have: ${unused.slice(0, 5).join(', ')}`);
  } catch (error) {
    disposeParams(params);
    throw error;
  }
  return {
    detector,
    params,
    config,
    classes: meta.classes,
    meta,
    imageSize: imageSizeRule(config),
    async detect(images) {
      if (images.length === 0) return [];
      const batch = batchImages(images, config.model.transform);
      try {
        return await detectBatch(detector, params, batch, images);
      } finally {
        batch.images.dispose();
      }
    },
    dispose() {
      disposeParams(params);
    },
  };
}
