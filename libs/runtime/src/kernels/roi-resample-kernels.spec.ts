import * as tf from '@tensorflow/tfjs-core';
import { LumenRoiResample, LumenRoiResampleGrad, seededRandom, type RoiResampleLevel, type RoiSamplingAxis } from '@lumen/core';
import { native } from '@lumen/runtime-native';
import { describeNative, NATIVE_AND_JS_MODES, randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { registerNativeBackend } from '../register-training-kernels';
import { withoutNativeKernels } from './native-switch';

// The RoI resampling kernels (@lumen/runtime-native's, and their JS form when it is off) on
// random plans over a two-map pyramid — RoIs out of output order, on both images, with empty
// cells, 20 channels (past one 16-float thread group, not a multiple of 8) — against the
// contract computed in float64 from its definition; native and JS agree to the bit, on one
// and two threads. @lumen/roi-pool's specs check the plans against torchvision.
if (!native) console.warn('@lumen/runtime-native is not built: the RoI resampling kernels are not registered, nor tested here');

beforeAll(async () => {
  await setUpWasmAndCpu();
  registerNativeBackend(1);
});
afterAll(() => native?.setThreads(1));

const CHANNELS = 20;
const OUT: [number, number] = [3, 2];
const SHAPES = [[2, 5, 7, CHANNELS], [2, 3, 4, CHANNELS]];
const ROWS = [Int32Array.from([4, 0, 6, 2]), Int32Array.from([1, 5, 3])];
const OUT_ROWS = 7;

/** Entries of up to 3 ascending map indices with weights in (0, 1]; some entries empty. */
function axis(random: () => number, entries: number, size: number): RoiSamplingAxis {
  const start = [0];
  const index: number[] = [];
  const weight: number[] = [];
  for (let e = 0; e < entries; e++) {
    const picked = new Set<number>();
    const count = Math.floor(random() * 4);
    for (let k = 0; k < count; k++) picked.add(Math.floor(random() * size));
    for (const i of [...picked].sort((a, b) => a - b)) {
      index.push(i);
      weight.push(1 - random());
    }
    start.push(index.length);
  }
  return { start: Int32Array.from(start), index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

function levels(seed: number): RoiResampleLevel[] {
  const random = seededRandom(seed);
  return SHAPES.map(([batch, height, width], l) => {
    const rois = ROWS[l].length;
    const image = Int32Array.from({ length: rois }, () => Math.floor(random() * batch));
    return { rows: ROWS[l], plan: { rois, image, outHeight: OUT[0], outWidth: OUT[1], y: axis(random, rois * OUT[0], height), x: axis(random, rois * OUT[1], width) } };
  });
}

/** The contract in float64: pooled rows, and each map's gradient for `dy`. */
function reference(maps: Float32Array[], dy: Float32Array, plan: RoiResampleLevel[]): { out: Float64Array; grads: Float64Array[] } {
  const out = new Float64Array(OUT_ROWS * OUT[0] * OUT[1] * CHANNELS);
  const grads = SHAPES.map((s) => new Float64Array(s.reduce((a, b) => a * b)));
  plan.forEach(({ plan: p, rows }, l) => {
    const [, height, width] = SHAPES[l];
    for (let r = 0; r < p.rois; r++) {
      for (let i = 0; i < OUT[0]; i++) {
        for (let j = 0; j < OUT[1]; j++) {
          const at = ((rows[r] * OUT[0] + i) * OUT[1] + j) * CHANNELS;
          const ey = r * OUT[0] + i, ex = r * OUT[1] + j;
          for (let a = p.y.start[ey]; a < p.y.start[ey + 1]; a++) {
            for (let b = p.x.start[ex]; b < p.x.start[ex + 1]; b++) {
              const from = ((p.image[r] * height + p.y.index[a]) * width + p.x.index[b]) * CHANNELS;
              const w = p.y.weight[a] * p.x.weight[b];
              for (let c = 0; c < CHANNELS; c++) {
                out[at + c] += w * maps[l][from + c];
                grads[l][from + c] += w * dy[at + c];
              }
            }
          }
        }
      }
    }
  });
  return { out, grads };
}

const maps = SHAPES.map((s, l) => randomValues(s.reduce((a, b) => a * b), 60 + l));
const dyValues = randomValues(OUT_ROWS * OUT[0] * OUT[1] * CHANNELS, 62);

function run(plan: RoiResampleLevel[]): tf.Tensor[] {
  const inputs = { x0: tf.tensor4d(maps[0], SHAPES[0] as never), x1: tf.tensor4d(maps[1], SHAPES[1] as never) };
  const out = tf.engine().runKernel(LumenRoiResample, inputs, { levels: plan, outRows: OUT_ROWS } as never) as tf.Tensor;
  const dy = tf.tensor4d(dyValues, [OUT_ROWS, ...OUT, CHANNELS]);
  const grads = tf.engine().runKernel(LumenRoiResampleGrad, { dy }, { levels: plan, shapes: SHAPES } as never) as tf.Tensor[];
  return [out, ...grads];
}

describeNative.each(NATIVE_AND_JS_MODES)('RoI resampling kernels (%s) on the %s backend, %i thread(s)', (_, backend, threads, mode) => {
  beforeAll(() => native?.setThreads(threads));

  it('are registered, forward and gradient', () => {
    expect([tf.getKernel(LumenRoiResample, backend) != null, tf.getKernel(LumenRoiResampleGrad, backend) != null]).toEqual([true, true]);
  });

  it.each([70, 71, 72])('pool every level into its rows and spread the gradient back (plans of seed %i)', (seed) =>
    mode(async () => {
      const plan = levels(seed);
      const expected = reference(maps, dyValues, plan);
      const actual = await runOn(backend, () => run(plan));
      expect(relativeError(actual[0], expected.out)).toBeLessThan(1e-6);
      actual.slice(1).forEach((grad, l) => expect([l, relativeError(grad, expected.grads[l]) < 1e-6]).toEqual([l, true]));
      // The float32 arithmetic the contract fixes: the native kernels, on any thread count, and the JS loops give the same bits.
      const js = await withoutNativeKernels(() => runOn('wasm', () => run(plan)));
      expect(actual.map((a) => Array.from(a))).toEqual(js.map((a) => Array.from(a)));
    }),
  );
});

describeNative('RoI resampling kernels: bad plans', () => {
  it('are refused by the native kernels, naming the entry, and leave no buffer behind', async () => {
    await tf.setBackend('wasm');
    const plan = levels(73);
    const bad = [{ ...plan[0], plan: { ...plan[0].plan, y: { ...plan[0].plan.y, index: plan[0].plan.y.index.map((v, k) => (k === 2 ? 99 : v)) } } }, plan[1]];
    const before = [tf.memory().numTensors, tf.backend().numDataIds()];
    expect(() => tf.tidy(() => run(bad))).toThrow('roiResample: yIndex[2] is outside the map');
    const outside = [{ ...plan[0], rows: Int32Array.from([4, 0, 7, 2]) }, plan[1]];
    expect(() => tf.tidy(() => run(outside))).toThrow("roiResample: rows[2] is outside the output's 7 RoIs");
    expect([tf.memory().numTensors, tf.backend().numDataIds()]).toEqual(before);
  });
});
