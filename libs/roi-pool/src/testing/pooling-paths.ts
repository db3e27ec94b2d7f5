import { getKernel, registerKernel, unregisterKernel, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { LumenRoiResample, LumenRoiResampleGrad, roiResampleLevel, roiResampleLevelGrad, type RoiResampleLevel } from '@lumen/core';
import { setKernelChoice, type KernelChoice } from '../kernels/select-kernels';

/**
 * How a spec pools: through this package's row kernels ('js', or 'auto': wasm SIMD where it
 * applies), or through a backend's LumenRoiResample kernels — registered here on the cpu
 * backend with @lumen/core's loops of the kernel contract, as @lumen/runtime registers its
 * native ones on wasm — so the plans, rows and gradients handed to a kernel are checked too.
 */
export type PoolingPath = KernelChoice | 'backend kernel';

/** What these kernels use of the cpu backend. */
interface CpuBackend {
  data: { get(dataId: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

type Args = { inputs: Record<string, TensorInfo>; backend: CpuBackend; attrs: NamedAttrMap };

const values = (backend: CpuBackend, t: TensorInfo) => backend.data.get(t.dataId)?.values as Float32Array;

function output(backend: CpuBackend, shape: number[]): { info: TensorInfo; view: Float32Array } {
  const view = new Float32Array(shape.reduce((a, b) => a * b, 1));
  return { info: backend.makeTensorInfo(shape, 'float32', view), view };
}

function forward({ inputs, backend, attrs }: Args): TensorInfo {
  const levels = attrs.levels as unknown as RoiResampleLevel[];
  const maps = levels.map((_, l) => inputs[`x${l}`]);
  const { outHeight, outWidth } = levels[0].plan;
  const out = output(backend, [attrs.outRows as number, outHeight, outWidth, maps[0].shape[3]]);
  maps.forEach((map, l) => roiResampleLevel(values(backend, map), map.shape, levels[l], out.view));
  return out.info;
}

function gradient({ inputs, backend, attrs }: Args): TensorInfo[] {
  const levels = attrs.levels as unknown as RoiResampleLevel[];
  const shapes = attrs.shapes as unknown as number[][];
  return shapes.map((shape, l) => {
    const dmap = output(backend, shape);
    roiResampleLevelGrad(values(backend, inputs.dy), shape, levels[l], dmap.view);
    return dmap.info;
  });
}

export function usePoolingPath(path: PoolingPath): void {
  if (path !== 'backend kernel') {
    setKernelChoice(path);
    return;
  }
  registerKernel({ kernelName: LumenRoiResample, backendName: 'cpu', kernelFunc: forward as unknown as KernelFunc });
  registerKernel({ kernelName: LumenRoiResampleGrad, backendName: 'cpu', kernelFunc: gradient as unknown as KernelFunc });
}

/** Back to the default: row kernels chosen automatically, no backend kernel. */
export function resetPoolingPath(): void {
  setKernelChoice('auto');
  for (const name of [LumenRoiResample, LumenRoiResampleGrad]) if (getKernel(name, 'cpu') != null) unregisterKernel(name, 'cpu');
}
