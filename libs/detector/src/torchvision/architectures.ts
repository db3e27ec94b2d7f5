import { ConfigError, DEFAULTS, mergeConfig, parseOverride, validateConfig, type Config } from '@lumen/config';

// torchvision's Faster R-CNN builders (torchvision/models/detection/faster_rcnn.py, 0.14) as
// Lumen configs: what a checkpoint imported from one of their files must run with. Every
// setting torchvision's FasterRCNN has is written out, not left to Lumen's DEFAULTS, so the
// import does not change if those do.

/** The names of torchvision's builders, the `--arch` of `lumen checkpoint import`. */
export const TORCHVISION_ARCHITECTURES = [
  'fasterrcnn_resnet50_fpn',
  'fasterrcnn_resnet50_fpn_v2',
  'fasterrcnn_mobilenet_v3_large_fpn',
  'fasterrcnn_mobilenet_v3_large_320_fpn',
] as const;
export type TorchvisionArchitecture = (typeof TORCHVISION_ARCHITECTURES)[number];

type Tree = Record<string, unknown>;

/** FasterRCNN's defaults (its __init__), shared by every builder unless it passes its own. */
const FASTER_RCNN: Tree = {
  model: {
    transform: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], sizeDivisible: 32, localContrast: null },
    rpn: {
      objectness: 'sigmoid',
      convDepth: 1,
      preNmsTopN: { train: 2000, test: 1000 },
      postNmsTopN: { train: 2000, test: 1000 },
      nmsThresh: 0.7,
      fgIouThresh: 0.7,
      bgIouThresh: 0.3,
      batchSizePerImage: 256,
      positiveFraction: 0.5,
      minSize: 1e-3,
      scoreThresh: 0,
    },
    // MultiScaleRoIAlign(['0', '1', '2', '3'], 7, sampling_ratio=2), aligned=False.
    roiPool: { mode: 'align', size: 7, samplingRatio: 2, aligned: false },
    rcnn: {
      head: 'mlp',
      hidden: 1024,
      fgIouThresh: 0.5,
      bgIouThresh: 0.5,
      batchSizePerImage: 512,
      positiveFraction: 0.25,
      boxWeights: [10, 10, 5, 5],
      scoreThresh: 0.05,
      nmsThresh: 0.5,
      detectionsPerImage: 100,
      minSize: 1e-2,
    },
  },
  // GeneralizedRCNNTransform(800, 1333): torch's bilinear resize, so the pixels are its own.
  data: { image: { minSize: 800, maxSize: 1333, resize: 'torchvision' } },
};

/** _resnet_fpn_extractor: an FPN (256 channels, LastLevelMaxPool) over layer1…layer4; 3 trainable layers: stem + layer1 frozen. */
const RESNET50_FPN: Tree = {
  model: {
    backbone: {
      name: 'resnet50',
      weights: null,
      freezeAt: 2,
      tailStride: 2,
      width: 1,
      fpn: { levels: ['layer1', 'layer2', 'layer3', 'layer4'], outChannels: 256, norm: 'none', extra: 'maxpool' },
    },
    // _default_anchorgen: one size per level, three ratios.
    anchors: { sizes: [[32], [64], [128], [256], [512]], ratios: [0.5, 1, 2] },
  },
};

/**
 * _mobilenet_extractor: an FPN over the last two stages (features.13 and .16, both stride
 * 32); 3 of 6 stages trainable. A build that loads weights norms with FrozenBatchNorm2d (eps
 * 1e-5, not the classifier's 1e-3). Five sizes on each of the three maps.
 */
const MOBILENET_V3_FPN: Tree = {
  model: {
    backbone: {
      name: 'mobilenet_v3_large',
      weights: null,
      batchNorm: 'frozen',
      bnEps: 1e-5,
      freezeAt: 3,
      tailStride: 2,
      width: 1,
      fpn: { levels: ['features.13', 'features.16'], outChannels: 256, norm: 'none', extra: 'maxpool' },
    },
    anchors: { sizes: [32, 64, 128, 256, 512], ratios: [0.5, 1, 2] },
    rpn: { scoreThresh: 0.05 },
  },
};

const DIFFERENCES: Record<TorchvisionArchitecture, Tree[]> = {
  // A build that loads weights norms with FrozenBatchNorm2d, and COCO_V1's file needs eps 0 (overwrite_eps).
  fasterrcnn_resnet50_fpn: [RESNET50_FPN, { model: { backbone: { batchNorm: 'frozen', bnEps: 0 } } }],
  // BatchNorm2d everywhere (trained with batch statistics, as torchvision fine-tunes it), FPN
  // with norm, two RPN convs, FastRCNNConvFCHead((256, 7, 7), [256] * 4, [1024]).
  fasterrcnn_resnet50_fpn_v2: [
    RESNET50_FPN,
    {
      model: {
        backbone: { batchNorm: 'trainable', bnEps: 1e-5, fpn: { norm: 'batch' } },
        rpn: { convDepth: 2 },
        rcnn: { head: 'conv-fc', convChannels: 256, hidden: 1024 },
      },
    },
  ],
  fasterrcnn_mobilenet_v3_large_fpn: [MOBILENET_V3_FPN],
  fasterrcnn_mobilenet_v3_large_320_fpn: [
    MOBILENET_V3_FPN,
    { model: { rpn: { preNmsTopN: { test: 150 }, postNmsTopN: { test: 150 } } }, data: { image: { minSize: 320, maxSize: 640 } } },
  ],
};

export function isTorchvisionArchitecture(name: string): name is TorchvisionArchitecture {
  return (TORCHVISION_ARCHITECTURES as readonly string[]).includes(name);
}

/**
 * The config of a model torchvision's `arch` builder makes: Lumen's defaults under
 * FasterRCNN's settings and the builder's, then `overrides` (`--set a.b=c`: the sizes of a
 * narrower model, a threshold), validated. A ConfigError names an unknown architecture or a
 * bad override.
 */
export function architectureConfig(arch: string, overrides: readonly string[] = []): Config {
  if (!isTorchvisionArchitecture(arch)) {
    throw new ConfigError(`unknown architecture '${arch}': expected one of ${TORCHVISION_ARCHITECTURES.join(', ')}`);
  }
  let tree = mergeConfig(DEFAULTS as unknown as Tree, FASTER_RCNN);
  for (const layer of DIFFERENCES[arch]) tree = mergeConfig(tree, layer);
  for (const override of overrides) tree = mergeConfig(tree, parseOverride(override));
  const source = `torchvision's ${arch}${overrides.length > 0 ? ` with --set ${overrides.join(' ')}` : ''}`;
  return validateConfig(tree, source);
}
