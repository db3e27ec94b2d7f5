import { seededRandom } from '@lumen/core';
import { loadConfig, type Config } from '@lumen/config';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildDetector, initDetector } from './model';
import { disposeParams, flattenParams } from './params';
import { torchParamMap, torchToLumen } from './torch-names';

// torchParamMap against the state dicts of torchvision's own models
// (tools/fixtures/detector_torch_names.py: fixtures/torchvision-names.json), and against the
// params buildDetector makes.

const DEFAULTS = resolve(__dirname, '../../../configs/voc.yaml');
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'torchvision-names.json'), 'utf8')) as {
  classes: number;
  models: Record<'v1' | 'v2' | 'mobilenet_v3_large', Array<[string, number[]]>>;
};

/** torchvision's three FPN models as Lumen configs (the model section; names and shapes only). */
const TORCHVISION: Record<keyof typeof fixture.models, string[]> = {
  v1: ['model.backbone.name=resnet50', 'model.backbone.fpn={levels: [layer1, layer2, layer3, layer4]}', 'model.anchors.sizes=[[32], [64], [128], [256], [512]]'],
  v2: [
    'model.backbone.name=resnet50',
    'model.backbone.batchNorm=trainable',
    'model.backbone.fpn={levels: [layer1, layer2, layer3, layer4], norm: batch}',
    'model.anchors.sizes=[[32], [64], [128], [256], [512]]',
    'model.rpn.convDepth=2',
    'model.rcnn.head=conv-fc',
  ],
  mobilenet_v3_large: ['model.backbone.name=mobilenet_v3_large', 'model.backbone.bnEps=0.00001', "model.backbone.fpn={levels: ['features.13', 'features.16']}"],
};
const config = (overrides: string[]): Config => loadConfig(DEFAULTS, { overrides: ['model.backbone.weights=null', 'model.rcnn.head=mlp', 'model.roiPool.size=7', ...overrides] }).config;
const COCO = Array.from({ length: fixture.classes - 1 }, (_, i) => `class${i + 1}`);

describe('torchParamMap', () => {
  it.each(Object.keys(TORCHVISION) as Array<keyof typeof fixture.models>)("%s: every tensor of torchvision's state dict, once, with its shape", (model) => {
    const map = torchParamMap(config(TORCHVISION[model]), COCO);
    const current = map.map((p): [string, number[]] => [p.torchNames[0], p.torchShape]);
    expect(new Map(current)).toEqual(new Map(fixture.models[model]));
    expect(current).toHaveLength(fixture.models[model].length);
  });

  it("gives the older name of files written before torchvision 0.13 (fasterrcnn_resnet50_fpn's COCO weights)", () => {
    const byName = new Map(torchParamMap(config(TORCHVISION.v1), COCO).map((p) => [p.name, p.torchNames]));
    expect(byName.get('fpn.inner_blocks.0.kernel')).toEqual(['backbone.fpn.inner_blocks.0.0.weight', 'backbone.fpn.inner_blocks.0.weight']);
    expect(byName.get('rpn.head.conv.bias')).toEqual(['rpn.head.conv.0.0.bias', 'rpn.head.conv.bias']);
    expect(byName.get('backbone.layer1.0.conv1.kernel')).toEqual(['backbone.body.layer1.0.conv1.weight']);
    expect(byName.get('roi_heads.box_head.fc6.kernel')).toEqual(['roi_heads.box_head.fc6.weight']);
  });

  it.each([
    ['resnet18 + FPN, mlp', ['model.backbone.name=resnet18', 'model.backbone.width=0.125', 'model.backbone.fpn={levels: [layer2, layer3, layer4], outChannels: 16}', 'model.anchors.sizes=[[16], [32], [64], [128]]']],
    ['mobilenet_v3_large + FPN (BN), conv-fc', ['model.backbone.name=mobilenet_v3_large', 'model.backbone.width=0.25', "model.backbone.fpn={levels: ['features.13', 'features.16'], outChannels: 16, norm: batch}", 'model.rpn.convDepth=2', 'model.rcnn.head=conv-fc', 'model.rcnn.convChannels=8']],
  ])('%s: names and shapes every param of the detector, in its order', (_, overrides) => {
    const c = config([...overrides, 'model.rcnn.hidden=16']);
    const params = initDetector(buildDetector(c, ['a', 'b']), seededRandom(0));
    expect(torchParamMap(c, ['a', 'b']).map((p) => [p.name, p.shape])).toEqual(flattenParams(params).map(([name, v]) => [name, v.shape]));
    disposeParams(params);
  });

  it("converts torch's layouts: fc6's columns from torch's NCHW flatten, conv kernels OIHW -> HWIO", () => {
    const map = torchParamMap(config([...TORCHVISION.v1, 'model.backbone.fpn.outChannels=2', 'model.rcnn.hidden=3']), ['a']);
    const fc6 = map.find((p) => p.name === 'roi_heads.box_head.fc6.kernel');
    expect(fc6).toMatchObject({ kind: 'linear', shape: [2 * 49, 3], torchShape: [3, 2 * 49], flattenFrom: [2, 7, 7] });
    // torch's weight[o][c·49 + y·7 + x] = 1000·o + 100·c + y·7 + x  ->  Lumen's kernel[(y·7 + x)·2 + c][o].
    const torch = Float32Array.from({ length: 3 * 98 }, (_, i) => 1000 * Math.floor(i / 98) + 100 * Math.floor((i % 98) / 49) + (i % 49));
    const lumen = torchToLumen(fc6!, torch);
    expect(lumen[((3 * 7 + 4) * 2 + 1) * 3 + 2]).toBe(2000 + 100 + 3 * 7 + 4);
    const lateral = map.find((p) => p.name === 'fpn.inner_blocks.3.kernel');
    expect(lateral).toMatchObject({ kind: 'conv', shape: [1, 1, 2048, 2], torchShape: [2, 2048, 1, 1] });
  });

  it('is for models with a feature pyramid: torchvision has no single-map one', () => {
    expect(() => torchParamMap(config([]), ['a'])).toThrow(/^model\.backbone\.fpn: torchvision's Faster R-CNN models have a feature pyramid/);
  });
});
