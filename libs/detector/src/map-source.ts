import type { ForwardContext } from '@lumen/backbone';
import type * as tf from '@tensorflow/tfjs-core';
import type { DetectorParams, FeatureMaps } from './model';

/** Where the detector's feature maps come from, and the anchors laid on them. */
export interface MapSource {
  /** Normalised images [N, H, W, 3] -> the maps, finest first. */
  features(params: DetectorParams, images: tf.Tensor4D, ctx: ForwardContext): FeatureMaps;
  /** Anchors on every map, map after map ([Σ H·W·A, 4] flat), for a padded input of `imageSize` ([height, width]). */
  anchors(maps: FeatureMaps, imageSize: readonly [number, number]): Float32Array;
}

/** A cache of anchors by input and map sizes, kept small (a run sees few padded sizes). */
export function anchorCache(compute: (key: string) => Float32Array): (key: string) => Float32Array {
  const cache = new Map<string, Float32Array>();
  return (key) => {
    let anchors = cache.get(key);
    if (!anchors) {
      anchors = compute(key);
      if (cache.size > 64) cache.clear();
      cache.set(key, anchors);
    }
    return anchors;
  };
}
