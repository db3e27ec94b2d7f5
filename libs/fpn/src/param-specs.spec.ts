import { fpnParamSpecs, type FpnParamSpec } from './param-specs';
import type { FpnOptions } from './options';
import { findCase, loadFixture, torchShape } from './testing/fixtures';

// Names and shapes against torchvision's own state dicts (tools/fixtures/fpn_fixtures.py):
// the `backbone.fpn.` entries of fasterrcnn_resnet50_fpn and fasterrcnn_resnet50_fpn_v2,
// and the pre-0.13 names that torchvision's version-1 upgrade accepts.

const detection = loadFixture().detection;
const full = (norm: FpnOptions['norm'], batchNorm?: FpnOptions['batchNorm']): FpnOptions => ({
  inChannels: detection.inChannels,
  outChannels: detection.outChannels,
  norm,
  extra: 'maxpool',
  ...(batchNorm == null ? {} : { batchNorm }),
});

describe('fpnParamSpecs against torchvision state dicts', () => {
  it.each([
    ['fasterrcnn_resnet50_fpn', 'none'],
    ['fasterrcnn_resnet50_fpn_v2', 'batch'],
  ] as const)('%s: every tensor but the BN counters, in state-dict order, with torch shapes', (model, norm) => {
    const listing = detection[model];
    const counters = listing.filter(([name]) => name.endsWith('num_batches_tracked'));
    const tensors = listing.filter(([name]) => !name.endsWith('num_batches_tracked'));
    const specs = fpnParamSpecs(full(norm));
    expect(specs.map((s) => [s.torchName, torchShape(s), 'float32'])).toEqual(tensors);
    expect(counters.length).toBe(norm === 'batch' ? 8 : 0);
  });

  it('legacy names: the v1 names torchvision < 0.13 wrote, as its version-1 upgrade maps them', () => {
    const v1 = findCase('v1');
    const f = loadFixture();
    const specs = fpnParamSpecs({ inChannels: f.inChannels, outChannels: f.outChannels, norm: 'none', extra: 'maxpool' });
    expect(Object.fromEntries(specs.map((s) => [s.torchName, s.legacyTorchName]))).toEqual(v1.legacyNames);
  });

  it('the BatchNorm variant has no legacy names', () => {
    expect(fpnParamSpecs(full('batch')).every((s) => s.legacyTorchName === null)).toBe(true);
  });
});

describe('fpnParamSpecs: Lumen names, layouts, kinds, init', () => {
  const byName = (specs: FpnParamSpec[]) => Object.fromEntries(specs.map((s) => [s.name, s]));

  it('v1: <group>.<level>.kernel (HWIO) and .bias, kaiming_uniform(a=1) bounds from fan_in', () => {
    const specs = byName(fpnParamSpecs(full('none')));
    expect(Object.keys(specs).slice(0, 4)).toEqual(['inner_blocks.0.kernel', 'inner_blocks.0.bias', 'inner_blocks.1.kernel', 'inner_blocks.1.bias']);
    expect(specs['inner_blocks.2.kernel']).toEqual({
      name: 'inner_blocks.2.kernel',
      shape: [1, 1, 1024, 256],
      kind: 'conv',
      torchName: 'inner_blocks.2.0.weight',
      legacyTorchName: 'inner_blocks.2.weight',
      trainable: true,
      init: { type: 'uniform', bound: Math.sqrt(3 / 1024) },
    });
    expect(specs['layer_blocks.3.kernel']).toMatchObject({ shape: [3, 3, 256, 256], init: { type: 'uniform', bound: Math.sqrt(3 / (256 * 9)) } });
    expect(specs['layer_blocks.3.bias']).toEqual({
      name: 'layer_blocks.3.bias',
      shape: [256],
      kind: 'bias',
      torchName: 'layer_blocks.3.0.bias',
      legacyTorchName: 'layer_blocks.3.bias',
      trainable: true,
      init: { type: 'constant', value: 0 },
    });
    expect(Object.keys(specs).length).toBe(16);
  });

  it.each(['trainable', 'frozen'] as const)('v2, %s BN: <group>.<level>.conv.kernel and .bn.* (running statistics never trainable)', (batchNorm) => {
    const specs = byName(fpnParamSpecs(full('batch', batchNorm)));
    expect(Object.keys(specs).slice(0, 5)).toEqual([
      'inner_blocks.0.conv.kernel',
      'inner_blocks.0.bn.weight',
      'inner_blocks.0.bn.bias',
      'inner_blocks.0.bn.running_mean',
      'inner_blocks.0.bn.running_var',
    ]);
    expect(specs['layer_blocks.1.conv.kernel']).toMatchObject({ torchName: 'layer_blocks.1.0.weight', kind: 'conv', shape: [3, 3, 256, 256], trainable: true });
    const bn = ['weight', 'bias', 'running_mean', 'running_var'].map((f) => specs[`inner_blocks.3.bn.${f}`]);
    expect(bn.map((s) => [s.torchName, s.kind, s.shape, s.init, s.trainable])).toEqual([
      ['inner_blocks.3.1.weight', 'bn-weight', [256], { type: 'constant', value: 1 }, batchNorm === 'trainable'],
      ['inner_blocks.3.1.bias', 'bn-bias', [256], { type: 'constant', value: 0 }, batchNorm === 'trainable'],
      ['inner_blocks.3.1.running_mean', 'bn-mean', [256], { type: 'constant', value: 0 }, false],
      ['inner_blocks.3.1.running_var', 'bn-var', [256], { type: 'constant', value: 1 }, false],
    ]);
    expect(Object.keys(specs).length).toBe(40);
  });

  it("defaults batchNorm to 'trainable' (torchvision's v2 FPN trains its BatchNorm2d)", () => {
    expect(fpnParamSpecs(full('batch'))).toEqual(fpnParamSpecs(full('batch', 'trainable')));
  });

  it('does not depend on the extra block (LastLevelMaxPool has no parameters)', () => {
    expect(fpnParamSpecs({ ...full('none'), extra: 'none' })).toEqual(fpnParamSpecs(full('none')));
  });
});

describe('fpnParamSpecs argument checks', () => {
  const base: FpnOptions = { inChannels: [8, 16], outChannels: 4, norm: 'none', extra: 'maxpool' };
  it.each([
    [null, "Error in fpnParamSpecs: 'options' must be an object { inChannels, outChannels, norm, extra, batchNorm? }, but got null."],
    [{ ...base, inChannels: [] }, "'inChannels' must be a non-empty array of positive integers (one per input map), but got an array of length 0."],
    [{ ...base, inChannels: [8, 0] }, "Error in fpnParamSpecs: 'inChannels[1]' must be a positive integer, but got 0."],
    [{ ...base, outChannels: 2.5 }, "'outChannels' must be a positive integer, but got 2.5."],
    [{ ...base, norm: 'group' }, `'norm' must be 'none' or 'batch', but got "group".`],
    [{ ...base, extra: undefined }, "'extra' must be 'maxpool' or 'none', but got undefined."],
    [{ ...base, norm: 'batch', batchNorm: 'train' }, `'batchNorm' must be 'frozen' or 'trainable', but got "train".`],
  ])('%j', (options, message) => {
    expect(() => fpnParamSpecs(options as unknown as FpnOptions)).toThrow(message);
  });
});
