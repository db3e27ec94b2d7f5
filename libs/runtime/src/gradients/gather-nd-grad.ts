import { GatherNd, scatterND, zerosLike, type GradConfig, type Tensor } from '@tensorflow/tfjs-core';

/** tfjs has no gradient for gatherND: it is the scatter-add of dy back to the gathered slots. */
export const gatherNdGradConfig: GradConfig = {
  kernelName: GatherNd,
  inputsToSave: ['params', 'indices'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
    const [params, indices] = saved;
    return {
      params: () => scatterND(indices, dy as Tensor, params.shape),
      indices: () => zerosLike(indices),
    };
  },
};
