import { add, maxPool, mean, relu, tidy, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { defineBackbone, type TrunkStep } from './define';
import { allFrozen, batchNormSpecs, bnOf, child, convBn, convSpec, dim, leaf, runStages, type LayerContext } from './layers';
import { fail, type ParamTree } from '@lumen/core';
import type { Backbone, FeatureLevel, ParamSpec, ResolvedBackboneOptions } from './types';

// torchvision's ResNet (v1.5: the stride is on the 3x3 conv of a bottleneck), split as the
// C4 Faster R-CNN of Detectron/Luminoth: body = conv1, bn1, relu, maxpool, layer1..layer3
// (stride 16); tail = layer4 (first stride `tailStride`) + global average pool. Feature
// levels: layer1 … layer4 (torchvision's _resnet_fpn_extractor), layer4 on the full map.

type BlockKind = 'basic' | 'bottleneck';

const EXPANSION: Record<BlockKind, number> = { basic: 1, bottleneck: 4 };
const BASE_PLANES = [64, 128, 256, 512];
const STAGES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'] as const;

/** ResNet widths scaled by `width`: rounded to a multiple of 8, at least 8. */
export function scaleWidth(channels: number, width: number): number {
  return Math.max(8, Math.round((channels * width) / 8) * 8);
}

interface LayerPlan {
  index: number;
  planes: number;
  blocks: number;
  stride: number;
}

function plan(layers: readonly number[], o: ResolvedBackboneOptions): { stem: number; layers: LayerPlan[] } {
  return {
    stem: scaleWidth(64, o.width),
    layers: layers.map((blocks, i) => ({
      index: i + 1,
      planes: scaleWidth(BASE_PLANES[i], o.width),
      blocks,
      stride: i === 0 ? 1 : i === 3 ? o.tailStride : 2,
    })),
  };
}

function specs(kind: BlockKind, layers: readonly number[], o: ResolvedBackboneOptions): ParamSpec[] {
  const p = plan(layers, o);
  const out: ParamSpec[] = [convSpec('conv1', 7, 3, p.stem, 1), ...batchNormSpecs('bn1', p.stem, 1)];
  let inplanes = p.stem;
  for (const layer of p.layers) {
    const stage = layer.index + 1;
    const outC = layer.planes * EXPANSION[kind];
    for (let b = 0; b < layer.blocks; b++) {
      const path = `layer${layer.index}.${b}`;
      const stride = b === 0 ? layer.stride : 1;
      if (kind === 'basic') {
        out.push(convSpec(`${path}.conv1`, 3, inplanes, layer.planes, stage), ...batchNormSpecs(`${path}.bn1`, layer.planes, stage));
        out.push(convSpec(`${path}.conv2`, 3, layer.planes, layer.planes, stage), ...batchNormSpecs(`${path}.bn2`, layer.planes, stage));
      } else {
        out.push(convSpec(`${path}.conv1`, 1, inplanes, layer.planes, stage), ...batchNormSpecs(`${path}.bn1`, layer.planes, stage));
        out.push(convSpec(`${path}.conv2`, 3, layer.planes, layer.planes, stage), ...batchNormSpecs(`${path}.bn2`, layer.planes, stage));
        out.push(convSpec(`${path}.conv3`, 1, layer.planes, outC, stage), ...batchNormSpecs(`${path}.bn3`, outC, stage));
      }
      // torchvision's _make_layer: a projection when the stride or the width changes.
      if (b === 0 && (stride !== 1 || inplanes !== outC)) {
        out.push(convSpec(`${path}.downsample.0`, 1, inplanes, outC, stage), ...batchNormSpecs(`${path}.downsample.1`, outC, stage));
      }
      inplanes = outC;
    }
  }
  return out;
}

/** One residual block; its kind is read from the params (a bottleneck has conv3). */
function block(fn: string, x: Tensor4D, p: ParamTree, path: string, stride: number, ctx: LayerContext): Tensor4D {
  return tidy(() => {
    const conv = (name: string) => leaf(fn, child(fn, p, name, path), 'kernel', `${path}${name}.`);
    const bn = (name: string) => bnOf(fn, p, name, path);
    let residual: Tensor4D;
    if ('conv3' in p) {
      const a = convBn(x, conv('conv1'), bn('bn1'), { stride: 1, pad: 0 }, 'relu', ctx);
      const b = convBn(a, conv('conv2'), bn('bn2'), { stride, pad: 1 }, 'relu', ctx);
      residual = convBn(b, conv('conv3'), bn('bn3'), { stride: 1, pad: 0 }, 'linear', ctx);
    } else {
      const a = convBn(x, conv('conv1'), bn('bn1'), { stride, pad: 1 }, 'relu', ctx);
      residual = convBn(a, conv('conv2'), bn('bn2'), { stride: 1, pad: 1 }, 'linear', ctx);
    }
    let identity = x;
    if (!('downsample' in p) && (stride !== 1 || x.shape[3] !== residual.shape[3])) {
      fail(fn, `'${path}downsample' is missing, but the block has stride ${stride} and ${x.shape[3]} -> ${residual.shape[3]} channels (params made with another tailStride?).`);
    }
    if ('downsample' in p) {
      const ds = child(fn, p, 'downsample', path);
      const kernel = leaf(fn, child(fn, ds, '0', `${path}downsample.`), 'kernel', `${path}downsample.0.`);
      identity = convBn(x, kernel, bnOf(fn, ds, '1', `${path}downsample.`), { stride, pad: 0 }, 'linear', ctx);
    }
    return relu(add(residual, identity)) as Tensor4D;
  });
}

function layer(fn: string, x: Tensor4D, params: ParamTree, index: number, firstStride: number, ctx: LayerContext): Tensor4D {
  const name = `layer${index}`;
  const blocks = child(fn, params, name, '');
  const count = Object.keys(blocks).length;
  let y = x;
  for (let b = 0; b < count; b++) y = block(fn, y, child(fn, blocks, String(b), `${name}.`), `${name}.${b}.`, b === 0 ? firstStride : 1, ctx);
  return y;
}

/** conv1 7x7/2 pad 3, bn1, relu, maxpool 3x3/2 pad 1 (padding ignored by the max, as torch's -inf). */
export function resnetStem(fn: string, params: ParamTree, images: Tensor4D, ctx: LayerContext): Tensor4D {
  return tidy(() => {
    const kernel = leaf(fn, child(fn, params, 'conv1', ''), 'kernel', 'conv1.');
    const x = convBn(images, kernel, bnOf(fn, params, 'bn1', ''), { stride: 2, pad: 3 }, 'relu', ctx);
    return maxPool(x, 3, 2, 1);
  });
}

/** layer`index` of a ResNet (exported for tests that check a prefix of the network). */
export function resnetLayer(fn: string, params: ParamTree, x: Tensor4D, index: 1 | 2 | 3 | 4, ctx: LayerContext, tailStride = 2): Tensor4D {
  return layer(fn, x, params, index, index === 1 ? 1 : index === 4 ? tailStride : 2, ctx);
}

function lastBlockOut(params: ParamTree, layerName: string): number {
  const fn = 'resnet';
  const blocks = child(fn, params, layerName, '');
  const last = child(fn, blocks, String(Object.keys(blocks).length - 1), `${layerName}.`);
  const conv = child(fn, last, 'conv3' in last ? 'conv3' : 'conv2', `${layerName}.`);
  return dim(leaf(fn, conv, 'kernel', ''), 3);
}

/** layer1 … layer4 at strides 4 … 32; layer4 only with tailStride 2 (stride 1 is the C4 tail's, not the classifier's). */
function levels(kind: BlockKind, o: ResolvedBackboneOptions): FeatureLevel[] {
  const all = BASE_PLANES.map((planes, i) => ({ name: `layer${i + 1}`, stride: 4 * 2 ** i, channels: scaleWidth(planes, o.width) * EXPANSION[kind] }));
  return o.tailStride === 2 ? all : all.slice(0, 3);
}

/** The stem, then layer1 … layer`last` (layer4's first stride `tailStride`). */
function stemAndLayers(fn: string, params: ParamTree, ctx: LayerContext, last: 3 | 4, tailStride: number): TrunkStep[] {
  const stem = { conv1: child(fn, params, 'conv1', ''), bn1: child(fn, params, 'bn1', '') };
  const indices = ([1, 2, 3, 4] as const).slice(0, last);
  return [
    { name: 'stem', run: (x: Tensor4D) => resnetStem(fn, params, x, ctx), frozen: allFrozen(stem) },
    ...indices.map((index) => ({
      name: `layer${index}`,
      run: (x: Tensor4D) => resnetLayer(fn, params, x, index, ctx, tailStride),
      frozen: allFrozen(child(fn, params, `layer${index}`, '')),
    })),
  ];
}

export function resnet(name: string, kind: BlockKind, layers: readonly [number, number, number, number]): Backbone {
  return defineBackbone({
    name,
    stages: STAGES,
    bodyChannels: (o) => scaleWidth(256, o.width) * EXPANSION[kind],
    tailChannels: (o) => scaleWidth(512, o.width) * EXPANSION[kind],
    tailKind: 'conv',
    paramSpecs: (o) => specs(kind, layers, o),
    // conv1 7x7/2 pad 3, maxpool 3x3/2 pad 1, the first 3x3/2 pad 1 conv of layer2 and layer3.
    bodyStrides: [
      [7, 2, 3],
      [3, 2, 1],
      [3, 2, 1],
      [3, 2, 1],
    ],
    channelsOf: (params) => ({
      input: dim(leaf(`${name}.body`, child(`${name}.body`, params, 'conv1', ''), 'kernel', 'conv1.'), 2),
      body: lastBlockOut(params, 'layer3'),
    }),
    body(params, images, ctx) {
      const fn = `${name}.body`;
      return tidy(() => runStages(stemAndLayers(fn, params, ctx, 3, 2), images));
    },
    tail(params, pooled, ctx, options, fn) {
      return tidy(() => mean(resnetLayer(fn, params, pooled, 4, ctx, options.tailStride), [1, 2]) as Tensor2D);
    },
    featureLevels: (o) => levels(kind, o),
    trunk: (params, ctx, options, fn) => stemAndLayers(fn, params, ctx, 4, options.tailStride),
  });
}

export const resnet18 = resnet('resnet18', 'basic', [2, 2, 2, 2]);
export const resnet34 = resnet('resnet34', 'basic', [3, 4, 6, 3]);
export const resnet50 = resnet('resnet50', 'bottleneck', [3, 4, 6, 3]);
export const resnet101 = resnet('resnet101', 'bottleneck', [3, 4, 23, 3]);
