import {
  backend_util,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type DepthwiseConv2dNativeBackpropInputInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convGeometry } from './conv2d-backprop-filter';
import { phasedInputGradient } from './phased-input-gradient';

function depthwiseConv2dBackpropInput(args: {
  inputs: DepthwiseConv2dNativeBackpropInputInputs;
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, true,
  );
  return phasedInputGradient(backend, dy, filter, convGeometry(info), true);
}

export const depthwiseConv2dBackpropInputWasm: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropInput as unknown as KernelFunc,
};
