import * as tf from '@tensorflow/tfjs-core';
import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import { initFpn } from './init';
import type { FpnOptions } from './options';
import { fpnParamSpecs } from './param-specs';

const v1: FpnOptions = { inChannels: [16, 32], outChannels: 64, norm: 'none', extra: 'maxpool' };
const v2: FpnOptions = { ...v1, norm: 'batch' };

describe('initFpn', () => {
  it.each([
    ['v1', v1],
    ['v2', v2],
    ['v2 frozen', { ...v2, batchNorm: 'frozen' as const }],
  ])('%s: the specs, in their order, as tf.Variables with their shapes and trainable flags', (_, options) => {
    const before = tf.memory().numTensors;
    const params = initFpn(options, seededRandom(1));
    const flat = flattenParams(params);
    const specs = fpnParamSpecs(options);
    expect(flat.map(([name, v]) => [name, v.shape, v.trainable])).toEqual(specs.map((s) => [s.name, s.shape, s.trainable]));
    expect(flat.every(([, v]) => v instanceof tf.Variable && v.dtype === 'float32')).toBe(true);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('draws kernels from U(-√(3/fan_in), √(3/fan_in)) (kaiming_uniform_, a=1); biases and BN are constants', () => {
    const params = initFpn(v2, seededRandom(2));
    const flat = Object.fromEntries(flattenParams(params));
    for (const spec of fpnParamSpecs(v2)) {
      const values = Array.from(flat[spec.name].dataSync());
      if (spec.init.type === 'constant') {
        expect([spec.name, values.every((v) => v === (spec.init as { value: number }).value)]).toEqual([spec.name, true]);
        continue;
      }
      const bound = spec.init.bound;
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      // The layer kernels hold 36864 draws: the std of a uniform is bound/√3, within 2%.
      expect([spec.name, Math.max(...values.map(Math.abs)) <= bound]).toEqual([spec.name, true]);
      if (values.length > 10000) {
        expect(Math.abs(mean)).toBeLessThan(0.02 * bound);
        expect(std / (bound / Math.sqrt(3))).toBeCloseTo(1, 1);
        expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(0.99 * bound);
      }
    }
    expect(fpnParamSpecs(v2).find((s) => s.name === 'layer_blocks.0.conv.kernel')?.init).toEqual({ type: 'uniform', bound: Math.sqrt(3 / (64 * 9)) });
    disposeParams(params);
  });

  it('is reproducible from the generator and differs between seeds', () => {
    const values = (seed: number) => {
      const params = initFpn(v1, seededRandom(seed));
      const out = flattenParams(params).map(([, v]) => Array.from(v.dataSync()));
      disposeParams(params);
      return out;
    };
    expect(values(7)).toEqual(values(7));
    expect(values(7)[0]).not.toEqual(values(8)[0]);
  });

  it('names a bad generator or option', () => {
    expect(() => initFpn(v1, undefined as unknown as () => number)).toThrow("Error in initFpn: 'rng' must be a function returning numbers in [0, 1)");
    expect(() => initFpn({ ...v1, outChannels: 0 }, seededRandom(1))).toThrow("Error in initFpn: 'outChannels' must be a positive integer, but got 0.");
  });
});
