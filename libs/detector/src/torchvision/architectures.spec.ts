import { ConfigError } from '@lumen/config';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkModelConfig } from '../components';
import { architectureConfig, TORCHVISION_ARCHITECTURES } from './architectures';

// The configs of imported models against the settings torchvision's builders give FasterRCNN
// (tools/fixtures/detector_parity_fixtures.py records them from the builders themselves).

interface BuilderSettings {
  min_size: number[];
  max_size: number;
  image_mean: number[];
  image_std: number[];
  size_divisible: number;
  anchor_sizes: number[][];
  aspect_ratios: number[][];
  rpn_pre_nms_top_n: { training: number; testing: number };
  rpn_post_nms_top_n: { training: number; testing: number };
  rpn_nms_thresh: number;
  rpn_score_thresh: number;
  rpn_min_size: number;
  rpn_fg_iou_thresh: number;
  rpn_bg_iou_thresh: number;
  rpn_batch_size_per_image: number;
  rpn_positive_fraction: number;
  box_featmap_names: string[];
  box_output_size: number[];
  box_sampling_ratio: number;
  box_score_thresh: number;
  box_nms_thresh: number;
  box_detections_per_img: number;
  bbox_reg_weights: number[];
  box_fg_iou_thresh: number;
  box_bg_iou_thresh: number;
  box_batch_size_per_image: number;
  box_positive_fraction: number;
}

const MANIFEST = join(__dirname, '..', 'fixtures', 'torchvision-detectors', 'manifest.json');
const builders: Record<string, BuilderSettings> = JSON.parse(readFileSync(MANIFEST, 'utf8')).builders;

/** A config's anchor list per map: a flat list is used on every map. */
const perMap = (list: number[] | number[][], maps: number): number[][] => (list.every((v) => typeof v === 'number') ? Array.from({ length: maps }, () => list as number[]) : (list as number[][]));

describe('architectureConfig', () => {
  it('covers every builder the fixtures record', () => {
    expect([...TORCHVISION_ARCHITECTURES].sort()).toEqual(Object.keys(builders).sort());
  });

  it.each(TORCHVISION_ARCHITECTURES.map((a) => [a]))("%s: the builder's sizes, anchors, RPN, pooling and detection settings", (arch) => {
    const tv = builders[arch];
    const config = architectureConfig(arch);
    const { model } = config;
    expect(config.data.image).toEqual({ minSize: tv.min_size[tv.min_size.length - 1], maxSize: tv.max_size, resize: 'torchvision' });
    expect(model.transform).toEqual({ mean: tv.image_mean, std: tv.image_std, sizeDivisible: tv.size_divisible, localContrast: null });
    const maps = tv.anchor_sizes.length;
    expect(perMap(model.anchors.sizes, maps)).toEqual(tv.anchor_sizes);
    expect(perMap(model.anchors.ratios, maps)).toEqual(tv.aspect_ratios);
    expect(model.rpn).toMatchObject({
      objectness: 'sigmoid',
      preNmsTopN: { train: tv.rpn_pre_nms_top_n.training, test: tv.rpn_pre_nms_top_n.testing },
      postNmsTopN: { train: tv.rpn_post_nms_top_n.training, test: tv.rpn_post_nms_top_n.testing },
      nmsThresh: tv.rpn_nms_thresh,
      scoreThresh: tv.rpn_score_thresh,
      minSize: tv.rpn_min_size,
      fgIouThresh: tv.rpn_fg_iou_thresh,
      bgIouThresh: tv.rpn_bg_iou_thresh,
      batchSizePerImage: tv.rpn_batch_size_per_image,
      positiveFraction: tv.rpn_positive_fraction,
    });
    expect(model.roiPool).toEqual({ mode: 'align', size: tv.box_output_size[0], samplingRatio: tv.box_sampling_ratio, aligned: false });
    expect(model.rcnn).toMatchObject({
      scoreThresh: tv.box_score_thresh,
      nmsThresh: tv.box_nms_thresh,
      detectionsPerImage: tv.box_detections_per_img,
      boxWeights: tv.bbox_reg_weights,
      fgIouThresh: tv.box_fg_iou_thresh,
      bgIouThresh: tv.box_bg_iou_thresh,
      batchSizePerImage: tv.box_batch_size_per_image,
      positiveFraction: tv.box_positive_fraction,
    });
    // The RPN reads every pyramid map, RoIs pool from the levels torchvision's pooler finds.
    expect(model.backbone.fpn).not.toBeNull();
    expect(() => checkModelConfig(config)).not.toThrow();
  });

  it('sets the batch norm of a build that loads weights: frozen, eps 0 for the COCO_V1 file of fasterrcnn_resnet50_fpn, 1e-5 for MobileNetV3', () => {
    expect(architectureConfig('fasterrcnn_resnet50_fpn').model.backbone).toMatchObject({ batchNorm: 'frozen', bnEps: 0, freezeAt: 2 });
    expect(architectureConfig('fasterrcnn_resnet50_fpn_v2').model).toMatchObject({ backbone: { batchNorm: 'trainable', fpn: { norm: 'batch' } }, rpn: { convDepth: 2 }, rcnn: { head: 'conv-fc' } });
    expect(architectureConfig('fasterrcnn_mobilenet_v3_large_fpn').model.backbone).toMatchObject({ batchNorm: 'frozen', bnEps: 1e-5, freezeAt: 3 });
  });

  it('applies --set overrides last, checked like any config', () => {
    expect(architectureConfig('fasterrcnn_resnet50_fpn', ['model.backbone.fpn.outChannels=16']).model.backbone.fpn).toEqual({
      levels: ['layer1', 'layer2', 'layer3', 'layer4'],
      outChannels: 16,
      norm: 'none',
      extra: 'maxpool',
    });
    expect(() => architectureConfig('fasterrcnn_resnet50_fpn', ['model.rcnn.hidden=wide'])).toThrow(/with --set model\.rcnn\.hidden=wide is not valid:\n {2}model\.rcnn\.hidden: expected number/);
  });

  it('names the architectures it knows when given another', () => {
    expect(() => architectureConfig('fasterrcnn_resnet101_fpn')).toThrow(ConfigError);
    expect(() => architectureConfig('fasterrcnn_resnet101_fpn')).toThrow(
      "unknown architecture 'fasterrcnn_resnet101_fpn': expected one of fasterrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn_v2, fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_mobilenet_v3_large_320_fpn",
    );
  });
});
