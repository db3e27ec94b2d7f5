import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, release, wasmAlloc, wasmFloats } from '../kernel-calls';
import { interleavePhases, phaseFilter, phaseLayout } from './conv-phases';
import type { ConvGeometry } from './im2col';

/**
 * Input gradient of a (depthwise) convolution on wasm as stride-1 forward convolutions
 * of dy — one per output phase, see `conv-phases.ts` — run by wasm's fast conv kernels.
 */
export function phasedInputGradient(
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  depthwise: boolean,
): TensorInfo {
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1) {
    throw new Error(
      `@lumen/runtime: input gradient with dilations [${g.dilationHeight}, ${g.dilationWidth}] is computed ` +
        'by the Conv2D gradient (dilated filter), not by this kernel; expected dilations [1, 1]',
    );
  }
  const ly = phaseLayout(g.inHeight, g.outHeight, g.filterHeight, g.strideHeight, g.padTop);
  const lx = phaseLayout(g.inWidth, g.outWidth, g.filterWidth, g.strideWidth, g.padLeft);
  const [, , fc, fo] = filter.shape;
  const dxShape = [g.batch, g.inHeight, g.inWidth, g.inChannels];

  const outputs: (TensorInfo | null)[] = [];
  for (const py of ly.phases) {
    for (const px of lx.phases) {
      if (py.taps.length === 0 || px.taps.length === 0) {
        outputs.push(null);
        continue;
      }
      const f = wasmAlloc(backend, depthwise ? [py.taps.length, px.taps.length, fc * fo, 1] : [py.taps.length, px.taps.length, fo, fc]);
      phaseFilter(wasmFloats(backend, filter), filter.shape, py.taps, px.taps, depthwise, wasmFloats(backend, f));
      const cropped = py.cropStart > 0 || py.cropEnd < g.outHeight || px.cropStart > 0 || px.cropEnd < g.outWidth;
      const src = cropped
        ? callKernel('wasm', backend, 'Slice', { x: dy }, {
            begin: [0, py.cropStart, px.cropStart, 0],
            size: [-1, py.cropEnd - py.cropStart, px.cropEnd - px.cropStart, -1],
          })
        : dy;
      let z = callKernel('wasm', backend, depthwise ? 'DepthwiseConv2dNative' : 'Conv2D', { x: src, filter: f }, {
        strides: [1, 1],
        pad: [[0, 0], [py.padBefore, py.padAfter], [px.padBefore, px.padAfter], [0, 0]],
        dilations: [1, 1],
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
      } as never);
      release(backend, f);
      if (cropped) release(backend, src);
      if (depthwise && fo > 1) {
        // Channel multiplier M: output channel c·M + m came from input channel c.
        const z5 = callKernel('wasm', backend, 'Reshape', { x: z }, { shape: [g.batch, ly.count, lx.count, fc, fo] });
        release(backend, z);
        z = callKernel('wasm', backend, 'Sum', { x: z5 }, { axis: [4], keepDims: false });
        release(backend, z5);
      }
      outputs.push(z);
    }
  }
  if (outputs.length === 1 && outputs[0] != null) return outputs[0]; // stride 1: the phase is dx

  const dx = wasmAlloc(backend, dxShape);
  interleavePhases(
    outputs.map((z) => (z == null ? null : wasmFloats(backend, z))),
    ly, lx, g.strideHeight, g.strideWidth, g.padTop, g.padLeft, dxShape, wasmFloats(backend, dx),
  );
  release(backend, ...outputs.filter((z): z is TensorInfo => z != null));
  return dx;
}
