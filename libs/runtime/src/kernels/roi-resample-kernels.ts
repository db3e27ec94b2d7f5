import { LumenRoiResample, LumenRoiResampleGrad, roiResampleLevel, roiResampleLevelGrad, type RoiResampleLevel } from '@lumen/core';
import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeKernels } from '@lumen/runtime-native';
import { nativeEnabled } from './native-switch';
import type { TensorStorage } from './tensor-storage';

/**
 * RoIAlign's resampling (@lumen/roi-pool builds the plans) run where tfjs keeps the maps: no
 * copy of a map out of the backend's memory and back, no call per output cell. Registered
 * with the native kernels; @lumen/core's plain loops answer when a spec turns those off.
 */

type Args = { inputs: Record<string, TensorInfo | undefined>; backend: KernelBackend; attrs: NamedAttrMap };

function readLevels(attrs: NamedAttrMap, maps: number, kernel: string): RoiResampleLevel[] {
  const levels = attrs.levels as unknown as RoiResampleLevel[] | undefined;
  if (!Array.isArray(levels) || levels.length !== maps) throw new Error(`@lumen/runtime: ${kernel} needs one level per map (${maps}), got ${Array.isArray(levels) ? levels.length : typeof levels}`);
  return levels;
}

function mapInputs(inputs: Args['inputs']): TensorInfo[] {
  const maps: TensorInfo[] = [];
  for (let l = 0; inputs[`x${l}`] != null; l++) {
    const map = inputs[`x${l}`] as TensorInfo;
    if (map.dtype !== 'float32' || map.shape.length !== 4) throw new Error(`@lumen/runtime: ${LumenRoiResample} takes float32 maps [N, H, W, C], got x${l} ${map.dtype} [${map.shape}]`);
    maps.push(map);
  }
  if (maps.length === 0) throw new Error(`@lumen/runtime: ${LumenRoiResample} needs maps x0, x1, …`);
  return maps;
}

/** [N, H, W, C, rois, outHeight, outWidth]: the native kernels' dims of one level. */
const dimsOf = (shape: readonly number[], { plan }: RoiResampleLevel) => [...shape, plan.rois, plan.outHeight, plan.outWidth];

function planArgs({ plan, rows }: RoiResampleLevel) {
  return [plan.image, rows, plan.y.start, plan.y.index, plan.y.weight, plan.x.start, plan.x.index, plan.x.weight] as const;
}

/** Runs `fill`; if it throws (a plan the native kernels refuse), frees `outputs` first. */
function disposingOnError(backend: KernelBackend, outputs: TensorInfo[], fill: () => void): void {
  try {
    fill();
  } catch (e) {
    for (const t of outputs) backend.disposeData(t.dataId);
    throw e;
  }
}

function forwardKernel(native: NativeKernels | null, storage: TensorStorage) {
  return ({ inputs, backend, attrs }: Args): TensorInfo => {
    const maps = mapInputs(inputs);
    const levels = readLevels(attrs, maps.length, LumenRoiResample);
    const { outHeight, outWidth } = levels[0].plan;
    const channels = maps[0].shape[3];
    // The output first: allocating may grow the wasm heap, which detaches older views of it.
    const out = storage.output(backend, [attrs.outRows as number, outHeight, outWidth, channels]);
    const ov = storage.view(backend, out);
    disposingOnError(backend, [out], () => maps.forEach((map, l) => {
      const mv = storage.view(backend, map);
      if (native && nativeEnabled()) {
        native.roiResample(mv, ov, dimsOf(map.shape, levels[l]), ...planArgs(levels[l]));
        return;
      }
      roiResampleLevel(mv, map.shape, levels[l], ov);
    }));
    return out;
  };
}

function gradientKernel(native: NativeKernels | null, storage: TensorStorage) {
  return ({ inputs, backend, attrs }: Args): TensorInfo[] => {
    const dy = inputs.dy;
    if (dy == null || dy.dtype !== 'float32') throw new Error(`@lumen/runtime: ${LumenRoiResampleGrad} takes a float32 'dy'`);
    const shapes = attrs.shapes as unknown as number[][];
    const levels = readLevels(attrs, shapes.length, LumenRoiResampleGrad);
    const grads = shapes.map((shape) => storage.output(backend, shape));
    const dyv = storage.view(backend, dy);
    disposingOnError(backend, grads, () => grads.forEach((grad, l) => {
      const gv = storage.view(backend, grad);
      if (native && nativeEnabled()) {
        native.roiResampleGrad(dyv, gv, dimsOf(shapes[l], levels[l]), ...planArgs(levels[l]));
        return;
      }
      roiResampleLevelGrad(dyv, shapes[l], levels[l], gv);
    }));
    return grads;
  };
}

/** The RoI resampling kernels for `storage`'s backend. */
export function roiResampleKernels(native: NativeKernels | null, storage: TensorStorage): KernelConfig[] {
  return [
    { kernelName: LumenRoiResample, backendName: storage.backendName, kernelFunc: forwardKernel(native, storage) as unknown as KernelFunc },
    { kernelName: LumenRoiResampleGrad, backendName: storage.backendName, kernelFunc: gradientKernel(native, storage) as unknown as KernelFunc },
  ];
}
