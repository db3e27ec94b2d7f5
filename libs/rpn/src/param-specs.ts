import { assertNumber, isPositiveInteger } from '@lumen/core';
import { checkOptions, objectnessChannels, type RpnConvDepth, type RpnHeadOptions } from './head';

/** One parameter of the RPN head: its Lumen name and layout, and the torchvision tensor it comes from. */
export interface RpnHeadParamSpec {
  /** Lumen's dotted name within the head (under the detector's `rpn.head.`): `conv.kernel`, `conv.1.bias`. */
  name: string;
  /** Shape in Lumen's layout: kernels HWIO [kh, kw, in, out]. */
  shape: number[];
  /** @lumen/backbone's ParamKind strings: a 'conv' kernel goes OIHW -> HWIO, a 'bias' as it is. */
  kind: 'conv' | 'bias';
  /** torchvision ≥ 0.13's state-dict name within `rpn.head.` (`RPNHead` version 2): `conv.0.0.weight`. */
  torchName: string;
  /**
   * The name in files written before torchvision 0.13 (`RPNHead` version 1, e.g.
   * fasterrcnn_resnet50_fpn_coco-258fb6c6.pth): `conv.weight`. null for `convDepth: 2`,
   * which has no such files.
   */
  legacyTorchName: string | null;
}

/**
 * Every parameter of the RPN head for `options`, in torchvision's state-dict order (also
 * `initRpnHead`'s draw order and `flattenParams`' order). The names:
 *
 * | Lumen | torchvision ≥ 0.13 | before 0.13 |
 * | --- | --- | --- |
 * | `conv.kernel`, `conv.bias` (convDepth 1) | `conv.0.0.weight`, `conv.0.0.bias` | `conv.weight`, `conv.bias` |
 * | `conv.<i>.kernel`, `conv.<i>.bias` (convDepth 2, i = 0, 1) | `conv.<i>.0.weight`, `conv.<i>.0.bias` | — |
 * | `cls_logits.kernel`, `cls_logits.bias` | `cls_logits.weight`, `cls_logits.bias` | the same |
 * | `bbox_pred.kernel`, `bbox_pred.bias` | `bbox_pred.weight`, `bbox_pred.bias` | the same |
 *
 * A softmax head (2A objectness channels) has no torchvision counterpart: its names say
 * where its tensors go, not that torchvision files fit it.
 */
export function rpnHeadParamSpecs(options: RpnHeadOptions<RpnConvDepth>, inChannels: number): RpnHeadParamSpec[] {
  const fn = 'rpnHeadParamSpecs';
  const { anchorsPerLocation: a, objectness, convDepth = 1 } = checkOptions(fn, options);
  assertNumber(fn, 'inChannels', inChannels, 'a positive integer', isPositiveInteger);
  const layer = (name: string, torchPath: string, legacyPath: string | null, kernel: number[]): RpnHeadParamSpec[] => [
    { name: `${name}.kernel`, shape: kernel, kind: 'conv', torchName: `${torchPath}.weight`, legacyTorchName: legacyPath && `${legacyPath}.weight` },
    { name: `${name}.bias`, shape: [kernel[3]], kind: 'bias', torchName: `${torchPath}.bias`, legacyTorchName: legacyPath && `${legacyPath}.bias` },
  ];
  const square = [3, 3, inChannels, inChannels];
  // Each 3x3 layer is a Conv2dNormActivation (a Sequential): the convolution is its child 0.
  const convs = convDepth === 1 ? layer('conv', 'conv.0.0', 'conv', square) : [0, 1].flatMap((i) => layer(`conv.${i}`, `conv.${i}.0`, null, square));
  return [
    ...convs,
    ...layer('cls_logits', 'cls_logits', 'cls_logits', [1, 1, inChannels, a * objectnessChannels(objectness)]),
    ...layer('bbox_pred', 'bbox_pred', 'bbox_pred', [1, 1, inChannels, 4 * a]),
  ];
}
