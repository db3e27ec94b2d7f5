import { z } from 'zod';
import { FPN_DEFAULTS } from './defaults';

// The shape of a resolved config. Every object is strict: an unknown key is an error naming it
// (a typo must not silently fall back to a default). Defaults live in defaults.ts.

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const probability = z.number().min(0).max(1);
const positive = z.number().positive();
const trainTest = z.strictObject({ train: positiveInt, test: positiveInt });

// The names @lumen/backbone's registry holds (a detector spec keeps the two lists equal): the
// schema rejects a typo before a backend starts or a dataset is read.
export const BACKBONES = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'vgg16', 'mobilenet_v2', 'mobilenet_v3_large'] as const;
export const BACKBONE_BATCH_NORM = ['frozen', 'trainable'] as const;
export const OBJECTNESS_MODES = ['sigmoid', 'softmax'] as const;
export const ROI_POOL_MODES = ['align', 'crop'] as const;
export const BOX_HEADS = ['mlp', 'conv-fc', 'resnet-tail', 'vgg-fc'] as const;
export const FPN_NORMS = ['none', 'batch'] as const;
export const FPN_EXTRA_BLOCKS = ['maxpool', 'none'] as const;
export const DATASET_TYPES = ['digits', 'voc', 'coco', 'csv'] as const;
export const OPTIMIZERS = ['sgd', 'adam'] as const;
export const SCHEDULES = ['step', 'cosine', 'constant'] as const;
export const METRICS = ['voc', 'voc07', 'coco'] as const;
/** The splits every data.dataset.splits names; it may name more (digits: `shift`), for evaluation. */
export const SPLIT_NAMES = ['train', 'val', 'test'] as const;
/** A split's key in data.dataset.splits: it names files (`eval-<split>.json`) and `lumen eval --split`. */
export const SPLIT_KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;

const unique = (values: readonly unknown[]) => new Set(values).size === values.length;
/** A `[min, max]` pair of `item`s, min <= max. */
const range = (item: z.ZodNumber) => z.tuple([item, item]).refine(([min, max]) => min <= max, 'must be [min, max] with min <= max');

/** Omitted keys take `FPN_DEFAULTS`; the level names are checked against the backbone by the detector. */
export const fpnSchema = z.strictObject({
  levels: z.array(z.string().min(1)).min(1).refine(unique, 'must not name a level twice'),
  outChannels: positiveInt.default(FPN_DEFAULTS.outChannels),
  norm: z.enum(FPN_NORMS).default(FPN_DEFAULTS.norm),
  extra: z.enum(FPN_EXTRA_BLOCKS).default(FPN_DEFAULTS.extra),
});

/** One list for every map, or one list per map (checked against the map count by the detector). */
const perMap = (what: string) =>
  z.union([z.array(positive).min(1), z.array(z.array(positive).min(1)).min(1)], { error: `must be a list of ${what}, or one such list per feature map` });

export const backboneSchema = z.strictObject({
  name: z.enum(BACKBONES),
  weights: z.string().min(1).nullable(),
  batchNorm: z.enum(BACKBONE_BATCH_NORM),
  freezeAt: z.number().int().min(0).max(5),
  tailStride: z.union([z.literal(1), z.literal(2)]),
  width: positive,
  dropout: z.number().min(0).max(1).lt(1),
  bnEps: z.number().nonnegative().nullable(),
  fpn: fpnSchema.nullable(),
});

export const modelSchema = z.strictObject({
  init: z.string().min(1).nullable(),
  backbone: backboneSchema,
  transform: z.strictObject({
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([positive, positive, positive]),
    sizeDivisible: positiveInt,
    localContrast: z.strictObject({ radius: positiveInt, floor: positive }).nullable(),
  }),
  anchors: z.strictObject({
    sizes: perMap('sizes'),
    ratios: perMap('ratios'),
  }),
  rpn: z.strictObject({
    objectness: z.enum(OBJECTNESS_MODES),
    convDepth: z.union([z.literal(1), z.literal(2)], { error: 'must be 1 or 2' }),
    preNmsTopN: trainTest,
    postNmsTopN: trainTest,
    nmsThresh: probability,
    fgIouThresh: probability,
    bgIouThresh: probability,
    batchSizePerImage: positiveInt,
    positiveFraction: probability,
    minSize: z.number().nonnegative(),
    scoreThresh: probability,
  }),
  roiPool: z.strictObject({
    mode: z.enum(ROI_POOL_MODES),
    size: positiveInt,
    samplingRatio: z.number().int(),
    aligned: z.boolean(),
  }),
  rcnn: z.strictObject({
    head: z.enum(BOX_HEADS),
    hidden: positiveInt,
    convChannels: positiveInt,
    fgIouThresh: probability,
    bgIouThresh: probability,
    batchSizePerImage: positiveInt,
    positiveFraction: probability,
    boxWeights: z.tuple([positive, positive, positive, positive]),
    scoreThresh: probability,
    nmsThresh: probability,
    detectionsPerImage: positiveInt,
    minSize: z.number().nonnegative(),
  }),
});

