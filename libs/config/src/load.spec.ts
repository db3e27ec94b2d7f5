import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULTS, FPN_DEFAULTS } from './defaults';
import { ConfigError, configToYaml, defaultConfigDir, listConfigs, loadConfig, mergeConfig, parseOverride, validateConfig } from './load';

const repoConfigs = resolve(__dirname, '../../../configs');

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('named configs', () => {
  it('every file in configs/ validates', () => {
    const names = listConfigs(repoConfigs);
    expect(names).toEqual(expect.arrayContaining(['coco', 'digits', 'voc', 'voc-fpn', 'voc-mobilenet', 'voc-resnet101', 'voc-vgg16', 'digits-c4']));
    for (const name of names) expect(() => loadConfig(name, { configDir: repoConfigs })).not.toThrow();
  });

  it('a named config changes only what it lists', () => {
    const { config } = loadConfig('digits', { configDir: repoConfigs });
    const fpn = { ...FPN_DEFAULTS, levels: ['layer2', 'layer3', 'layer4'], outChannels: 64 };
    expect(config.model.backbone).toEqual({ ...DEFAULTS.model.backbone, name: 'resnet18', width: 0.375, batchNorm: 'trainable', freezeAt: 0, fpn });
    expect(config.model.rpn.nmsThresh).toBe(DEFAULTS.model.rpn.nmsThresh);
    expect(config.train.optimizer).toEqual({ ...DEFAULTS.train.optimizer, type: 'adam', lr: 0.001, weightDecay: 0 });
  });

  it("'base' chains configs: voc-vgg16 is voc with a VGG backbone", () => {
    const voc = loadConfig('voc', { configDir: repoConfigs }).config;
    const vgg = loadConfig('voc-vgg16', { configDir: repoConfigs }).config;
    expect(vgg.data).toEqual(voc.data);
    expect(vgg.model.backbone.name).toBe('vgg16');
    expect(vgg.model.rcnn.head).toBe('vgg-fc');
    expect(vgg.model.roiPool.size).toBe(7);
  });

  it("a 'base' key can be set back to null: digits-c4 is digits on one map", () => {
    const digits = loadConfig('digits', { configDir: repoConfigs }).config;
    const c4 = loadConfig('digits-c4', { configDir: repoConfigs }).config;
    expect(c4.model.backbone).toEqual({ ...digits.model.backbone, fpn: null });
    expect(c4.model.anchors).toEqual({ ...digits.model.anchors, sizes: [16, 32, 64, 128] });
    expect(c4.data).toEqual(digits.data);
    expect(c4.train).toEqual(digits.train);
  });

  it('an unknown name lists the known ones', () => {
    const message = errorOf(() => loadConfig('vocc', { configDir: repoConfigs }));
    expect(message).toContain("unknown config 'vocc'");
    expect(message).toContain("'voc'");
  });
});

describe('overrides', () => {
  it('parses values as YAML scalars and lists', () => {
    expect(parseOverride('train.steps=100')).toEqual({ train: { steps: 100 } });
    expect(parseOverride('model.roiPool.aligned=true')).toEqual({ model: { roiPool: { aligned: true } } });
    expect(parseOverride('model.anchors.sizes=[16, 32]')).toEqual({ model: { anchors: { sizes: [16, 32] } } });
    expect(parseOverride('model.backbone.weights=null')).toEqual({ model: { backbone: { weights: null } } });
    expect(parseOverride('data.dataset.dir=/data/my voc')).toEqual({ data: { dataset: { dir: '/data/my voc' } } });
  });

  it('apply last, in order, and replace lists whole', () => {
    const { config } = loadConfig('digits', {
      configDir: repoConfigs,
      overrides: ['train.steps=10', 'train.steps=20', 'model.anchors.ratios=[1]', 'model.backbone.name=vgg16'],
    });
    expect(config.train.steps).toBe(20);
    expect(config.model.anchors.ratios).toEqual([1]);
    expect(config.model.backbone.name).toBe('vgg16');
  });

  it('reject text that is not key=value', () => {
    expect(errorOf(() => parseOverride('train.steps'))).toContain('expected key.path=value');
    expect(errorOf(() => parseOverride('train..steps=1'))).toContain('not a dotted key path');
  });
});

