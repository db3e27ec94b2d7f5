import { zerosLike, type GradConfig, type Tensor } from '@tensorflow/tfjs-core';

/**
 * Comparisons and logical ops are piecewise constant: their gradient is zero wherever it
 * exists (TensorFlow treats them as non-differentiable). tfjs registers none, so a loss
 * written the usual way — smooth-L1 as `where(less(|d|, beta), …)`, masks from `greater`
 * — fails its backward pass with "gradient function not found for Less".
 */
const BINARY = ['Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalXor'];
const UNARY = ['LogicalNot', 'IsNan', 'IsInf', 'IsFinite'];

function zeroGradient(kernelName: string, inputs: string[]): GradConfig {
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy: Tensor | Tensor[], saved: Tensor[]) => {
      const grads: Record<string, () => Tensor> = {};
      inputs.forEach((name, i) => (grads[name] = () => zerosLike(saved[i])));
      return grads;
    },
  };
}

export const comparisonGradConfigs: GradConfig[] = [
  ...BINARY.map((k) => zeroGradient(k, ['a', 'b'])),
  ...UNARY.map((k) => zeroGradient(k, ['x'])),
];
