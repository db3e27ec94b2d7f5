import { BACKBONE_NAMES, getBackbone, makeDivisible, scaleWidth, torchShape } from './index';
import { loadManifest } from './testing/fixtures';

const manifest = loadManifest();

describe('getBackbone', () => {
  it('knows the backbones of the issues', () => {
    expect(BACKBONE_NAMES).toEqual(['resnet18', 'resnet34', 'resnet50', 'resnet101', 'vgg16', 'mobilenet_v2', 'mobilenet_v3_large']);
    for (const name of BACKBONE_NAMES) {
      const bb = getBackbone(name);
      expect(bb.name).toBe(name);
      expect(bb.bodyStride).toBe(16);
    }
  });

  it('lists the known names for an unknown one', () => {
    expect(() => getBackbone('resnet152')).toThrow(
      "Error in getBackbone: 'name' must be one of resnet18, resnet34, resnet50, resnet101, vgg16, mobilenet_v2, mobilenet_v3_large, but got 'resnet152'.",
    );
    expect(() => getBackbone('toString')).toThrow('must be one of');
    expect(() => getBackbone(undefined as unknown as string)).toThrow("but got undefined.");
  });

  it('reports torchvision channel counts at width 1', () => {
    const channels = Object.fromEntries(BACKBONE_NAMES.map((n) => [n, [getBackbone(n).bodyChannels(), getBackbone(n).tailChannels()]]));
    expect(channels).toEqual({
      resnet18: [256, 512],
      resnet34: [256, 512],
      resnet50: [1024, 2048],
      resnet101: [1024, 2048],
      vgg16: [512, 4096],
      mobilenet_v2: [96, 1280],
      mobilenet_v3_large: [112, 960],
    });
  });

  it('scales ResNet and VGG widths to multiples of 8, at least 8', () => {
    expect(scaleWidth(64, 0.25)).toBe(16);
    expect(scaleWidth(64, 1 / 16)).toBe(8);
    expect(scaleWidth(64, 0.01)).toBe(8);
    expect(scaleWidth(256, 0.3)).toBe(80); // 76.8 -> 80
    expect(getBackbone('resnet18').bodyChannels({ width: 0.25 })).toBe(64);
    expect(getBackbone('resnet50').tailChannels({ width: 0.5 })).toBe(1024);
    expect(getBackbone('vgg16').tailChannels({ width: 1 / 32 })).toBe(128);
  });

  it("computes MobileNetV2's widths as torchvision's width_mult", () => {
    for (const { width, body, tail } of manifest.mobilenetChannels) {
      expect([width, getBackbone('mobilenet_v2').bodyChannels({ width }), getBackbone('mobilenet_v2').tailChannels({ width })]).toEqual([width, body, tail]);
    }
    expect(makeDivisible(96 * 0.15)).toBe(16);
  });

  it('checks the options it reads', () => {
    expect(() => getBackbone('resnet18').bodyChannels({ width: 0 })).toThrow("Error in resnet18.bodyChannels: 'width' must be a finite number > 0, but got 0.");
  });
});

describe('parameters against torchvision state dicts (width 1)', () => {
  it.each(BACKBONE_NAMES.map((n) => [n]))('%s: every parameter is a torchvision tensor of the same shape; the rest is the classifier and BN counters', (name) => {
    const listing = manifest.stateDicts[name];
    const torch = new Map(listing.map(([n, shape]) => [n, shape]));
    const specs = getBackbone(name).paramSpecs();
    for (const spec of specs) {
      expect([spec.torchName, torch.get(spec.torchName)]).toEqual([spec.torchName, torchShape(spec)]);
    }
    const used = new Set(specs.map((s) => s.torchName));
    const unused = listing.map(([n]) => n).filter((n) => !used.has(n));
    const heads: Record<string, RegExp> = { vgg16: /^classifier\.6\./, mobilenet_v2: /^classifier\.1\./, mobilenet_v3_large: /^classifier\.[03]\./ };
    const head = heads[name] ?? /^fc\./;
    expect(unused.filter((n) => !n.endsWith('num_batches_tracked') && !head.test(n))).toEqual([]);
    // Lumen's names: the torchvision module path, '.kernel' for conv/linear weights (their layout differs).
    for (const spec of specs) expect(spec.name).toBe(spec.kind === 'conv' || spec.kind === 'depthwise' || spec.kind === 'linear' ? spec.torchName.replace(/weight$/, 'kernel') : spec.torchName);
  });

  it('puts every parameter in a stage and the tail in the last one', () => {
    for (const name of BACKBONE_NAMES) {
      const bb = getBackbone(name);
      const specs = bb.paramSpecs();
      expect(new Set(specs.map((s) => s.stage))).toEqual(new Set(bb.stages.map((_, i) => i + 1)));
      const tail = specs.filter((s) => s.stage === bb.stages.length).map((s) => s.name.split('.').slice(0, 2).join('.'));
      const expected = name.startsWith('resnet') ? /^layer4\./ : name === 'vgg16' ? /^classifier\./ : /^features\.1[4-8]$/;
      for (const t of tail) expect(t).toMatch(expected);
    }
  });

  it('keeps the parameter set across tailStride, except where torchvision drops a projection', () => {
    const names = (name: string, tailStride: 1 | 2, width: number) => getBackbone(name).paramSpecs({ tailStride, width }).map((s) => `${s.name}:${s.shape}`);
    for (const name of BACKBONE_NAMES) expect(names(name, 1, 0.25)).toEqual(names(name, 2, 0.25));
    // At width 1/64 layer4 keeps resnet18's 8 channels: with stride 1 _make_layer adds no downsample.
    const missing = names('resnet18', 2, 1 / 64).filter((n) => !names('resnet18', 1, 1 / 64).includes(n));
    expect(missing.map((n) => n.split(':')[0])).toEqual([
      'layer4.0.downsample.0.kernel',
      'layer4.0.downsample.1.weight',
      'layer4.0.downsample.1.bias',
      'layer4.0.downsample.1.running_mean',
      'layer4.0.downsample.1.running_var',
    ]);
  });
});