describe('validation errors name the key and what is allowed', () => {
  const load = (...overrides: string[]) => () => loadConfig('digits', { configDir: repoConfigs, overrides });

  it('unknown key', () => {
    const message = errorOf(load('model.rpn.nms_thresh=0.5'));
    expect(message).toContain("unknown key 'model.rpn.nms_thresh'");
    expect(message).toContain('nmsThresh');
    expect(message).toContain('--set model.rpn.nms_thresh=0.5');
  });

  it('unknown key inside a section whose default is null lists the keys the schema allows', () => {
    expect(errorOf(load('model.backbone.fpn={levels: [layer2, layer3, layer4], outchannels: 64}'))).toContain(
      "unknown key 'model.backbone.fpn.outchannels' in 'model.backbone.fpn': expected one of levels, outChannels, norm, extra",
    );
  });

  it('unknown top-level key', () => {
    expect(errorOf(load('trian.steps=1'))).toContain("unknown key 'trian' at the top level: expected one of model, data, train, eval");
  });

  it('wrong type', () => {
    expect(errorOf(load('train.steps=many'))).toMatch(/train\.steps: expected number.*"many"/);
  });

  it('unknown component name', () => {
    const message = errorOf(load('model.roiPool.mode=pool'));
    expect(message).toContain('model.roiPool.mode: "pool" is not allowed: expected one of "align", "crop"');
  });

  it('out of range and inconsistent values', () => {
    expect(errorOf(load('model.rpn.nmsThresh=1.5'))).toContain('model.rpn.nmsThresh');
    expect(errorOf(load('data.image.minSize=320', 'data.image.maxSize=100'))).toContain('data.image.maxSize: must be >= data.image.minSize (320)');
    expect(errorOf(load('train.schedule.milestones=[10, 5]'))).toContain('train.schedule.milestones: must be strictly increasing');
    expect(errorOf(load('model.rcnn.bgIouThresh=0.9'))).toContain('model.rcnn.bgIouThresh');
    expect(errorOf(load('eval.finalSplits=[test,holdout]'))).toContain('eval.finalSplits.1: must be a split data.dataset.splits names: one of "train", "val", "test", "shift" (got "holdout")');
    expect(errorOf(load('model.anchors.sizes=[32,-64]'))).toContain('model.anchors.sizes.1: ');
    expect(errorOf(load('model.anchors.sizes=[32,-64]'))).toContain('(got -64)');
    expect(errorOf(load('eval.finalSplits=[test,test]'))).toContain('eval.finalSplits: must not name a split twice');
    expect(load('eval.finalSplits=[val,test]')().config.eval.finalSplits).toEqual(['val', 'test']);
  });

  it('data.dataset.splits: train, val and test required, other keys name more splits; eval.finalSplits names any of them', () => {
    const digits = load()().config;
    expect(digits.data.dataset.splits).toEqual({ train: 'train', val: 'val', test: 'test', shift: 'shift' });
    expect(digits.eval.finalSplits).toEqual(['test', 'shift']);
    expect(digits.data.dataset.digits.shift).toBe(300);
    const more = load('data.dataset.splits.hard=hard_v2', 'eval.finalSplits=[hard, val]')().config;
    expect(more.data.dataset.splits.hard).toBe('hard_v2');
    expect(more.eval.finalSplits).toEqual(['hard', 'val']);
    // Without the key, naming it is an error listing the splits there are.
    const withSplits = (splits: Record<string, string>, finalSplits: string[]) => () =>
      validateConfig({ ...DEFAULTS, data: { ...DEFAULTS.data, dataset: { ...DEFAULTS.data.dataset, splits } }, eval: { ...DEFAULTS.eval, finalSplits } });
    expect(errorOf(withSplits({ train: 'a', val: 'b', test: 'c' }, ['test', 'shift']))).toContain(
      'eval.finalSplits.1: must be a split data.dataset.splits names: one of "train", "val", "test" (got "shift")',
    );
    expect(errorOf(withSplits({ val: 'b', test: 'c' }, []))).toContain('data.dataset.splits.train: expected string');
    expect(errorOf(load('data.dataset.splits.shift=3'))).toContain('data.dataset.splits.shift: expected string');
    expect(errorOf(load('data.dataset.splits.shift=""'))).toContain('data.dataset.splits.shift: ');
    expect(errorOf(load('data.dataset.splits={train: a, val: b, test: c, "../x": d}'))).toContain('data.dataset.splits.../x: must be a split name');
    expect(errorOf(load('data.dataset.digits.shift=-1'))).toContain('data.dataset.digits.shift');
    expect(load('data.dataset.digits.shift=0')().config.data.dataset.digits.shift).toBe(0);
  });

  it('augmentation ranges: [min, max] pairs, sharp blur sigmas, integer JPEG qualities, degrees to 180', () => {
    expect(errorOf(load('data.augment.blur.sigma=[2, 1]'))).toContain('data.augment.blur.sigma: must be [min, max] with min <= max (got [2,1])');
    expect(errorOf(load('data.augment.blur.sigma=[0.1, 1]'))).toContain('data.augment.blur.sigma.0: ');
    expect(errorOf(load('data.augment.noise.sigma=[0, 5]'))).toContain('data.augment.noise.sigma.0: ');
    expect(errorOf(load('data.augment.noise.sigma=[5]'))).toContain('data.augment.noise.sigma');
    expect(errorOf(load('data.augment.jpeg.quality=[50.5, 90]'))).toContain('data.augment.jpeg.quality.0: ');
    expect(errorOf(load('data.augment.jpeg.quality=[0, 90]'))).toContain('data.augment.jpeg.quality.0: ');
    expect(errorOf(load('data.augment.rotate.degrees=200'))).toContain('data.augment.rotate.degrees');
    expect(errorOf(load('data.augment.rotate.boxes=circle'))).toContain('data.augment.rotate.boxes');
    expect(errorOf(load('data.augment.invert.prob=2'))).toContain('data.augment.invert.prob');
    expect(errorOf(load('data.augment.grayscale.p=1'))).toContain("unknown key 'data.augment.grayscale.p' in 'data.augment.grayscale': expected one of prob");
    const { augment } = load('data.augment.noise={prob: 0.5, sigma: [1, 4]}', 'data.augment.jpeg.quality=[60, 60]')().config.data;
    expect([augment.noise, augment.jpeg.quality, augment.rotate.prob]).toEqual([{ prob: 0.5, sigma: [1, 4] }, [60, 60], 0.5]);
  });

  it('lists every problem at once', () => {
    const message = errorOf(load('train.steps=0', 'eval.metric=map'));
    expect(message).toContain('train.steps');
    expect(message).toContain('eval.metric');
  });

  it('the defaults themselves are valid', () => {
    expect(validateConfig(DEFAULTS)).toEqual(DEFAULTS);
  });
});

