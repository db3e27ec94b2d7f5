import {
  UnsortedSegmentSum,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
  type UnsortedSegmentSumInputs,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, release } from '../kernel-calls';

/**
 * The gradient of `gather`, as wasm's ScatterNd (which sums duplicate indices). Like the
 * cpu backend, segment ids outside [0, numSegments) contribute nothing: they are routed to
 * one spare segment that is cut off afterwards.
 */
function unsortedSegmentSum(args: {
  inputs: UnsortedSegmentSumInputs;
  backend: BackendWasm;
  attrs: UnsortedSegmentSumAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const segmentIds = inputs.segmentIds as TensorInfo;
  const { numSegments } = attrs;
  if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
    throw new Error(
      `@lumen/runtime UnsortedSegmentSum: segmentIds must be 1-D with x.shape[0] = ${x.shape[0]} entries, ` +
        `got shape [${segmentIds.shape}]`,
    );
  }
  const ids = backend.typedArrayFromHeap(segmentIds);
  let outOfRange = false;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= numSegments) {
      outOfRange = true;
      break;
    }
  }
  const rowShape = x.shape.slice(1);
  let indices: TensorInfo;
  if (outOfRange) {
    const routed = Int32Array.from(ids, (v) => (v < 0 || v >= numSegments ? numSegments : v));
    indices = backend.makeOutput([ids.length, 1], 'int32', undefined, routed);
  } else {
    indices = callKernel('wasm', backend, 'Cast', { x: segmentIds }, { dtype: 'int32' });
    const flat = indices;
    indices = callKernel('wasm', backend, 'Reshape', { x: flat }, { shape: [ids.length, 1] });
    release(backend, flat);
  }
  const rows = outOfRange ? numSegments + 1 : numSegments;
  const scattered = callKernel('wasm', backend, 'ScatterNd', { indices, updates: x }, { shape: [rows, ...rowShape] });
  release(backend, indices);
  if (!outOfRange) return scattered;
  const out = callKernel('wasm', backend, 'Slice', { x: scattered }, {
    begin: [0, ...rowShape.map(() => 0)],
    size: [numSegments, ...rowShape],
  });
  release(backend, scattered);
  return out;
}

export const unsortedSegmentSumWasm: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as KernelFunc,
};
