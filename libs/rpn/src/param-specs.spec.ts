import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { initRpnHead, type RpnConvDepth } from './head';
import { rpnHeadParamSpecs } from './param-specs';
import { fpnRpn } from './testing/fpn-rpn';

/** A Lumen shape in torch's layout: HWIO kernels as OIHW. */
const torchShape = (shape: number[]) => (shape.length === 4 ? [shape[3], shape[2], shape[0], shape[1]] : shape);

describe('rpnHeadParamSpecs', () => {
  it.each([
    ['fasterrcnn_resnet50_fpn', 1, 3],
    ['fasterrcnn_resnet50_fpn_v2', 2, 3],
    ['fasterrcnn_mobilenet_v3_large_fpn', 1, 15],
  ] as const)("%s: torchvision's rpn.head state dict, name for name and shape for shape", (model, convDepth, a) => {
    const specs = rpnHeadParamSpecs({ anchorsPerLocation: a, objectness: 'sigmoid', convDepth }, 256);
    expect(specs.map((s) => [`rpn.head.${s.torchName}`, torchShape(s.shape)])).toEqual(fpnRpn.stateDicts[model]);
  });

  it.each([1, 2] as const)('convDepth %p: the names and shapes initRpnHead makes, in its order', (convDepth) => {
    const before = tf.memory().numTensors;
    const options = { anchorsPerLocation: 9, objectness: 'softmax', convDepth } as const;
    const params = initRpnHead<RpnConvDepth>(options, 6, seededRandom(1));
    const made = flattenParams(params).map(([name, v]) => [name, v.shape]);
    expect(rpnHeadParamSpecs(options, 6).map((s) => [s.name, s.shape])).toEqual(made);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the depth-1 names of files written before torchvision 0.13 (checked by loading them in torchvision)', () => {
    const specs = rpnHeadParamSpecs({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4);
    expect(Object.fromEntries(specs.map((s) => [s.torchName, s.legacyTorchName]))).toEqual(fpnRpn.legacyNames);
    expect(specs.slice(0, 2).map((s) => [s.name, s.torchName, s.legacyTorchName])).toEqual([
      ['conv.kernel', 'conv.0.0.weight', 'conv.weight'],
      ['conv.bias', 'conv.0.0.bias', 'conv.bias'],
    ]);
    const deep = rpnHeadParamSpecs({ anchorsPerLocation: 3, objectness: 'sigmoid', convDepth: 2 }, 4);
    expect(deep.map((s) => s.legacyTorchName)).toEqual(deep.map((s) => (s.name.startsWith('conv.') ? null : s.torchName)));
    expect(deep.filter((s) => s.kind === 'conv').map((s) => s.name)).toEqual(['conv.0.kernel', 'conv.1.kernel', 'cls_logits.kernel', 'bbox_pred.kernel']);
  });

  it('names bad arguments', () => {
    expect(() => rpnHeadParamSpecs({ anchorsPerLocation: 3, objectness: 'sigmoid', convDepth: 0 as 1 }, 4)).toThrow("Error in rpnHeadParamSpecs: 'convDepth' must be 1 or 2, but got 0.");
    expect(() => rpnHeadParamSpecs({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 0)).toThrow("Error in rpnHeadParamSpecs: 'inChannels' must be a positive integer, but got 0.");
  });
});
