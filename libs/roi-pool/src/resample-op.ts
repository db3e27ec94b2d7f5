import { customGrad, engine, getBackend, getKernel, tensor4d, type GradSaveFunc, type Tensor, type Tensor4D } from '@tensorflow/tfjs-core';
import { LumenRoiResample, LumenRoiResampleGrad, type RoiResampleLevel } from '@lumen/core';
import { resampleBackward, resampleForward, type MapShape } from './resample';
import type { SamplingPlan } from './sampling';

/** One map's RoIs: their sampling plan, and the output row each fills. */
export interface PoolLevel extends RoiResampleLevel {
  readonly plan: SamplingPlan;
}

/**
 * The pooled RoIs of every level in one [outRows, outHeight, outWidth, C] tensor, each level's
 * rows written straight to their places (and read back from there for the gradient);
 * differentiable w.r.t. every map, zero where no RoI was pooled from it. Runs on the
 * backend's own memory where it has the LumenRoiResample kernels (@lumen/runtime registers
 * them with its native kernels), else on copies of the maps through resample.ts.
 */
export function resampleLevels(features: Tensor4D[], levels: PoolLevel[], outRows: number): Tensor4D {
  const { outHeight, outWidth } = levels[0].plan;
  const channels = features[0].shape[3];
  const backend = getBackend();
  if (getKernel(LumenRoiResample, backend) != null && getKernel(LumenRoiResampleGrad, backend) != null) {
    const attrs = { levels, outRows } as unknown as Record<string, never>;
    const shapes = features.map((map) => map.shape);
    const op = customGrad((...args: (Tensor | GradSaveFunc)[]) => ({
      value: engine().runKernel(LumenRoiResample, Object.fromEntries(features.map((_, l) => [`x${l}`, args[l] as Tensor])), attrs) as Tensor4D,
      gradFunc: (dy: Tensor) => engine().runKernel(LumenRoiResampleGrad, { dy }, { levels, shapes } as unknown as Record<string, never>) as Tensor[],
    }));
    return op(...features) as Tensor4D;
  }
  const rowFloats = outHeight * outWidth * channels;
  const op = customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const out = new Float32Array(outRows * rowFloats);
    features.forEach((map, l) => {
      const pooled = resampleForward((args[l] as Tensor).dataSync() as Float32Array, map.shape as MapShape, levels[l].plan);
      levels[l].rows.forEach((row, k) => out.set(pooled.subarray(k * rowFloats, (k + 1) * rowFloats), row * rowFloats));
    });
    return {
      value: tensor4d(out, [outRows, outHeight, outWidth, channels]),
      gradFunc: (dy: Tensor) => {
        const dOut = dy.dataSync() as Float32Array;
        return features.map((map, l) => {
          const { plan, rows } = levels[l];
          const dLevel = new Float32Array(rows.length * rowFloats);
          rows.forEach((row, k) => dLevel.set(dOut.subarray(row * rowFloats, (row + 1) * rowFloats), k * rowFloats));
          return tensor4d(resampleBackward(dLevel, map.shape as MapShape, plan), map.shape);
        });
      },
    };
  });
  return op(...features) as Tensor4D;
}
