import {
  backend_util,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type Conv2DBackpropInputInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convGeometry } from './conv2d-backprop-filter';
import { phasedInputGradient } from './phased-input-gradient';

/** Replaces wasm's own Conv2DBackpropInput (a scalar loop, ~16x its forward conv). */
function conv2dBackpropInput(args: {
  inputs: Conv2DBackpropInputInputs;
  backend: BackendWasm;
  attrs: Conv2DBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  return phasedInputGradient(backend, dy, filter, convGeometry(info), false);
}

export const conv2dBackpropInputWasm: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput as unknown as KernelFunc,
};
