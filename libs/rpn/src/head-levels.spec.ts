import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { initRpnHead, rpnHead, rpnHeadLevels, type RpnParams } from './head';
import { relativeError } from './testing/fixtures';
import { ANCHORS_PER_LOCATION, fpnRpn, headOptions, importHead, levelTensors } from './testing/fpn-rpn';

describe('rpnHeadLevels against torchvision RPNHead on four pyramid levels', () => {
  it.each(fpnRpn.heads.map((h) => [h.convDepth, h] as const))('convDepth %p: objectness and deltas of every level, one set of weights', (_, head) => {
    const before = tf.memory().numTensors;
    const params = importHead(head);
    const maps = levelTensors(fpnRpn.maps, fpnRpn.channels);
    const out = rpnHeadLevels(params, maps, headOptions(head.convDepth));
    expect(out.objectness).toHaveLength(fpnRpn.mapSizes.length);
    fpnRpn.mapSizes.forEach(([h, w], l) => {
      expect(out.objectness[l].shape).toEqual([2, h, w, ANCHORS_PER_LOCATION]);
      expect(out.deltas[l].shape).toEqual([2, h, w, 4 * ANCHORS_PER_LOCATION]);
      expect(relativeError(out.objectness[l].dataSync(), head.objectness[l])).toBeLessThan(1e-4);
      expect(relativeError(out.deltas[l].dataSync(), head.deltas[l])).toBeLessThan(1e-4);
    });
    tf.dispose([...maps, ...out.objectness, ...out.deltas]);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is rpnHead on each map', () => {
    const before = tf.memory().numTensors;
    const options = { anchorsPerLocation: 3, objectness: 'softmax', convDepth: 2 } as const;
    const params = initRpnHead(options, 4, seededRandom(4));
    const maps = [tf.randomNormal<tf.Rank.R4>([2, 6, 5, 4], 0, 1, 'float32', 1), tf.randomNormal<tf.Rank.R4>([2, 3, 3, 4], 0, 1, 'float32', 2)];
    const out = rpnHeadLevels(params, maps, options);
    maps.forEach((m, l) => {
      const one = rpnHead(params, m, options);
      expect(Array.from(out.objectness[l].dataSync())).toEqual(Array.from(one.objectness.dataSync()));
      expect(Array.from(out.deltas[l].dataSync())).toEqual(Array.from(one.deltas.dataSync()));
      tf.dispose([one.objectness, one.deltas]);
    });
    tf.dispose([...maps, ...out.objectness, ...out.deltas]);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('initRpnHead with convDepth 2', () => {
  it("draws conv.0, conv.1, cls_logits, bbox_pred in torchvision's state-dict order; its first draws are the depth-1 head's conv", () => {
    const before = tf.memory().numTensors;
    const deep = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid', convDepth: 2 }, 4, seededRandom(7));
    const shallow = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4, seededRandom(7));
    expect(flattenParams(deep).map(([name, v]) => `${name} [${v.shape.join(',')}]`)).toEqual([
      'conv.0.kernel [3,3,4,4]',
      'conv.0.bias [4]',
      'conv.1.kernel [3,3,4,4]',
      'conv.1.bias [4]',
      'cls_logits.kernel [1,1,4,3]',
      'cls_logits.bias [3]',
      'bbox_pred.kernel [1,1,4,12]',
      'bbox_pred.bias [12]',
    ]);
    expect(Array.from(deep.conv[0].kernel.dataSync())).toEqual(Array.from(shallow.conv.kernel.dataSync()));
    expect(Array.from(deep.conv[1].kernel.dataSync())).not.toEqual(Array.from(deep.conv[0].kernel.dataSync()));
    disposeParams(deep);
    disposeParams(shallow);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('argument checks', () => {
  it('names a bad convDepth and params of the other depth', () => {
    const before = tf.memory().numTensors;
    const rng = seededRandom(1);
    expect(() => initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid', convDepth: 3 as 2 }, 4, rng)).toThrow("Error in initRpnHead: 'convDepth' must be 1 or 2, but got 3.");
    const shallow = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid' }, 4, rng);
    const deep = initRpnHead({ anchorsPerLocation: 3, objectness: 'sigmoid', convDepth: 2 }, 4, rng);
    const x = tf.zeros<tf.Rank.R4>([1, 3, 3, 4]);
    expect(() => rpnHead(shallow, x, { anchorsPerLocation: 3, objectness: 'sigmoid', convDepth: 2 })).toThrow(
      "Error in rpnHead: 'params.conv' must be { 0, 1 }: two 3x3 convolutions for convDepth 2, but got { kernel, bias }.",
    );
    expect(() => rpnHead(deep, x, { anchorsPerLocation: 3, objectness: 'sigmoid' })).toThrow(
      "Error in rpnHead: 'params.conv' must be { kernel, bias }: one 3x3 convolution for convDepth 1, but got { 0, 1 }.",
    );
    const missing = { ...deep, conv: { 0: deep.conv[0] } } as unknown as RpnParams<2>;
    expect(() => rpnHead(missing, x, { anchorsPerLocation: 3, objectness: 'sigmoid', convDepth: 2 })).toThrow("Error in rpnHead: 'params.conv.1' is missing.");
    tf.dispose(x);
    disposeParams(shallow);
    disposeParams(deep);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names maps that do not fit together', () => {
    const before = tf.memory().numTensors;
    const options = { anchorsPerLocation: 3, objectness: 'sigmoid' } as const;
    const params = initRpnHead(options, 4, seededRandom(1));
    const a = tf.zeros<tf.Rank.R4>([2, 4, 4, 4]);
    const b = tf.zeros<tf.Rank.R4>([2, 2, 2, 5]);
    const c = tf.zeros<tf.Rank.R4>([1, 2, 2, 4]);
    const flat = tf.zeros([2, 2]);
    expect(() => rpnHeadLevels(params, [], options)).toThrow("Error in rpnHeadLevels: 'maps' must be a non-empty array of [N, H, W, C] maps, but got an array of length 0.");
    expect(() => rpnHeadLevels(params, a as unknown as tf.Tensor4D[], options)).toThrow("'maps' must be a non-empty array of [N, H, W, C] maps, but got a float32 tensor of shape [2,4,4,4].");
    expect(() => rpnHeadLevels(params, [a, b], options)).toThrow("Error in rpnHeadLevels: 'maps[1]' must have maps[0]'s batch size 2 and 4 channels, but got [2,2,2,5].");
    expect(() => rpnHeadLevels(params, [a, c], options)).toThrow("'maps[1]' must have maps[0]'s batch size 2 and 4 channels, but got [1,2,2,4].");
    expect(() => rpnHeadLevels(params, [a, flat as tf.Tensor4D], options)).toThrow("'maps[1]' must be a rank-4 float32 tensor, but got a float32 tensor of shape [2,2].");
    tf.dispose([a, b, c, flat]);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });
});
