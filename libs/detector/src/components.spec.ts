import { BACKBONE_NAMES } from '@lumen/backbone';
import { BACKBONES, ConfigError, loadConfig } from '@lumen/config';
import { join } from 'node:path';
import { resolveComponents } from './components';

const DIGITS = join(__dirname, '../../../configs/digits-c4.yaml');

describe('component names', () => {
  it("are the config schema's list and the backbone registry's, the same", () => {
    expect([...BACKBONES].sort()).toEqual([...BACKBONE_NAMES].sort());
  });

  it('every backbone the schema allows resolves', () => {
    for (const name of BACKBONES) {
      const { config } = loadConfig(DIGITS, { overrides: [`model.backbone.name=${name}`, `model.rcnn.head=mlp`] });
      expect(resolveComponents(config).backbone.name).toBe(name);
    }
  });

  it('an unknown backbone is a config error naming the key, from the schema', () => {
    expect(() => loadConfig(DIGITS, { overrides: ['model.backbone.name=resnet7'] })).toThrow(/model\.backbone\.name: "resnet7" is not allowed: expected one of "resnet18"/);
  });
});

describe('a feature pyramid (model.backbone.fpn)', () => {
  const fpn = (levels: string, ...extra: string[]) => loadConfig(DIGITS, { overrides: [`model.backbone.fpn={levels: ${levels}}`, 'model.anchors.sizes=[32, 64]', ...extra] }).config;

  it("reads the backbone levels it names, at their strides, and pools RoIs from torchvision's levels", () => {
    const resnet = resolveComponents(fpn('[layer1, layer2, layer3, layer4]'));
    expect(resnet.pyramid).toMatchObject({ maps: 5, poolScales: [1 / 4, 1 / 8, 1 / 16, 1 / 32] });
    expect(resnet.pyramid?.fpn).toEqual({ inChannels: [24, 48, 96, 192], outChannels: 256, norm: 'none', extra: 'maxpool' });
    expect(resnet.anchors).toEqual({ sizes: Array(5).fill([32, 64]), ratios: Array(5).fill([1, 2, 3]), perLocation: 6 });
    // MobileNetV3's two stride-32 levels: torchvision's LevelMapper pools every box from the first.
    const mobilenet = resolveComponents(fpn("['features.13', 'features.16']", 'model.backbone.name=mobilenet_v3_large', 'model.backbone.fpn.extra=none'));
    expect(mobilenet.pyramid).toMatchObject({ maps: 2, poolScales: [1 / 32] });
    const v2 = resolveComponents(fpn("['features.7', 'features.14', 'features.18']", 'model.backbone.name=mobilenet_v2'));
    expect(v2.pyramid?.poolScales).toEqual([1 / 16, 1 / 32]);
    expect(resolveComponents(fpn('[layer2, layer3]', 'model.anchors.sizes=[[32], [64], [128]]')).anchors.sizes).toEqual([[32], [64], [128]]);
  });

  it.each([
    ['[layer2, layer5]', [], "model.backbone.fpn.levels: resnet18 has no level 'layer5': it has layer1, layer2, layer3, layer4"],
    ['[layer3, layer4]', ['model.backbone.tailStride=1'], "model.backbone.fpn.levels: resnet18 has no level 'layer4' (levels past the stride-16 body need model.backbone.tailStride 2): it has layer1, layer2, layer3"],
    ['[layer3, layer2]', [], 'model.backbone.fpn.levels: must be in forward order, finest first: [layer2, layer3]'],
    ['[layer2, layer4]', [], 'model.backbone.fpn.levels: multi-scale RoIAlign pools a box from the level of its size, log2(stride) counted from the first level, so the strides must double from level to level; layer2 (stride 8), layer4 (stride 32) do not'],
    ['[layer2]', ['model.backbone.name=vgg16'], 'model.backbone.fpn: vgg16 has no feature levels (its one map is the body\'s); set model.backbone.fpn to null'],
    ['[layer2, layer3]', ['model.rcnn.head=resnet-tail'], "model.rcnn.head: 'resnet-tail' runs the backbone's tail on one stride-16 map; with model.backbone.fpn use 'mlp' or 'conv-fc'"],
    ['[layer2, layer3]', ['model.roiPool.mode=crop'], "model.roiPool.mode: 'crop' pools one map; with model.backbone.fpn RoIs are pooled by multi-scale RoIAlign: use 'align'"],
    ['[layer2, layer3]', ['model.anchors.sizes=[[32], [64]]'], 'model.anchors.sizes: 2 lists for the 3 feature map(s) the RPN reads (layer2, layer3 + pool): give one list per map, or one flat list for all'],
    ['[layer2, layer3]', ['model.backbone.fpn.extra=none', 'model.anchors.sizes=[[32], [64, 128]]'], 'model.anchors: every feature map needs as many anchors per location (one RPN head serves them all), but map 0 has 3 (sizes [32] x ratios [1,2,3]) and map 1 has 6 (sizes [64,128] x ratios [1,2,3])'],
  ])('%s %j is a config error naming the key', (levels, extra, message) => {
    expect(() => resolveComponents(fpn(levels, ...extra))).toThrow(new ConfigError(message));
  });

  it('a single map takes one anchor list, or one flat list', () => {
    expect(resolveComponents(loadConfig(DIGITS, { overrides: ['model.anchors.sizes=[[32, 64]]'] }).config).anchors.sizes).toEqual([[32, 64]]);
    expect(() => resolveComponents(loadConfig(DIGITS, { overrides: ['model.anchors.ratios=[[1], [2]]'] }).config)).toThrow(
      'model.anchors.ratios: 2 lists for the 1 feature map(s) the RPN reads (one stride-16 map)',
    );
  });
});
