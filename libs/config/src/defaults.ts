import type { Config } from './schema';

/**
 * The one source of Lumen's defaults. Every value is torchvision's Faster R-CNN (C4, one
 * feature map) unless its comment says otherwise; named configs in `configs/*.yaml` hold only
 * their differences from this.
 */
/**
 * The keys of `model.backbone.fpn` an object may leave out: torchvision's
 * fasterrcnn_resnet50_fpn (v2: norm 'batch').
 */
export const FPN_DEFAULTS = {
  /** Channels of every pyramid level (the RPN's and the box head's input). */
  outChannels: 256,
  /** 'none' (conv with bias, v1) or 'batch' (conv + BatchNorm2d, trained with batch statistics, v2). */
  norm: 'none',
  /** 'maxpool' (LastLevelMaxPool: a 'pool' level at twice the last stride, read by the RPN only) or 'none'. */
  extra: 'maxpool',
} as const;

export const DEFAULTS: Config = {
  model: {
    /**
     * A checkpoint folder to fine-tune from (as `lumen train --init`, which overrides it): the
     * run takes its model and image sizes, then starts from its weights; with other classes its
     * box predictor starts afresh. null starts from `backbone.weights` or from scratch.
     */
    init: null,
    backbone: {
      /** resnet18 | resnet34 | resnet50 | resnet101 | vgg16 | mobilenet_v2 (@lumen/backbone). */
      name: 'resnet50',
      /**
       * ImageNet weights as .safetensors with torchvision/timm names (see the README for
       * converting a torchvision .pth). null trains from scratch.
       */
      weights: null,
      /** 'frozen' (torchvision's FrozenBatchNorm2d) or 'trainable' (batch statistics). */
      batchNorm: 'frozen',
      /** Detectron's FREEZE_AT: stem + first (k-1) stages get no gradient. torchvision trains 3 of 5 ResNet stages. */
      freezeAt: 2,
      /** Stride of the tail's first block (ResNet layer4): 2 as in the C4 design. */
      tailStride: 2,
      /** Channel multiplier; 1 for pretrained weights. Small widths train quickly from scratch. */
      width: 1,
      /** Dropout in VGG's fc6/fc7 while training. */
      dropout: 0,
      /**
       * BatchNorm eps; null = the architecture's own (1e-5; mobilenet_v3_large 1e-3, its
       * classifier's). torchvision's detection models: 1e-5 for MobileNetV3-FPN, 0 for
       * fasterrcnn_resnet50_fpn's COCO weights.
       */
      bnEps: null,
      /**
       * A feature pyramid (torchvision's FeaturePyramidNetwork) over backbone levels, or null for
       * the C4 design (one stride-16 map). An object names `levels` (@lumen/backbone's
       * `featureLevels`, finest first: ResNet 'layer1'…'layer4', mobilenet_v3_large
       * 'features.13', 'features.16'); `FPN_DEFAULTS` fills the keys it leaves out. With a
       * pyramid, RoIs are pooled by multi-scale RoIAlign (`roiPool.size`, `samplingRatio`) from
       * every level but 'pool', and the box head is 'mlp' or 'conv-fc'.
       */
      fpn: null,
    },
    /** torchvision GeneralizedRCNNTransform: ImageNet normalisation, pad to a multiple of 32. */
    transform: {
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      sizeDivisible: 32,
      /**
       * Not torchvision's: { radius, floor } normalises each value by its neighbourhood instead
       * of by mean/std (which it then does not use): minus the mean of its channel over a
       * (2 radius + 1)² px window, over sqrt(window variance + floor²), the floor in [0, 1]
       * units. Low-contrast objects then look like high-contrast ones. null: mean/std.
       */
      localContrast: null,
    },
    /**
     * torchvision's single-map example (AnchorGenerator((32..512,), ((0.5, 1, 2),))): 15 per
     * location. Either key may be a list of lists, one per map the RPN reads (with a pyramid:
     * its levels, 'pool' included); a flat list is used on every map. Every map needs the same
     * number of anchors per location (one head). R50-FPN: sizes [[32], [64], [128], [256], [512]];
     * MobileNetV3-FPN: sizes [32, 64, 128, 256, 512] on its 3 maps; both ratios [0.5, 1, 2].
     */
    anchors: {
      sizes: [32, 64, 128, 256, 512],
      ratios: [0.5, 1, 2],
    },
    rpn: {
      /** 'sigmoid' (A logits, torchvision) or 'softmax' (2A logits, original paper / Luminoth). */
      objectness: 'sigmoid',
      /** 3x3 conv + ReLU layers before the 1x1 predictors: 1 (RPNHead), 2 (fasterrcnn_resnet50_fpn_v2). */
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
    roiPool: {
      /** 'align' (torchvision RoIAlign) or 'crop' (Luminoth: crop-and-resize 2x, 2x2 max-pool). */
      mode: 'align',
      /** Output side of a pooled RoI: 7 for the 'mlp' and 'vgg-fc' heads, 14 before a ResNet tail. */
      size: 7,
      samplingRatio: 2,
      aligned: false,
    },
    rcnn: {
      /**
       * 'mlp' (TwoMLPHead), 'conv-fc' (FastRCNNConvFCHead of fasterrcnn_resnet50_fpn_v2: four
       * 3x3 conv + BatchNorm2d + ReLU, one fc), 'resnet-tail' (backbone tail, C4) or 'vgg-fc' (fc6/fc7).
       */
      head: 'mlp',
      /** Width of the 'mlp' head's two layers and of the 'conv-fc' head's fc. */
      hidden: 1024,
      /** Channels of the 'conv-fc' head's four convolutions. */
      convChannels: 256,
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
  data: {
    dataset: {
      /** 'digits' (embedded, generated on first use), 'voc', 'coco' or 'csv'. */
      type: 'digits',
      dir: 'data/digits',
      /**
       * The dataset's name of each split. train, val and test are required; other keys name more
       * splits to evaluate (`lumen eval --split <key>`, eval.finalSplits): configs/digits.yaml
       * adds `shift: shift`. Classes are discovered from train, val and test only.
       */
      splits: { train: 'train', val: 'val', test: 'test' },
      /** Explicit class list (labels 1..N in this order); discovered from the data when absent. */
      classes: null,
      /**
       * How many images the digits generator writes per split (it reads nothing else). `shift`:
       * images of a second, independent generator (other canvases, inks, poses, blur, noise,
       * JPEG qualities; test glyphs), for evaluation only; 0 for none.
       */
      digits: { seed: 2024, train: 3000, val: 300, test: 300, shift: 300 },
    },
    /**
     * Resize so the short side is minSize unless the long side would exceed maxSize (torchvision
     * 800/1333). `resize` is who does it: 'sharp' (libvips' bilinear on the decoded bytes:
     * fast, slightly different pixels) or 'torchvision' (sharp decodes the original pixels, then
     * torch's F.interpolate bilinear on [0, 1] floats with torchvision's float32 scale, bit for
     * bit: run torchvision's pretrained detectors with it; predicted boxes are mapped back
     * per axis either way).
     */
    image: { minSize: 800, maxSize: 1333, resize: 'sharp' },
    /** torchvision's detection references train with a horizontal flip only. */
    augment: {
      flip: 0.5,
      scaleJitter: { prob: 0, minSizes: [] },
      photometric: { prob: 0, brightness: 0.125, contrast: 0.5, saturation: 0.5, hue: 0.05 },
      crop: { prob: 0, minScale: 0.3, minBoxVisible: 0.5 },
      // Not in torchvision's references (probability 0). Drawn after the keys above, in this
      // order; applied geometry first, then colour, blur, noise, JPEG last (@lumen/data's augment.ts).
      /**
       * Rotation by a uniform angle in [-degrees, degrees] about the centre, the size kept (corners: the image's mean
       * colour); a box becomes the box of its rotated corners (`boxes: corners`, torchvision v2's rule: it holds the
       * whole object but grows with the angle) or of its inscribed ellipse rotated (`ellipse`: tighter, for rounded
       * objects), dropped when < minBoxVisible of that stays inside.
       */
      rotate: { prob: 0, degrees: 10, minBoxVisible: 0.5, boxes: 'corners' },
      /** ITU-R 601 grey on all three channels. */
      grayscale: { prob: 0 },
      /** A random permutation of RGB other than the identity. */
      channelShuffle: { prob: 0 },
      /** 255 - v. */
      invert: { prob: 0 },
      /** Gaussian blur, sigma in pixels uniform in [min, max] (sharp's minimum: 0.3). */
      blur: { prob: 0, sigma: [0.3, 1.5] },
      /** Gaussian noise per pixel and channel, sigma in 0-255 units uniform in [min, max], clamped. */
      noise: { prob: 0, sigma: [3, 10] },
      /** JPEG re-compression at an integer quality uniform in [min, max]. */
      jpeg: { prob: 0, quality: [40, 95] },
      /**
       * Stripes (or, half the time, checks) at any angle in one random colour over the whole
       * image, period in pixels and opacity uniform in [min, max]: busy, high-contrast
       * surroundings (fabric, tiles, print) the objects must be told from. Applied after the
       * blur, before noise and JPEG.
       */
      pattern: { prob: 0, period: [4, 40], alpha: [0.2, 0.6] },
    },
    /** Images decoded at once, and decoded examples held ahead of the training step. */
    loader: { concurrency: 2, prefetch: 4, shuffle: true },
  },
  train: {
    seed: 0,
    /** Images per step (padded to one size). */
    batchSize: 2,
    /** Total optimizer steps. */
    steps: 26000,
    optimizer: {
      /** 'sgd' (momentum, torchvision's references) or 'adam'. */
      type: 'sgd',
      lr: 0.02,
      momentum: 0.9,
      weightDecay: 1e-4,
      /** Adam's betas and epsilon. */
      betas: [0.9, 0.999],
      epsilon: 1e-8,
    },
    schedule: {
      /** 'step' (multiply by gamma at each milestone), 'cosine' (to 0 at the last step) or 'constant'. */
      type: 'step',
      milestones: [16000, 22000],
      gamma: 0.1,
      /** Linear warm-up from lr * warmupFactor over warmupSteps (torchvision: 1/1000, 1000). */
      warmupSteps: 1000,
      warmupFactor: 0.001,
    },
    /** Clip the global gradient norm to this; null = no clipping. */
    clipGradNorm: null,
    /** Checkpoint every N steps (and at the end); keep the last K plus the best by mAP. */
    checkpointEvery: 2000,
    keepCheckpoints: 3,
    /** Evaluate on the val split every N steps (0 = only at the end). */
    evalEvery: 2000,
    /** Log (metrics.jsonl, plain-log lines) every N steps. */
    logEvery: 20,
    /**
     * When a run has diverged. A bad step has a non-finite loss (its update is skipped) or a
     * loss over explosionFactor x the median of the recent healthy losses (a warning; null
     * turns this check off). maxBadSteps bad steps in a row stop the run with an error naming
     * the last good checkpoint, which is kept: no checkpoint is written during a bad streak.
     */
    divergence: { maxBadSteps: 10, explosionFactor: 100 },
  },
  eval: {
    /** 'voc' (area AP at IoU 0.5, VOC2010+), 'voc07' (11-point) or 'coco' (AP@[.5:.95]). */
    metric: 'voc',
    /** Cap on images evaluated during training (null = the whole split). */
    maxImages: null,
    /**
     * Splits evaluated in full on the last checkpoint when training ends: the table is printed
     * and eval-<split>.json written beside the checkpoint, as `lumen eval` does. Empty by
     * default (VOC2007's test split takes hours on a CPU); digits names `test` and `shift`. Any
     * key of data.dataset.splits.
     */
    finalSplits: [],
  },
};
