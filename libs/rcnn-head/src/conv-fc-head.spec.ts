import { disposeParams, flattenParams, makeVariable, seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { getBoxHead, type BoxHeadContext } from './box-head';
import type { BatchNormMode, BoxHeadOptions } from './box-head-options';
import { convFcHeadParamSpecs, type ConvFcHeadParams, type HeadParamSpec } from './conv-fc-head';
import { registerCpuBatchNormKernels } from './testing/batch-norm-kernels';
import { fromTorchLayout, loadFixture, registerTfjsGradients, relativeError } from './testing/fixtures';

// The head against torchvision (tools/fixtures/heads_fixtures.py): weights imported through
// the param specs, features and the gradients of sum(features · upstream) in eval and train
// mode, and the running statistics train mode leaves.
registerTfjsGradients();

interface RunFixture {
  features: number[];
  /** NHWC. */
  gradPooled: number[];
  /** By torchvision's names within the head, torch layouts. */
  grads: Record<string, number[]>;
  runningStats: Record<string, number[]>;
}
interface ConvFcFixture {
  rois: number;
  channels: number;
  poolSize: [number, number];
  convChannels: number;
  hidden: number;
  pooled: number[];
  upstream: number[];
  weights: Record<string, number[]>;
  eval: RunFixture;
  train: RunFixture;
  v2StateDict: Array<{ name: string; shape: number[] }>;
}
const fx = loadFixture<ConvFcFixture>('conv-fc-head.json');
const options: BoxHeadOptions = { inChannels: fx.channels, poolSize: fx.poolSize, hidden: fx.hidden, convChannels: fx.convChannels };
/** Names within the head's params and within torchvision's FastRCNNConvFCHead. */
const specs = convFcHeadParamSpecs(options, '');
const head = getBoxHead('conv-fc');

/** The fixture's torchvision weights loaded through the param specs, into params made by `init`. */
function importedParams(batchNorm: BatchNormMode): ConvFcHeadParams {
  const params = head.init({ ...options, batchNorm }, seededRandom(1));
  const variables = new Map(flattenParams(params));
  for (const spec of specs) {
    const variable = variables.get(spec.name);
    if (variable === undefined) throw new Error(`init made no '${spec.name}'`);
    const values = tf.tensor(fromTorchLayout(spec, fx.weights[spec.torchName]), spec.shape);
    variable.assign(values);
    values.dispose();
  }
  return params;
}

interface Run {
  features: Float32Array;
  /** Gradients by Lumen's names within the head (trainable variables only), and of 'pooled'. */
  grads: Map<string, Float32Array>;
}

/** The head's features, and the gradients of sum(features · upstream) w.r.t. the pooled map and every trainable parameter. */
function run(params: ConvFcHeadParams, ctx: BoxHeadContext): Run {
  const [r, h, w, c] = [fx.rois, fx.poolSize[0], fx.poolSize[1], fx.channels];
  const pooled = makeVariable<tf.Rank.R4>(Float32Array.from(fx.pooled), [r, h, w, c]);
  const upstream = tf.tensor2d(fx.upstream, [r, fx.hidden]);
  const trainable = flattenParams(params).filter(([, v]) => v.trainable);
  let features: tf.Tensor2D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    features = tf.keep(head.apply(params, pooled, ctx));
    return tf.sum(tf.mul(features, upstream));
  }, [pooled, ...trainable.map(([, v]) => v)]);
  const out: Run = { features: (features as tf.Tensor2D).dataSync() as Float32Array, grads: new Map([['pooled', grads[pooled.name].dataSync() as Float32Array]]) };
  for (const [name, v] of trainable) out.grads.set(name, grads[v.name].dataSync() as Float32Array);
  tf.dispose([pooled, upstream, value, features as tf.Tensor2D, ...Object.values(grads)]);
  return out;
}

const torchSpec = (torchName: string): HeadParamSpec => {
  const spec = specs.find((s) => s.torchName === torchName);
  if (spec === undefined) throw new Error(`no spec for ${torchName}`);
  return spec;
};

