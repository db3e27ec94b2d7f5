import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULTS, FPN_DEFAULTS } from './defaults';
import { ConfigError, configToYaml, loadConfig } from './load';

// The model section's feature-pyramid keys: model.backbone.fpn / bnEps, per-map anchor lists,
// model.rpn.convDepth, the conv-fc head.

const repoConfigs = resolve(__dirname, '../../../configs');
const load = (...overrides: string[]) => loadConfig('digits-c4', { configDir: repoConfigs, overrides }).config;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('model.backbone.fpn', () => {
  it('is null by default (one stride-16 map, C4); an object takes FPN_DEFAULTS for the keys it leaves out', () => {
    expect(DEFAULTS.model.backbone.fpn).toBeNull();
    expect(DEFAULTS.model.backbone.bnEps).toBeNull();
    expect(load('model.backbone.fpn.levels=[layer2, layer3]').model.backbone.fpn).toEqual({ levels: ['layer2', 'layer3'], ...FPN_DEFAULTS });
    expect(load('model.backbone.fpn={levels: [layer1], norm: batch, extra: none, outChannels: 64}').model.backbone.fpn).toEqual({
      levels: ['layer1'],
      outChannels: 64,
      norm: 'batch',
      extra: 'none',
    });
  });

  it('is checked key by key', () => {
    expect(errorOf(() => load('model.backbone.fpn.levels=[layer2, layer2]'))).toContain('model.backbone.fpn.levels: must not name a level twice');
    expect(errorOf(() => load('model.backbone.fpn.levels=[]'))).toContain('model.backbone.fpn.levels: ');
    expect(errorOf(() => load('model.backbone.fpn={levels: [layer2], norm: group}'))).toContain('model.backbone.fpn.norm: "group" is not allowed: expected one of "none", "batch"');
    expect(errorOf(() => load('model.backbone.fpn={levels: [layer2], extra: p6}'))).toContain('model.backbone.fpn.extra: "p6" is not allowed');
    expect(errorOf(() => load('model.backbone.fpn={levels: [layer2], outchannels: 8}'))).toContain("unknown key 'model.backbone.fpn.outchannels'");
    expect(errorOf(() => load('model.backbone.fpn={outChannels: 8}'))).toContain('model.backbone.fpn.levels');
    expect(errorOf(() => load('model.backbone.bnEps=-1'))).toContain('model.backbone.bnEps');
  });

  it('is written out whole in a resolved config, which loads back identical', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lumen-config-'));
    try {
      const config = load('model.backbone.fpn.levels=[layer2, layer3]', 'model.backbone.bnEps=0');
      writeFileSync(join(dir, 'config.yaml'), configToYaml(config));
      expect(configToYaml(config)).toContain('outChannels: 256');
      expect(loadConfig(join(dir, 'config.yaml')).config).toEqual(config);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('per-map anchors, the RPN depth and the conv-fc head', () => {
  it('take a flat list for every map or one list per map', () => {
    expect(load('model.anchors.sizes=[[32], [64], [128]]').model.anchors.sizes).toEqual([[32], [64], [128]]);
    expect(load('model.anchors.ratios=[[0.5, 1, 2]]').model.anchors.ratios).toEqual([[0.5, 1, 2]]);
    expect(errorOf(() => load('model.anchors.sizes=[[32], 64]'))).toContain('model.anchors.sizes: must be a list of sizes, or one such list per feature map');
    expect(errorOf(() => load('model.anchors.sizes=[[32], [-64]]'))).toContain('model.anchors.sizes.1.0: ');
    expect(errorOf(() => load('model.anchors.ratios=[[]]'))).toContain('model.anchors.ratios');
  });

  it('convDepth is 1 or 2; conv-fc is a head with convChannels', () => {
    expect(DEFAULTS.model.rpn.convDepth).toBe(1);
    expect(load('model.rpn.convDepth=2').model.rpn.convDepth).toBe(2);
    expect(errorOf(() => load('model.rpn.convDepth=3'))).toContain('model.rpn.convDepth: must be 1 or 2 (got 3)');
    expect(load('model.rcnn.head=conv-fc', 'model.rcnn.convChannels=64').model.rcnn).toMatchObject({ head: 'conv-fc', convChannels: 64 });
    expect(errorOf(() => load('model.rcnn.convChannels=0'))).toContain('model.rcnn.convChannels');
  });
});

describe('model.transform.localContrast', () => {
  it('is null by default (mean/std); an object needs an integer radius and a positive floor', () => {
    expect(DEFAULTS.model.transform.localContrast).toBeNull();
    expect(load('model.transform.localContrast=null').model.transform.localContrast).toBeNull();
    expect(load('model.transform.localContrast={radius: 8, floor: 0.05}').model.transform.localContrast).toEqual({ radius: 8, floor: 0.05 });
    expect(errorOf(() => load('model.transform.localContrast={radius: 2.5, floor: 0.05}'))).toContain('model.transform.localContrast.radius');
    expect(errorOf(() => load('model.transform.localContrast={radius: 8, floor: 0}'))).toContain('model.transform.localContrast.floor');
    expect(errorOf(() => load('model.transform.localContrast=null', 'model.transform.localContrast.radius=8'))).toContain('model.transform.localContrast.floor');
  });
});
