/**
 * The benchmark's rows on the Lumen (tfjs) side. Each names the runtime_torch.py row it is
 * compared with (`torchId`), which builds the same shapes in NCHW.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BenchModel } from '../kit/phases';
import { resnet50ToLayer3, type FrozenBnMode } from './resnet50';

export interface BenchRow {
  readonly id: string;
  readonly label: string;
  /** The runtime_torch.py row it is compared with. */
  readonly torchId: string;
  build(): BenchModel;
}

type Padding = 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

const INPUT_SEED = 7;
const KERNEL_SEED = 11;

function symmetric(pad: number): Padding {
  return pad === 0 ? 'valid' : [[0, 0], [pad, pad], [pad, pad], [0, 0]];
}

function randomInput(shape: [number, number, number, number]): tf.Tensor4D {
  return tf.randomNormal(shape, 0, 1, 'float32', INPUT_SEED);
}

function randomKernel(shape: [number, number, number, number]): tf.Variable {
  const init = tf.randomNormal(shape, 0, Math.sqrt(2 / (shape[0] * shape[1] * shape[3])), 'float32', KERNEL_SEED);
  const kernel = tf.variable(init, true);
  init.dispose();
  return kernel;
}

/** One model holding a single kernel variable, on a 1x128x128x64 input. */
function singleOp(kernelShape: [number, number, number, number], op: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor): BenchModel {
  const input = randomInput([1, 128, 128, 64]);
  const kernel = randomKernel(kernelShape);
  return {
    input,
    variables: [kernel],
    forward: (x) => op(x, kernel as tf.Tensor4D),
    dispose: () => tf.dispose([input, kernel]),
  };
}

function conv(k: number, outChannels: number, stride: number, pad: 'same' | number): () => BenchModel {
  const padding = pad === 'same' ? 'same' : symmetric(pad);
  return () => singleOp([k, k, 64, outChannels], (x, w) => tf.conv2d(x, w, stride, padding));
}

function depthwise3x3(): BenchModel {
  // Stride 1 with pad 1 each side is exactly tfjs's 'same' here.
  return singleOp([3, 3, 64, 1], (x, w) => tf.depthwiseConv2d(x, w, 1, 'same'));
}

/**
 * One depthwise conv (channel multiplier 1, torch's symmetric padding (k - 1) / 2) on a
 * 1xHxWxC input that is itself a variable: forward+backward then computes both the input
 * and the kernel gradient, as every depthwise layer but a net's first does in training.
 */
function depthwise(size: number, channels: number, k: number, stride: number): () => BenchModel {
  return () => {
    const init = randomInput([1, size, size, channels]);
    const input = tf.variable(init, true) as tf.Variable<tf.Rank.R4>;
    init.dispose();
    const kernel = randomKernel([k, k, channels, 1]);
    const padding = symmetric((k - 1) / 2);
    return {
      input,
      variables: [input, kernel],
      forward: (x) => tf.depthwiseConv2d(x, kernel as tf.Tensor4D, stride, padding),
      dispose: () => tf.dispose([input, kernel]),
    };
  };
}

/** MobileNetV3-Large's depthwise convs (torchvision, 224² input): features 2, 3, 4, 5, 11 and 14. */
function mobilenetV3Depthwise(size: number, channels: number, k: number, stride: number): BenchRow {
  const id = `dw${k}x${k}_s${stride}_${size}x${channels}`;
  return { id, label: `depthwise ${k}x${k}/${stride} ${size}²x${channels}, with dx`, torchId: id, build: depthwise(size, channels, k, stride) };
}

function resnet(bn: FrozenBnMode): BenchModel {
  const trunk = resnet50ToLayer3(bn);
  const input = randomInput([1, 608, 800, 3]);
  return {
    input,
    variables: trunk.variables,
    forward: (x) => trunk.apply(x),
    dispose: () => {
      trunk.dispose();
      input.dispose();
    },
  };
}

export const ROWS: readonly BenchRow[] = [
  { id: 'conv3x3_s1', label: 'conv 3x3/1 same 128²x64→64', torchId: 'conv3x3_s1', build: conv(3, 64, 1, 'same') },
  { id: 'conv3x3_s2', label: 'conv 3x3/2 pad1 128²x64→64', torchId: 'conv3x3_s2', build: conv(3, 64, 2, 1) },
  { id: 'conv1x1_256', label: 'conv 1x1/1 128²x64→256', torchId: 'conv1x1_256', build: conv(1, 256, 1, 0) },
  { id: 'dwconv3x3', label: 'depthwise 3x3/1 128²x64', torchId: 'dwconv3x3', build: depthwise3x3 },
  mobilenetV3Depthwise(112, 64, 3, 2),
  mobilenetV3Depthwise(56, 72, 3, 1),
  mobilenetV3Depthwise(56, 72, 5, 2),
  mobilenetV3Depthwise(28, 120, 5, 1),
  mobilenetV3Depthwise(14, 480, 3, 1),
  mobilenetV3Depthwise(7, 960, 5, 1),
  {
    id: 'resnet50_layer3',
    label: 'ResNet-50→layer3 608x800',
    torchId: 'resnet50_layer3',
    build: () => resnet('ops'),
  },
  {
    // The same trunk with frozen BN folded into the kernels: the tape then holds fewer
    // activations, which lets forward+backward fit in the wasm heap at this size (see
    // resnet50.ts). PyTorch's side is the same torchvision trunk.
    id: 'resnet50_layer3_folded',
    label: 'ResNet-50→layer3 608x800, BN folded',
    torchId: 'resnet50_layer3',
    build: () => resnet('folded'),
  },
];