/** The entries of `errors` at or above `tolerance` (none expected: a failure names them). */
const overTolerance = (errors: Record<string, number>, tolerance: number) => Object.entries(errors).filter(([, e]) => !(e < tolerance));

/** torchvision's gradients of the pooled map and of the parameters Lumen has as trainable variables. */
function expectGrads(actual: Run, expected: RunFixture, tolerance: number, trainableBn: boolean): void {
  const errors: Record<string, number> = { pooled: relativeError(actual.grads.get('pooled') as Float32Array, expected.gradPooled) };
  for (const [torchName, values] of Object.entries(expected.grads)) {
    const spec = torchSpec(torchName);
    const isBn = spec.kind === 'bn-weight' || spec.kind === 'bn-bias';
    if (isBn && !trainableBn) continue;
    const grad = actual.grads.get(spec.name);
    errors[spec.name] = grad === undefined ? Infinity : relativeError(grad, Array.from(fromTorchLayout(spec, values)));
  }
  expect(Object.keys(errors)).toHaveLength(trainableBn ? 15 : 7);
  expect(actual.grads.size).toBe(Object.keys(errors).length);
  expect(overTolerance(errors, tolerance)).toEqual([]);
}

function expectRunningStats(params: ConvFcHeadParams, expected: Record<string, number[]>): void {
  const variables = new Map(flattenParams(params));
  const stats = specs.filter((s) => s.kind === 'bn-mean' || s.kind === 'bn-var');
  const errors = Object.fromEntries(stats.map((s) => [s.name, relativeError((variables.get(s.name) as tf.Variable).dataSync(), expected[s.torchName])]));
  expect(Object.keys(errors)).toHaveLength(8);
  expect(overTolerance(errors, 1e-5)).toEqual([]);
}

