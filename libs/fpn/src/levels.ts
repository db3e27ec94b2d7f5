import { assertNumber, describe, fail, isPositiveInteger } from '@lumen/core';
import { resolveFpnOptions, type FpnOptions } from './options';

/**
 * The name of each output level of `fpn`, in its order: torchvision names the levels by the
 * backbone's return layers, '0' … 'L-1' in Faster R-CNN's resnet_fpn_backbone, and
 * LastLevelMaxPool's 'pool'. MultiScaleRoIAlign's `featmap_names` are ['0', '1', '2', '3'].
 */
export function fpnLevelNames(options: FpnOptions): string[] {
  const o = resolveFpnOptions('fpnLevelNames', options);
  const names = o.inChannels.map((_, i) => String(i));
  return o.extra === 'maxpool' ? [...names, 'pool'] : names;
}

/**
 * Each output level's nominal stride: the input maps' strides (ResNet's [4, 8, 16, 32]),
 * then twice the last for 'pool'. Nominal: torchvision's AnchorGenerator divides the padded
 * image size by each map's size instead (integer division), which differs on the pool level
 * when the last map's size is odd (800 x 1216 -> P5 25 x 38 -> pool 13 x 19: strides 61, 64).
 */
export function fpnLevelStrides(inputStrides: readonly number[], options: FpnOptions): number[] {
  const fn = 'fpnLevelStrides';
  const o = resolveFpnOptions(fn, options);
  if (!Array.isArray(inputStrides) || inputStrides.length !== o.inChannels.length) {
    fail(fn, `'inputStrides' must hold ${o.inChannels.length} strides (one per input map), but got ${describe(inputStrides)}.`);
  }
  inputStrides.forEach((s: unknown, i) => assertNumber(fn, `inputStrides[${i}]`, s, 'a positive integer', isPositiveInteger));
  const strides = [...inputStrides];
  return o.extra === 'maxpool' ? [...strides, 2 * strides[strides.length - 1]] : strides;
}
