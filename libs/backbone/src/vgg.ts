import { maxPool, reshape, tidy, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { defineBackbone } from './define';
import { allFrozen, biasSpec, child, convBias, convSpec, dim, leaf, linear, linearSpec, maybeDropout, runStages } from './layers';
import { scaleWidth } from './resnet';
import { fail } from '@lumen/core';
import type { Backbone, ParamSpec, ResolvedBackboneOptions } from './types';

// torchvision's vgg16 (configuration "D", no batch norm): features.0 … features.29 are the
// body — conv1_1 … conv5_3 with their ReLUs and the first four 2x2/2 max-pools, stride 16
// (the fifth pool, features.30, is left out); the tail is classifier.0 (fc6) and
// classifier.3 (fc7), 4096 wide with ReLU and dropout, over a 7x7 RoI flattened NHWC.

/** Output channels of each conv block (conv1 … conv5) and its number of convs. */
const BLOCKS: readonly (readonly [number, number])[] = [
  [64, 2],
  [128, 2],
  [256, 3],
  [512, 3],
  [512, 3],
];
const FC = 4096;
/** The RoI size fc6 was trained on (torchvision's AdaptiveAvgPool2d((7, 7))). */
export const VGG_ROI_SIZE = 7;
const STAGES = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'fc'] as const;

interface ConvLayer {
  /** torchvision's index in `features`. */
  index: number;
  inC: number;
  outC: number;
  stage: number;
  /** A max-pool follows (the last block's is not part of the body). */
  poolAfter: boolean;
}

function convLayers(o: ResolvedBackboneOptions): ConvLayer[] {
  const out: ConvLayer[] = [];
  let index = 0;
  let inC = 3;
  BLOCKS.forEach(([channels, count], b) => {
    const outC = scaleWidth(channels, o.width);
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      out.push({ index, inC, outC, stage: b + 1, poolAfter: last && b < BLOCKS.length - 1 });
      index += 2; // conv, ReLU
      inC = outC;
    }
    index += 1; // MaxPool2d
  });
  return out;
}

function specs(o: ResolvedBackboneOptions): ParamSpec[] {
  const out: ParamSpec[] = [];
  for (const l of convLayers(o)) out.push(convSpec(`features.${l.index}`, 3, l.inC, l.outC, l.stage), biasSpec(`features.${l.index}`, l.outC, l.stage));
  const c5 = scaleWidth(512, o.width);
  const fc = scaleWidth(FC, o.width);
  const stage = STAGES.length;
  const roi = VGG_ROI_SIZE * VGG_ROI_SIZE;
  out.push(linearSpec('classifier.0', c5 * roi, fc, stage, [c5, VGG_ROI_SIZE, VGG_ROI_SIZE]), biasSpec('classifier.0', fc, stage));
  out.push(linearSpec('classifier.3', fc, fc, stage), biasSpec('classifier.3', fc, stage));
  return out;
}

/** The conv layers as the params hold them: features indices in order, kernels read for channels. */
function featureIndices(params: Parameters<Backbone['body']>[0]): number[] {
  const features = child('vgg16', params, 'features', '');
  return Object.keys(features).map(Number).sort((a, b) => a - b);
}

export const vgg16: Backbone = defineBackbone({
  name: 'vgg16',
  stages: STAGES,
  bodyChannels: (o) => scaleWidth(512, o.width),
  tailChannels: (o) => scaleWidth(FC, o.width),
  tailKind: 'fc',
  tailRoiSize: VGG_ROI_SIZE,
  paramSpecs: specs,
  // Four 2x2/2 max-pools (3x3 convs pad 1 keep the size).
  bodyStrides: [
    [2, 2, 0],
    [2, 2, 0],
    [2, 2, 0],
    [2, 2, 0],
  ],
  channelsOf(params) {
    const fn = 'vgg16';
    const features = child(fn, params, 'features', '');
    const indices = featureIndices(params);
    const kernel = (i: number) => leaf(fn, child(fn, features, String(i), 'features.'), 'kernel', `features.${i}.`);
    return { input: dim(kernel(indices[0]), 2), body: dim(kernel(indices[indices.length - 1]), 3) };
  },
  body(params, images) {
    const fn = 'vgg16.body';
    const features = child(fn, params, 'features', '');
    // Stages are the conv blocks; a max-pool sits where torchvision's indices skip one
    // (conv, ReLU, [pool]) and closes the block.
    const indices = featureIndices(params);
    const blocks: number[][] = [[]];
    indices.forEach((index, k) => {
      blocks[blocks.length - 1].push(index);
      const next = indices[k + 1];
      if (next != null && next - index === 3) blocks.push([]);
    });
    const stages = blocks.map((block, b) => ({
      frozen: block.every((i) => allFrozen(child(fn, features, String(i), 'features.'))),
      run: (input: Tensor4D) => {
        let x = input;
        for (const index of block) {
          const layer = child(fn, features, String(index), 'features.');
          const path = `features.${index}.`;
          x = convBias(x, leaf(fn, layer, 'kernel', path), leaf(fn, layer, 'bias', path), { stride: 1, pad: 1 }, 'relu');
        }
        return b < blocks.length - 1 ? maxPool(x, 2, 2, 'valid') : x;
      },
    }));
    return tidy(() => runStages(stages, images));
  },
  tail(params, pooled, ctx, options, fn) {
    const [r, h, w, c] = pooled.shape;
    if (h !== VGG_ROI_SIZE || w !== VGG_ROI_SIZE) {
      fail(fn, `'pooled' must be ${VGG_ROI_SIZE}x${VGG_ROI_SIZE} RoIs (fc6 was trained on them), but got a tensor of shape [${pooled.shape.join(',')}].`);
    }
    const classifier = child(fn, params, 'classifier', '');
    const fc = (i: number) => {
      const layer = child(fn, classifier, String(i), 'classifier.');
      return [leaf(fn, layer, 'kernel', `classifier.${i}.`), leaf(fn, layer, 'bias', `classifier.${i}.`)] as const;
    };
    return tidy(() => {
      // NHWC flatten; fc6's rows are stored in this order (importWeights permutes torch's NCHW rows).
      const flat = reshape(pooled, [r, h * w * c]) as Tensor2D;
      const fc6 = maybeDropout(fn, linear(flat, ...fc(0), 'relu'), options.dropout, ctx);
      return maybeDropout(fn, linear(fc6, ...fc(3), 'relu'), options.dropout, ctx);
    });
  },
});
