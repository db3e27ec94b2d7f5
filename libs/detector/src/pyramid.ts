import { pyramidAnchors } from '@lumen/anchors';
import type { Backbone } from '@lumen/backbone';
import { fpn, type FpnParams } from '@lumen/fpn';
import * as tf from '@tensorflow/tfjs-core';
import type { AnchorPlan } from './anchor-plan';
import { anchorCache, type MapSource } from './map-source';
import type { PyramidPlan } from './pyramid-plan';

/**
 * A feature pyramid's maps: the FPN over the named backbone levels (torchvision's
 * BackboneWithFPN), with anchors per level on each map's stride as torchvision's
 * AnchorGenerator finds it (padded input size // map size: the 'pool' map of an 800x1216
 * input is 13x19, strides 61 and 64).
 */
export function featurePyramid(backbone: Backbone, plan: PyramidPlan, anchors: AnchorPlan): MapSource {
  const names = plan.levels.map((l) => l.name);
  const anchorsOf = anchorCache((key) => {
    const [image, ...maps] = key.split(',').map((size) => size.split('x').map(Number) as [number, number]);
    const { anchors: grid } = pyramidAnchors(anchors.sizes, anchors.ratios, maps, image);
    const data = grid.dataSync() as Float32Array;
    grid.dispose();
    return data;
  });
  return {
    features: (params, images, ctx) =>
      tf.tidy(() => fpn(params.fpn as FpnParams, backbone.features(params.backbone, images, names, ctx), ctx, plan.fpn)),
    anchors: (maps, [height, width]) => anchorsOf([`${height}x${width}`, ...maps.map((m) => `${m.shape[1]}x${m.shape[2]}`)].join(',')),
  };
}