describe('files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a resolved config written as YAML loads back identical (checkpoint config.yaml)', () => {
    const { config } = loadConfig('voc-vgg16', { configDir: repoConfigs, overrides: ['train.clipGradNorm=10'] });
    const path = join(dir, 'config.yaml');
    writeFileSync(path, configToYaml(config));
    expect(loadConfig(path).config).toEqual(config);
  });

  it('a bad file is named, with YAML position or the key', () => {
    writeFileSync(join(dir, 'broken.yaml'), 'model:\n  rpn: [unclosed\n');
    expect(errorOf(() => loadConfig('broken', { configDir: dir }))).toMatch(/broken\.yaml: not valid YAML/);
    writeFileSync(join(dir, 'typo.yaml'), 'model:\n  rpn:\n    nmsTresh: 0.6\n');
    expect(errorOf(() => loadConfig('typo', { configDir: dir }))).toMatch(/typo\.yaml is not valid:\n {2}unknown key 'model\.rpn\.nmsTresh'/);
    writeFileSync(join(dir, 'list.yaml'), '- 1\n');
    expect(errorOf(() => loadConfig('list', { configDir: dir }))).toContain('expected a mapping');
  });

  it('base cycles are reported', () => {
    writeFileSync(join(dir, 'a.yaml'), 'base: b\n');
    writeFileSync(join(dir, 'b.yaml'), 'base: a\n');
    expect(errorOf(() => loadConfig('a', { configDir: dir }))).toContain('cycle');
  });

  it('an empty file is the defaults', () => {
    writeFileSync(join(dir, 'empty.yaml'), '');
    expect(loadConfig('empty', { configDir: dir }).config).toEqual(DEFAULTS);
  });
});

describe('mergeConfig', () => {
  it('merges objects, replaces arrays and scalars, leaves inputs untouched', () => {
    const base = { a: { b: 1, c: [1, 2] }, d: 'x' };
    const merged = mergeConfig(base, { a: { c: [3] }, d: 'y' });
    expect(merged).toEqual({ a: { b: 1, c: [3] }, d: 'y' });
    expect(base).toEqual({ a: { b: 1, c: [1, 2] }, d: 'x' });
  });
});

describe('named configs from another working directory', () => {
  const cwd = process.cwd();
  afterEach(() => process.chdir(cwd));

  it('finds them from a subfolder of the workspace', () => {
    process.chdir(resolve(__dirname, '..', '..', '..', 'apps', 'cli'));
    const loaded = loadConfig('digits');
    expect(loaded.path).toBe(join(repoConfigs, 'digits.yaml'));
    expect(defaultConfigDir()).toBe(repoConfigs);
  });

  it("falls back to the configs Lumen ships outside any workspace, and an unknown name says where it looked", () => {
    const outside = mkdtempSync(join(tmpdir(), 'lumen-cwd-'));
    process.chdir(outside);
    expect(loadConfig('voc').path).toBe(join(repoConfigs, 'voc.yaml'));
    expect(errorOf(() => loadConfig('vocc'))).toContain(`in ${repoConfigs}`);
    process.chdir(cwd);
    rmSync(outside, { recursive: true, force: true });
  });
});
