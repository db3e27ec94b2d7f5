import { gridAnchors, referenceAnchors } from '@lumen/anchors';
import type { Backbone } from '@lumen/backbone';
import * as tf from '@tensorflow/tfjs-core';
import type { AnchorPlan } from './anchor-plan';
import { anchorCache, type MapSource } from './map-source';

/**
 * The C4 design's one map: the backbone body's, with anchors on a grid of its nominal stride
 * 16 (exact for inputs padded to a multiple of 16, so the input size is not read).
 */
export function singleMap(backbone: Backbone, anchors: AnchorPlan): MapSource {
  const stride = backbone.bodyStride;
  const cells = tf.tidy(() => referenceAnchors(anchors.sizes[0], anchors.ratios[0]).dataSync() as Float32Array);
  const grid = anchorCache((key) => {
    const [height, width] = key.split('x').map(Number);
    return tf.tidy(() => gridAnchors(tf.tensor2d(cells, [cells.length / 4, 4]), height, width, stride).dataSync() as Float32Array);
  });
  return {
    features: (params, images, ctx) => [backbone.body(params.backbone, images, ctx)],
    anchors: ([map]) => grid(`${map.shape[1]}x${map.shape[2]}`),
  };
}
