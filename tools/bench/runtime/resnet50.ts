/**
 * ResNet-50 up to layer3 (the Faster R-CNN "C4" trunk) in torchvision's layout, for the
 * runtime benchmark only — the real backbone library comes later.
 *
 * NHWC, with torchvision's arithmetic: symmetric explicit padding (never tfjs 'same',
 * which pads stride-2 windows bottom/right only), v1.5 bottlenecks (stride on the 3x3
 * conv), a 1x1 conv + BN downsample on the first block of each layer. BatchNorm is frozen
 * as Faster R-CNN freezes it: a per-channel multiply + add by constants. Conv kernels are
 * tf.Variables so `tf.variableGrads` reaches every one of them.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A conv followed by frozen BN (no conv bias: torchvision's ResNet convs have none). */
interface ConvBn {
  kernel: tf.Variable<tf.Rank.R4>;
  stride: number;
  pad: number;
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
}

interface Bottleneck {
  reduce: ConvBn;
  spatial: ConvBn;
  expand: ConvBn;
  downsample: ConvBn | null;
}

export interface ResNetTrunk {
  /** Every conv kernel, in forward order. */
  readonly variables: tf.Variable[];
  apply(x: tf.Tensor4D): tf.Tensor4D;
  dispose(): void;
}

/** torchvision's BatchNorm2d defaults: weight 1, bias 0, running mean 0, var 1, eps 1e-5. */
const BN_EPS = 1e-5;

/** Deterministic seeds, one per kernel, so two builds hold the same weights. */
class SeedSequence {
  constructor(private next: number) {}
  take(): number {
    return this.next++;
  }
}

/**
 * He-normal with fan_out, as torchvision initialises ResNet convs
 * (kaiming_normal_(mode='fan_out', nonlinearity='relu')).
 */
function heNormalKernel(shape: [number, number, number, number], seed: number): tf.Variable<tf.Rank.R4> {
  const [kh, kw, , outChannels] = shape;
  const std = Math.sqrt(2 / (kh * kw * outChannels));
  const init = tf.randomNormal(shape, 0, std, 'float32', seed);
  const kernel = tf.variable(init, true) as tf.Variable<tf.Rank.R4>;
  init.dispose();
  return kernel;
}

function convBn(seeds: SeedSequence, k: number, inC: number, outC: number, stride: number): ConvBn {
  // Frozen BN folded to y = x·scale + shift, from the running statistics and affine params.
  const scale = tf.fill([outC], 1 / Math.sqrt(1 + BN_EPS)) as tf.Tensor1D;
  const shift = tf.zeros([outC]) as tf.Tensor1D;
  return { kernel: heNormalKernel([k, k, inC, outC], seeds.take()), stride, pad: (k - 1) / 2, scale, shift };
}

type Activation = 'relu' | 'linear';

/** The conv's padding: symmetric, as torch pads. */
function padding(pad: number): 'valid' | [[0, 0], [number, number], [number, number], [0, 0]] {
  return pad === 0 ? 'valid' : [[0, 0], [pad, pad], [pad, pad], [0, 0]];
}

/** conv → ·scale → +shift (→ ReLU) as separate ops: the formulation torchvision's modules spell out. */
function convBnOps(layer: ConvBn, x: tf.Tensor4D, activation: Activation): tf.Tensor4D {
  const y = tf.conv2d(x, layer.kernel, layer.stride, padding(layer.pad));
  const bn = tf.add<tf.Tensor4D>(tf.mul(y, layer.scale), layer.shift);
  return activation === 'relu' ? tf.relu(bn) : bn;
}

/**
 * The same function with the BN scale folded into the kernel (kernel·scale, per output
 * channel) and the shift (+ ReLU) fused into the conv. tfjs keeps every activation the
 * tape saved and every activation gradient until variableGrads returns; this form leaves
 * fewer of both (~17% less peak at 304x400), even though tfjs unfuses a ReLU-activated
 * fused conv while recording a tape.
 */
function convBnFolded(layer: ConvBn, x: tf.Tensor4D, activation: Activation): tf.Tensor4D {
  const filter = tf.mul<tf.Tensor4D>(layer.kernel, layer.scale);
  return tf.fused.conv2d({ x, filter, strides: layer.stride, pad: padding(layer.pad), bias: layer.shift, activation });
}

function bottleneck(seeds: SeedSequence, inC: number, width: number, stride: number): Bottleneck {
  const outC = width * 4;
  return {
    reduce: convBn(seeds, 1, inC, width, 1),
    spatial: convBn(seeds, 3, width, width, stride),
    expand: convBn(seeds, 1, width, outC, 1),
    downsample: stride !== 1 || inC !== outC ? convBn(seeds, 1, inC, outC, stride) : null,
  };
}

type ApplyConvBn = (layer: ConvBn, x: tf.Tensor4D, activation: Activation) => tf.Tensor4D;

function applyBottleneck(convBn: ApplyConvBn, block: Bottleneck, x: tf.Tensor4D): tf.Tensor4D {
  const a = convBn(block.reduce, x, 'relu');
  const b = convBn(block.spatial, a, 'relu');
  const c = convBn(block.expand, b, 'linear');
  const identity = block.downsample != null ? convBn(block.downsample, x, 'linear') : x;
  return tf.relu(tf.add<tf.Tensor4D>(c, identity));
}

function convBnsOf(block: Bottleneck): ConvBn[] {
  return [block.reduce, block.spatial, block.expand, ...(block.downsample != null ? [block.downsample] : [])];
}

/**
 * How frozen BN is computed: 'ops' multiplies and adds on the activations after each conv;
 * 'folded' scales the kernel and fuses the shift (and ReLU) into the conv. Same function.
 */
export type FrozenBnMode = 'ops' | 'folded';

/** Builds conv1..layer3 with seeded random weights. */
export function resnet50ToLayer3(bn: FrozenBnMode = 'ops', seed = 1): ResNetTrunk {
  const seeds = new SeedSequence(seed);
  const stem = convBn(seeds, 7, 3, 64, 2);
  // [blocks, width, stride of the first block] for layer1..layer3.
  const layers: [number, number, number][] = [
    [3, 64, 1],
    [4, 128, 2],
    [6, 256, 2],
  ];
  const blocks: Bottleneck[] = [];
  let channels = 64;
  for (const [count, width, stride] of layers) {
    for (let i = 0; i < count; i++) {
      blocks.push(bottleneck(seeds, channels, width, i === 0 ? stride : 1));
      channels = width * 4;
    }
  }
  const convs = [stem, ...blocks.flatMap(convBnsOf)];

  return {
    variables: convs.map((c) => c.kernel),
    apply(x: tf.Tensor4D): tf.Tensor4D {
      const convBn = bn === 'folded' ? convBnFolded : convBnOps;
      // maxpool 3x3/2 with a numeric pad of 1 pads both sides, as torch does ('same' would not).
      let y = tf.maxPool(convBn(stem, x, 'relu'), 3, 2, 1);
      for (const block of blocks) y = applyBottleneck(convBn, block, y);
      return y;
    },
    dispose(): void {
      for (const c of convs) tf.dispose([c.kernel, c.scale, c.shift]);
    },
  };
}