export const dataSchema = z.strictObject({
  dataset: z.strictObject({
    type: z.enum(DATASET_TYPES),
    dir: z.string().min(1),
    // train, val and test, and any other split names (checked in configSchema's superRefine).
    splits: z.object({ train: z.string().min(1), val: z.string().min(1), test: z.string().min(1) }).catchall(z.string().min(1)),
    classes: z.array(z.string().min(1)).min(1).nullable(),
    digits: z.strictObject({ seed: z.number().int(), train: nonNegativeInt, val: nonNegativeInt, test: nonNegativeInt, shift: nonNegativeInt }),
  }),
  image: z.strictObject({ minSize: positiveInt, maxSize: positiveInt, resize: z.enum(['sharp', 'torchvision']) }),
  augment: z.strictObject({
    flip: probability,
    scaleJitter: z.strictObject({ prob: probability, minSizes: z.array(positiveInt) }),
    photometric: z.strictObject({
      prob: probability,
      brightness: z.number().min(0).max(1),
      contrast: z.number().min(0).max(1),
      saturation: z.number().min(0).max(1),
      hue: z.number().min(0).max(0.5),
    }),
    crop: z.strictObject({ prob: probability, minScale: z.number().gt(0).max(1), minBoxVisible: probability }),
    rotate: z.strictObject({ prob: probability, degrees: z.number().min(0).max(180), minBoxVisible: probability, boxes: z.enum(['corners', 'ellipse']).default('corners') }),
    grayscale: z.strictObject({ prob: probability }),
    channelShuffle: z.strictObject({ prob: probability }),
    invert: z.strictObject({ prob: probability }),
    blur: z.strictObject({ prob: probability, sigma: range(z.number().min(0.3).max(1000)) }),
    noise: z.strictObject({ prob: probability, sigma: range(z.number().positive().max(255)) }),
    jpeg: z.strictObject({ prob: probability, quality: range(z.number().int().min(1).max(100)) }),
    pattern: z.strictObject({ prob: probability, period: range(z.number().min(2).max(10000)), alpha: range(probability) }),
  }),
  loader: z.strictObject({ concurrency: positiveInt, prefetch: positiveInt, shuffle: z.boolean() }),
});

export const trainSchema = z.strictObject({
  seed: z.number().int(),
  batchSize: positiveInt,
  steps: positiveInt,
  optimizer: z.strictObject({
    type: z.enum(OPTIMIZERS),
    lr: positive,
    momentum: z.number().min(0).lt(1),
    weightDecay: z.number().nonnegative(),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]),
    epsilon: positive,
  }),
  schedule: z.strictObject({
    type: z.enum(SCHEDULES),
    milestones: z.array(positiveInt),
    gamma: positive,
    warmupSteps: nonNegativeInt,
    warmupFactor: z.number().gt(0).max(1),
  }),
  clipGradNorm: positive.nullable(),
  checkpointEvery: positiveInt,
  keepCheckpoints: positiveInt,
  evalEvery: nonNegativeInt,
  logEvery: positiveInt,
  divergence: z.strictObject({ maxBadSteps: positiveInt, explosionFactor: z.number().gt(1).nullable() }),
});

export const evalSchema = z.strictObject({
  metric: z.enum(METRICS),
  maxImages: positiveInt.nullable(),
  // Keys of data.dataset.splits (checked in configSchema's superRefine).
  finalSplits: z.array(z.string().min(1)).refine((splits) => new Set(splits).size === splits.length, 'must not name a split twice'),
});

export const configSchema = z
  .strictObject({ model: modelSchema, data: dataSchema, train: trainSchema, eval: evalSchema })
  .superRefine((config, ctx) => {
    const { image, augment } = config.data;
    if (image.maxSize < image.minSize) {
      ctx.addIssue({ code: 'custom', path: ['data', 'image', 'maxSize'], message: `must be >= data.image.minSize (${image.minSize})` });
    }
    if (augment.scaleJitter.prob > 0 && augment.scaleJitter.minSizes.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['data', 'augment', 'scaleJitter', 'minSizes'], message: 'must list at least one size when scaleJitter.prob > 0' });
    }
    for (const [name, rule] of [['rpn', config.model.rpn], ['rcnn', config.model.rcnn]] as const) {
      if (rule.bgIouThresh > rule.fgIouThresh) {
        ctx.addIssue({ code: 'custom', path: ['model', name, 'bgIouThresh'], message: `must be <= model.${name}.fgIouThresh (${rule.fgIouThresh})` });
      }
    }
    const splits = Object.keys(config.data.dataset.splits);
    for (const key of splits) {
      if (!SPLIT_KEY.test(key)) {
        ctx.addIssue({ code: 'custom', path: ['data', 'dataset', 'splits', key], message: 'must be a split name: a letter, then letters, digits, _ or -' });
      }
    }
    config.eval.finalSplits.forEach((split, i) => {
      if (!splits.includes(split)) {
        ctx.addIssue({
          code: 'custom',
          path: ['eval', 'finalSplits', i],
          message: `must be a split data.dataset.splits names: one of ${splits.map((s) => JSON.stringify(s)).join(', ')}`,
        });
      }
    });
    const milestones = config.train.schedule.milestones;
    if (milestones.some((m, i) => i > 0 && m <= milestones[i - 1])) {
      ctx.addIssue({ code: 'custom', path: ['train', 'schedule', 'milestones'], message: 'must be strictly increasing' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ModelConfig = Config['model'];
export type BackboneConfig = ModelConfig['backbone'];
export type FpnConfig = NonNullable<BackboneConfig['fpn']>;
export type DataConfig = Config['data'];
export type TrainConfig = Config['train'];
export type EvalConfig = Config['eval'];
