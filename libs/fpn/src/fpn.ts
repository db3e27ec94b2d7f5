import { assertTensor, describe, fail } from '@lumen/core';
import { add, tidy, type Tensor4D } from '@tensorflow/tfjs-core';
import { convBlock, type FpnContext } from './conv-block';
import { lastLevelMaxPool } from './last-level-max-pool';
import { resolveFpnOptions, type FpnOptions, type ResolvedFpnOptions } from './options';
import { fpnVariables, type FpnParams } from './params';
import { upsampleNearest } from './upsample-nearest';

function checkMaps(fn: string, maps: unknown, o: ResolvedFpnOptions): readonly Tensor4D[] {
  const levels = o.inChannels.length;
  if (!Array.isArray(maps) || maps.length !== levels) {
    fail(fn, `'maps' must be ${levels} NHWC feature maps (one per entry of 'inChannels', finest first), but got ${describe(maps)}.`);
  }
  maps.forEach((m: unknown, i) => {
    assertTensor(fn, `maps[${i}]`, m, 4, ['float32'], 'NHWC');
    const [n, , , c] = m.shape;
    if (c !== o.inChannels[i]) fail(fn, `'maps[${i}]' must have ${o.inChannels[i]} channels (inChannels[${i}]), but got shape [${m.shape.join(',')}].`);
    if (n !== maps[0].shape[0]) fail(fn, `'maps[${i}]' must have the batch size of maps[0] (${maps[0].shape[0]}), but got shape [${m.shape.join(',')}].`);
  });
  return maps as Tensor4D[];
}

function checkContext(fn: string, ctx: unknown): FpnContext {
  if (ctx == null || typeof ctx !== 'object' || typeof (ctx as { training?: unknown }).training !== 'boolean') {
    fail(fn, `'ctx' must be { training: boolean }, but got ${describe(ctx)}.`);
  }
  return ctx as FpnContext;
}

/**
 * torchvision's `FeaturePyramidNetwork.forward` on NHWC maps C[0] … C[L-1] (finest first):
 *
 *     last = inner[L-1](C[L-1]);  P[L-1] = layer[L-1](last)
 *     for i = L-2 … 0:  last = inner[i](C[i]) + nearest(last, size of C[i]);  P[i] = layer[i](last)
 *
 * and with `extra: 'maxpool'` LastLevelMaxPool appends pool(P[L-1]) (level 'pool').
 * Returns [P[0], …, P[L-1](, pool)], each [N, H_i, W_i, outChannels]; their names are
 * `fpnLevelNames(options)`. Differentiable w.r.t. the maps and every trainable param. With
 * `ctx.training`, trainable BN uses batch statistics and updates its running averages.
 */
export function fpn(params: FpnParams, maps: readonly Tensor4D[], ctx: FpnContext, options: FpnOptions): Tensor4D[] {
  const fn = 'fpn';
  const o = resolveFpnOptions(fn, options);
  const inputs = checkMaps(fn, maps, o);
  const context = checkContext(fn, ctx);
  const blocks = fpnVariables(fn, params, o);
  const top = inputs.length - 1;
  return tidy(() => {
    let last = convBlock(inputs[top], blocks.inner[top], context);
    const results = [convBlock(last, blocks.layer[top], context)];
    for (let i = top - 1; i >= 0; i--) {
      const lateral = convBlock(inputs[i], blocks.inner[i], context);
      const [, h, w] = lateral.shape;
      last = add(lateral, upsampleNearest(last, [h, w]));
      results.unshift(convBlock(last, blocks.layer[i], context));
    }
    if (o.extra === 'maxpool') results.push(lastLevelMaxPool(results[top]));
    return results;
  });
}