describe('conv-fc head against torchvision FastRCNNConvFCHead (BatchNorm2d)', () => {
  it('inference: torchvision eval-mode features and gradients from imported weights; running statistics untouched', () => {
    const before = tf.memory().numTensors;
    const params = importedParams('trainable');
    const out = run(params, { training: false });
    expect(out.features).toHaveLength(fx.rois * fx.hidden);
    expect(relativeError(out.features, fx.eval.features)).toBeLessThan(1e-5);
    expectGrads(out, fx.eval, 1e-5, true);
    expectRunningStats(params, fx.eval.runningStats);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('training with trainable BN: batch statistics, torchvision train-mode features, gradients and updated running statistics', () => {
    const before = tf.memory().numTensors;
    const params = importedParams('trainable');
    const out = run(params, { training: true });
    expect(relativeError(out.features, fx.train.features)).toBeLessThan(1e-5);
    expect(relativeError(out.features, fx.eval.features)).toBeGreaterThan(0.01); // the BN statistics matter
    expectGrads(out, fx.train, 1e-5, true);
    expectRunningStats(params, fx.train.runningStats);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('training through the fused BatchNorm kernels when the backend registers them: the same numbers', () => {
    const kernels = registerCpuBatchNormKernels();
    try {
      const before = tf.memory().numTensors;
      const params = importedParams('trainable');
      const out = run(params, { training: true });
      expect(kernels.calls).toEqual({ training: 4, grad: 4 });
      expect(relativeError(out.features, fx.train.features)).toBeLessThan(1e-5);
      expectGrads(out, fx.train, 1e-5, true);
      expectRunningStats(params, fx.train.runningStats);
      disposeParams(params);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      kernels.unregister();
    }
  });

  it('training with frozen BN is inference: running statistics, no BN gradients, statistics untouched', () => {
    const before = tf.memory().numTensors;
    const params = importedParams('frozen');
    const out = run(params, { training: true });
    expect(relativeError(out.features, fx.eval.features)).toBeLessThan(1e-5);
    expectGrads(out, fx.eval, 1e-5, false);
    expectRunningStats(params, fx.eval.runningStats);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives [0, hidden] for no RoIs at inference', () => {
    const before = tf.memory().numTensors;
    const params = importedParams('trainable');
    const pooled = tf.zeros<tf.Rank.R4>([0, fx.poolSize[0], fx.poolSize[1], fx.channels]);
    const x = head.apply(params, pooled, { training: false });
    expect(x.shape).toEqual([0, fx.hidden]);
    tf.dispose([pooled, x]);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('convFcHeadParamSpecs', () => {
  /** torch's shape of a spec's tensor: conv HWIO -> OIHW, linear [in, out] -> [out, in]. */
  const torchShape = ({ kind, shape }: HeadParamSpec) => (kind === 'conv' ? [shape[3], shape[2], shape[0], shape[1]] : kind === 'linear' ? [shape[1], shape[0]] : shape);

  it("names every tensor of torchvision's v2 box head (256 channels, 7x7, fc 1024) but the num_batches_tracked counters", () => {
    const v2 = convFcHeadParamSpecs({ inChannels: 256, poolSize: [7, 7] });
    const expected = fx.v2StateDict.filter((t) => !t.name.endsWith('num_batches_tracked'));
    expect(v2.map((s) => ({ name: s.torchName, shape: torchShape(s) }))).toEqual(expected);
    expect(v2.slice(0, 5).map((s) => [s.name, s.torchName, s.kind])).toEqual([
      ['roi_heads.box_head.conv1.kernel', 'roi_heads.box_head.0.0.weight', 'conv'],
      ['roi_heads.box_head.conv1.bn.weight', 'roi_heads.box_head.0.1.weight', 'bn-weight'],
      ['roi_heads.box_head.conv1.bn.bias', 'roi_heads.box_head.0.1.bias', 'bn-bias'],
      ['roi_heads.box_head.conv1.bn.running_mean', 'roi_heads.box_head.0.1.running_mean', 'bn-mean'],
      ['roi_heads.box_head.conv1.bn.running_var', 'roi_heads.box_head.0.1.running_var', 'bn-var'],
    ]);
    expect(v2.slice(-2)).toEqual([
      { name: 'roi_heads.box_head.fc.kernel', torchName: 'roi_heads.box_head.5.weight', shape: [12544, 1024], kind: 'linear', flattenFrom: [256, 7, 7] },
      { name: 'roi_heads.box_head.fc.bias', torchName: 'roi_heads.box_head.5.bias', shape: [1024], kind: 'bias' },
    ]);
  });

  it("lists init's params in order with their shapes; names the bad argument", () => {
    const before = tf.memory().numTensors;
    const params = head.init(options, seededRandom(2));
    expect(flattenParams(params).map(([name, v]) => ({ name, shape: v.shape }))).toEqual(specs.map((s) => ({ name: s.name, shape: s.shape })));
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => convFcHeadParamSpecs(options, 3 as unknown as string)).toThrow("Error in convFcHeadParamSpecs: 'prefix' must be a non-empty string, but got 3.");
  });
});

describe("getBoxHead('conv-fc')", () => {
  it("initialises as torchvision: kaiming_normal_ fan_out convs, BN 1/0/0/1, nn.Linear's U(±1/sqrt(in)) fc; seeded", () => {
    const before = tf.memory().numTensors;
    const o: BoxHeadOptions = { inChannels: 8, poolSize: [7, 7], hidden: 32, convChannels: 16 };
    const p = head.init(o, seededRandom(3));
    expect(head.name).toBe('conv-fc');
    expect(head.outChannels(o)).toBe(32);
    expect(head.outChannels({ inChannels: 8, poolSize: [7, 7] })).toBe(1024);
    const values = (v: tf.Variable) => Array.from(v.dataSync());
    const std = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    expect(std(values(p.conv1.kernel))).toBeCloseTo(Math.sqrt(2 / (16 * 9)), 1);
    expect(std([p.conv2, p.conv3, p.conv4].flatMap((c) => values(c.kernel)))).toBeCloseTo(Math.sqrt(2 / (16 * 9)), 2);
    expect([values(p.conv2.bn.weight), values(p.conv2.bn.bias), values(p.conv2.bn.running_mean), values(p.conv2.bn.running_var)]).toEqual(
      [1, 0, 0, 1].map((v) => new Array(16).fill(v)),
    );
    const bound = 1 / Math.sqrt(7 * 7 * 16);
    const fc = values(p.fc.kernel);
    expect(p.fc.kernel.shape).toEqual([784, 32]);
    expect(Math.max(...fc.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...fc.map(Math.abs))).toBeGreaterThan(0.99 * bound);
    expect(Math.max(...values(p.fc.bias).map(Math.abs))).toBeLessThanOrEqual(bound);
    const trainable = (tree: ConvFcHeadParams) => flattenParams(tree).filter(([, v]) => v.trainable).map(([name]) => name);
    expect(trainable(p)).toEqual(specs.filter((s) => s.kind !== 'bn-mean' && s.kind !== 'bn-var').map((s) => s.name));
    const frozen = head.init({ ...o, batchNorm: 'frozen' }, seededRandom(3));
    expect(trainable(frozen)).toEqual(specs.filter((s) => !s.kind.startsWith('bn-')).map((s) => s.name));
    expect(values(frozen.conv3.kernel)).toEqual(values(p.conv3.kernel));
    expect(values(frozen.fc.bias)).toEqual(values(p.fc.bias));
    disposeParams(p);
    disposeParams(frozen);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the bad argument', () => {
    expect(() => head.init({ ...options, convChannels: 0 }, seededRandom(1))).toThrow("Error in convFcHead.init: 'convChannels' must be a positive integer, but got 0.");
    expect(() => head.init({ ...options, batchNorm: 'sync' as BatchNormMode }, seededRandom(1))).toThrow(
      `Error in convFcHead.init: 'batchNorm' must be 'frozen' or 'trainable', but got "sync".`,
    );
    expect(() => head.init(null as unknown as BoxHeadOptions, seededRandom(1))).toThrow(
      "Error in convFcHead.init: 'options' must be an object { inChannels, poolSize, hidden?, convChannels?, batchNorm? }, but got null.",
    );
    const before = tf.memory().numTensors;
    const p = head.init({ inChannels: 3, poolSize: [2, 2], hidden: 4, convChannels: 5 }, seededRandom(1));
    const pooled = tf.zeros<tf.Rank.R4>([1, 2, 2, 3]);
    const fourChannels = tf.zeros<tf.Rank.R4>([1, 2, 2, 4]);
    const taller = tf.zeros<tf.Rank.R4>([1, 3, 2, 3]);
    expect(() => head.apply(p, fourChannels, { training: false })).toThrow("Error in convFcHead.apply: 'params.conv1.kernel' must be [3, 3, 4, out], but got [3,3,3,5].");
    expect(() => head.apply(p, taller, { training: false })).toThrow(
      "Error in convFcHead.apply: 'params.fc' must have kernel [30, 4] and bias [4], but got kernel [20,4] and bias [4].",
    );
    expect(() => head.apply(p, pooled, undefined as unknown as BoxHeadContext)).toThrow("Error in convFcHead.apply: 'ctx' must be { training: boolean }, but got undefined.");
    const stats = p.conv2.bn.running_var;
    p.conv2.bn.running_var = tf.ones([5]) as unknown as tf.Variable<tf.Rank.R1>;
    expect(() => head.apply(p, pooled, { training: false })).toThrow(
      "Error in convFcHead.apply: 'params.conv2.bn.running_var' must be a tf.Variable of shape [5], but got a float32 tensor of shape [5].",
    );
    (p.conv2.bn.running_var as tf.Tensor).dispose();
    p.conv2.bn.running_var = stats;
    const one = tf.zeros<tf.Rank.R4>([1, 1, 1, 3]);
    const small = head.init({ inChannels: 3, poolSize: [1, 1], hidden: 4, convChannels: 5 }, seededRandom(1));
    expect(() => head.apply(small, one, { training: true })).toThrow(
      'Error in batchNorm: training with batch statistics needs more than 1 value per channel, but got input of shape [1,1,1,5].',
    );
    tf.dispose([pooled, fourChannels, taller, one]);
    disposeParams(p);
    disposeParams(small);
    expect(tf.memory().numTensors).toBe(before);
  });
});
