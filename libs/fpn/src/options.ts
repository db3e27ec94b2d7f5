import { assertNumber, assertOptions, describe, fail, isPositiveInteger } from '@lumen/core';

/** The norm layer of every block: 'none' (fasterrcnn_resnet50_fpn: conv with bias) or 'batch' (…_fpn_v2: conv without bias, BatchNorm2d). */
export type FpnNorm = 'none' | 'batch';

/** What follows the last level: 'maxpool' (torchvision's LastLevelMaxPool, level 'pool') or nothing. */
export type FpnExtraBlock = 'maxpool' | 'none';

/**
 * As @lumen/backbone's BatchNormMode. 'frozen': affine and running statistics not trainable,
 * folded into the conv. 'trainable': affine trainable; in training, batch statistics
 * normalise and the running averages are updated (momentum 0.1).
 */
export type FpnBatchNormMode = 'frozen' | 'trainable';

export interface FpnOptions {
  /** Channels of each input map, finest first (torchvision's `in_channels_list`). */
  inChannels: readonly number[];
  /** Channels of every output level (torchvision's `out_channels`, 256 in Faster R-CNN). */
  outChannels: number;
  norm: FpnNorm;
  extra: FpnExtraBlock;
  /**
   * With `norm: 'batch'` only. Default 'trainable': fasterrcnn_resnet50_fpn_v2 builds its
   * FPN with plain nn.BatchNorm2d, trained even when the backbone is pretrained.
   */
  batchNorm?: FpnBatchNormMode;
}

/** Options with `batchNorm` filled in. */
export type ResolvedFpnOptions = Required<FpnOptions>;

export const DEFAULT_FPN_BATCH_NORM: FpnBatchNormMode = 'trainable';

/** `options` checked, each wrong field named; `batchNorm` defaulted. */
export function resolveFpnOptions(fn: string, options: unknown): ResolvedFpnOptions {
  assertOptions(fn, options, 'inChannels, outChannels, norm, extra, batchNorm?');
  const { inChannels, outChannels, norm, extra, batchNorm = DEFAULT_FPN_BATCH_NORM } = options;
  if (!Array.isArray(inChannels) || inChannels.length === 0) {
    fail(fn, `'inChannels' must be a non-empty array of positive integers (one per input map), but got ${describe(inChannels)}.`);
  }
  inChannels.forEach((c: unknown, i) => assertNumber(fn, `inChannels[${i}]`, c, 'a positive integer', isPositiveInteger));
  assertNumber(fn, 'outChannels', outChannels, 'a positive integer', isPositiveInteger);
  if (norm !== 'none' && norm !== 'batch') fail(fn, `'norm' must be 'none' or 'batch', but got ${describe(norm)}.`);
  if (extra !== 'maxpool' && extra !== 'none') fail(fn, `'extra' must be 'maxpool' or 'none', but got ${describe(extra)}.`);
  if (batchNorm !== 'frozen' && batchNorm !== 'trainable') fail(fn, `'batchNorm' must be 'frozen' or 'trainable', but got ${describe(batchNorm)}.`);
  return { inChannels: [...(inChannels as number[])], outChannels, norm, extra, batchNorm };
}
