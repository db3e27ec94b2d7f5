import type { SafeTensor } from '@lumen/backbone';
import { UserError } from '@lumen/core';
import { readCaseState, torchvisionCase } from '../testing/torchvision-fixtures';
import { torchParamMap } from '../torch-names';
import { architectureConfig } from './architectures';
import { COCO_CLASSES } from './coco-classes';
import { mapTorchvisionState } from './state-dict';

// Names, layouts and checks of mapTorchvisionState on torchvision's own files: the
// fasterrcnn_resnet50_fpn fixture is in the pre-0.13 layout of its COCO_V1 file, v2's in
// 0.13's with BatchNorm2d counters.

const V1 = 'fasterrcnn_resnet50_fpn';
const V2 = 'fasterrcnn_resnet50_fpn_v2';
const v1Params = () => torchParamMap(architectureConfig(V1, torchvisionCase(V1).set), COCO_CLASSES);
const HINT = "torchvision's model";

/** The pre-0.13 names renamed to 0.13's (what torchvision's _load_from_state_dict does to an old file). */
function currentLayout(state: Record<string, SafeTensor>): Record<string, SafeTensor> {
  return Object.fromEntries(
    Object.entries(state).map(([name, t]) => [name.replace(/^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\./, '$1.0.').replace(/^rpn\.head\.conv\./, 'rpn.head.conv.0.0.'), t]),
  );
}

function errorOf(run: () => unknown): UserError {
  try {
    run();
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error('expected a UserError');
}

describe('mapTorchvisionState', () => {
  it("reads the pre-0.13 names of fasterrcnn_resnet50_fpn's COCO_V1 file and 0.13's alike", () => {
    const legacy = readCaseState(V1);
    expect(Object.keys(legacy)).toEqual(expect.arrayContaining(['backbone.fpn.inner_blocks.0.weight', 'rpn.head.conv.weight']));
    const old = mapTorchvisionState(legacy, v1Params(), 'v1.pth', HINT);
    const current = mapTorchvisionState(currentLayout(legacy), v1Params(), 'v1.pth', HINT);
    expect(old.layout).toBe('torchvision < 0.13');
    expect(current.layout).toBe('torchvision >= 0.13');
    expect(Object.keys(current.weights)).toEqual(Object.keys(old.weights));
    for (const name of Object.keys(old.weights)) expect(current.weights[name].data).toEqual(old.weights[name].data);
    expect(old.weights['fpn.inner_blocks.0.kernel'].shape).toEqual([1, 1, 32, 16]);
    expect(old.weights['rpn.head.conv.kernel'].shape).toEqual([3, 3, 16, 16]);
  });

  it("converts torch's layouts: conv OIHW -> HWIO, linear [out, in] -> [in, out] with fc6's rows from NCHW to NHWC", () => {
    const state = readCaseState(V1);
    const { weights } = mapTorchvisionState(state, v1Params(), 'v1.pth', HINT);
    const conv = state['backbone.body.conv1.weight'];
    expect(conv.shape).toEqual([8, 3, 7, 7]);
    const kernel = weights['backbone.conv1.kernel'];
    expect(kernel.shape).toEqual([7, 7, 3, 8]);
    for (const [o, i, y, x] of [[0, 0, 0, 0], [5, 2, 3, 6], [7, 1, 6, 2]]) {
      expect(kernel.data[((y * 7 + x) * 3 + i) * 8 + o]).toBe(conv.data[((o * 3 + i) * 7 + y) * 7 + x]);
    }
    // fc6 reads the pooled [16, 7, 7] map: torch flattens it channel-major, Lumen channel-last.
    const fc6 = state['roi_heads.box_head.fc6.weight'];
    const lumen = weights['roi_heads.box_head.fc6.kernel'];
    expect(lumen.shape).toEqual([784, 32]);
    for (const [o, c, h, w] of [[0, 0, 0, 0], [31, 15, 6, 6], [9, 4, 2, 5]]) {
      expect(lumen.data[((h * 7 + w) * 16 + c) * 32 + o]).toBe(fc6.data[o * 784 + (c * 7 + h) * 7 + w]);
    }
    // FrozenBatchNorm2d's buffers as they are.
    expect(weights['backbone.bn1.running_var'].data).toEqual(state['backbone.body.bn1.running_var'].data);
  });

  it('ignores BatchNorm2d counters (num_batches_tracked) and says so', () => {
    const state = readCaseState(V2);
    const mapped = mapTorchvisionState(state, torchParamMap(architectureConfig(V2, torchvisionCase(V2).set), ['a', 'b', 'c', 'd', 'e']), 'v2.pth', HINT);
    expect(mapped.ignored.length).toBeGreaterThan(50);
    expect(mapped.ignored.every((n) => n.endsWith('.num_batches_tracked'))).toBe(true);
  });

  it('names every tensor missing, unexpected, of another shape or not floating point, in one error', () => {
    const state = readCaseState(V1);
    delete state['backbone.body.layer2.0.conv1.weight'];
    delete state['rpn.head.conv.weight'];
    state['roi_heads.mask_head.weight'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    state['backbone.body.bn1.weight'] = { dtype: 'F32', shape: [4], data: new Float32Array(4) };
    state['backbone.body.bn1.bias'] = { dtype: 'I32', shape: [8], data: new Int32Array(8) };
    const { message } = errorOf(() => mapTorchvisionState(state, v1Params(), 'v1.pth', HINT));
    expect(message).toBe(
      "v1.pth does not hold the model torchvision's model: 2 tensor(s) missing: backbone.body.layer2.0.conv1.weight, rpn.head.conv.0.0.weight (or rpn.head.conv.weight); " +
        '1 of another shape: backbone.body.bn1.weight is [4] in the file, [8] in the model; 1 not floating point: backbone.body.bn1.bias (I32); 1 unexpected: roi_heads.mask_head.weight',
    );
  });

  it("counts a second spelling of a tensor already read as unexpected: the file is not one model's", () => {
    const state = readCaseState(V1);
    state['rpn.head.conv.0.0.weight'] = state['rpn.head.conv.weight'];
    expect(errorOf(() => mapTorchvisionState(state, v1Params(), 'v1.pth', HINT)).message).toMatch(/: 1 unexpected: rpn\.head\.conv\.weight$/);
  });

  it('lists the first few of many problems and how many more', () => {
    const state = readCaseState(V1);
    for (const name of Object.keys(state).filter((n) => n.startsWith('backbone.body.layer4.'))) delete state[name];
    expect(errorOf(() => mapTorchvisionState(state, v1Params(), 'v1.pth', HINT)).message).toMatch(/: 50 tensor\(s\) missing: backbone\.body\.layer4\.0\.conv1\.weight, (\S+, ){4}\S+ and 44 more$/);
  });
});
