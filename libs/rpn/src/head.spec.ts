import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { initRpnHead, rpnHead, type RpnParams } from './head';
import { loadFixture, relativeError } from './testing/fixtures';

interface HeadCase {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  anchors: number;
  features: number[];
  weights: Record<string, number[]>;
  objectness: number[];
  deltas: number[];
}
const cases = loadFixture<{ cases: HeadCase[] }>('head.json').cases;

/** torchvision's RPNHead state dict (OIHW kernels) as Lumen params (HWIO). */
function importWeights(c: HeadCase): RpnParams {
  const variable = <R extends tf.Rank>(t: tf.Tensor<R>) => {
    const v = tf.variable(t);
    t.dispose();
    return v;
  };
  const conv = (name: string, out: number, size: number) => ({
    kernel: variable(tf.tidy(() => tf.transpose(tf.tensor4d(c.weights[`${name}.kernel`], [out, c.inChannels, size, size]), [2, 3, 1, 0]))),
    bias: variable(tf.tensor1d(c.weights[`${name}.bias`])),
  });
  return { conv: conv('conv', c.inChannels, 3), cls_logits: conv('cls_logits', c.anchors, 1), bbox_pred: conv('bbox_pred', 4 * c.anchors, 1) };
}

function disposeParams(p: RpnParams): void {
  for (const layer of Object.values(p)) tf.dispose([layer.kernel, layer.bias]);
}

describe('rpnHead against torchvision RPNHead', () => {
  it.each(cases.map((c) => [`${c.batch}x${c.height}x${c.width}x${c.inChannels}, A=${c.anchors}`, c] as const))('%s: objectness and deltas', (_, c) => {
    const before = tf.memory().numTensors;
    const params = importWeights(c);
    const features = tf.tensor4d(c.features, [c.batch, c.height, c.width, c.inChannels]);
    const out = rpnHead(params, features, { anchorsPerLocation: c.anchors, objectness: 'sigmoid' });
    expect(out.objectness.shape).toEqual([c.batch, c.height, c.width, c.anchors]);
    expect(out.deltas.shape).toEqual([c.batch, c.height, c.width, 4 * c.anchors]);
    expect(relativeError(out.objectness.dataSync(), c.objectness)).toBeLessThan(1e-4);
    expect(relativeError(out.deltas.dataSync(), c.deltas)).toBeLessThan(1e-4);
    tf.dispose([features, out.objectness, out.deltas]);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('initRpnHead', () => {
  it('has torchvision names and HWIO shapes, N(0, 0.01²) kernels and zero biases', () => {
    const before = tf.memory().numTensors;
    const p = initRpnHead({ anchorsPerLocation: 15, objectness: 'sigmoid' }, 32, seededRandom(1));
    expect(p.conv.kernel.shape).toEqual([3, 3, 32, 32]);
    expect(p.cls_logits.kernel.shape).toEqual([1, 1, 32, 15]);
    expect(p.bbox_pred.kernel.shape).toEqual([1, 1, 32, 60]);
    expect([p.conv.bias.shape, p.cls_logits.bias.shape, p.bbox_pred.bias.shape]).toEqual([[32], [15], [60]]);
    for (const layer of Object.values(p)) {
      expect(layer.kernel).toBeInstanceOf(tf.Variable);
      expect(layer.kernel.trainable).toBe(true);
      expect(Array.from(layer.bias.dataSync()).every((v) => v === 0)).toBe(true);
    }
    const k = Array.from(p.conv.kernel.dataSync());
    const mean = k.reduce((s, v) => s + v, 0) / k.length;
    const std = Math.sqrt(k.reduce((s, v) => s + (v - mean) ** 2, 0) / k.length);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.0095);
    expect(std).toBeLessThan(0.0105);
    disposeParams(p);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible from the generator and differs between seeds', () => {
    const a = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4, seededRandom(7));
    const b = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4, seededRandom(7));
    const c = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4, seededRandom(8));
    expect(Array.from(a.bbox_pred.kernel.dataSync())).toEqual(Array.from(b.bbox_pred.kernel.dataSync()));
    expect(Array.from(a.bbox_pred.kernel.dataSync())).not.toEqual(Array.from(c.bbox_pred.kernel.dataSync()));
    [a, b, c].forEach(disposeParams);
  });

  it('gives the softmax head 2A objectness channels: background 2a, foreground 2a + 1', () => {
    const before = tf.memory().numTensors;
    const options = { anchorsPerLocation: 3, objectness: 'softmax' } as const;
    const p = initRpnHead(options, 8, seededRandom(3));
    expect(p.cls_logits.kernel.shape).toEqual([1, 1, 8, 6]);
    const x = tf.randomNormal<tf.Rank.R4>([2, 4, 5, 8], 0, 1, 'float32', 1);
    const out = rpnHead(p, x, options);
    expect(out.objectness.shape).toEqual([2, 4, 5, 6]);
    expect(out.deltas.shape).toEqual([2, 4, 5, 12]);
    tf.dispose([x, out.objectness, out.deltas]);
    disposeParams(p);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('argument checks', () => {
  const rng = seededRandom(1);
  it('names the bad option or argument', () => {
    expect(() => initRpnHead({ anchorsPerLocation: 0, objectness: 'sigmoid' }, 4, rng)).toThrow(
      "Error in initRpnHead: 'anchorsPerLocation' must be a positive integer, but got 0.",
    );
    expect(() => initRpnHead({ anchorsPerLocation: 3, objectness: 'sofmax' as 'softmax' }, 4, rng)).toThrow(
      `Error in initRpnHead: 'objectness' must be 'sigmoid' or 'softmax', but got "sofmax".`,
    );
    expect(() => initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 2.5, rng)).toThrow("'inChannels' must be a positive integer, but got 2.5.");
    expect(() => initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4, undefined as unknown as () => number)).toThrow("'rng' must be a function");
  });

  it('rejects features or params that do not fit', () => {
    const before = tf.memory().numTensors;
    const p = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4, rng);
    const x = tf.zeros<tf.Rank.R4>([1, 3, 3, 5]);
    expect(() => rpnHead(p, x, { anchorsPerLocation: 3, objectness: 'sigmoid' })).toThrow(
      "Error in rpnHead: 'params.conv' must have kernel [3,3,5,5] and bias [5] for 5 input channels",
    );
    const y = tf.zeros<tf.Rank.R4>([1, 3, 3, 4]);
    expect(() => rpnHead(p, y, { anchorsPerLocation: 3, objectness: 'softmax' })).toThrow("'params.cls_logits' must have kernel [1,1,4,6]");
    const z = tf.zeros([3, 3, 4]);
    expect(() => rpnHead(p, z as tf.Tensor4D, { anchorsPerLocation: 3, objectness: 'sigmoid' })).toThrow(
      "Error in rpnHead: 'features' must be a rank-4 float32 tensor, but got a float32 tensor of shape [3,3,4].",
    );
    tf.dispose([x, y, z]);
    disposeParams(p);
    expect(tf.memory().numTensors).toBe(before);
  });
});
