import { assertRng, uniformValues, type Rng } from '@lumen/core';
import type { FpnOptions } from './options';
import { makeFpnParams, type FpnParams } from './params';

/**
 * New FPN parameters with torchvision's initialisation: every conv kernel
 * kaiming_uniform_(a=1), i.e. U(-√(3/fan_in), √(3/fan_in)) with fan_in = in·kh·kw; conv
 * biases 0; BatchNorm weight 1, bias 0, running mean 0, running variance 1. Draws from `rng`
 * in `fpnParamSpecs` order (kernel values in HWIO order). BN statistics, and BN affine when
 * `batchNorm` is 'frozen', are `trainable: false`.
 */
export function initFpn(options: FpnOptions, rng: Rng): FpnParams {
  assertRng('initFpn', rng);
  return makeFpnParams('initFpn', options, (spec) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.init.type === 'uniform') return uniformValues(size, spec.init.bound, rng);
    return new Float32Array(size).fill(spec.init.value);
  });
}
