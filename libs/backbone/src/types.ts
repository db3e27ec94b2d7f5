import type { ParamTree, Rng } from '@lumen/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';

/**
 * 'frozen': running statistics and affine fixed (not trainable), folded into the conv
 * kernel and bias. 'trainable': affine trainable; in training, batch statistics normalise
 * and the running averages are updated (momentum 0.1, as torch).
 */
export type BatchNormMode = 'frozen' | 'trainable';

export interface BackboneOptions {
  /** Default 'frozen'. */
  batchNorm: BatchNormMode;
  /**
   * Detectron's FREEZE_AT: the first `freezeAt` stages (`Backbone.stages`) get
   * `trainable === false` — no gradient, no optimizer slot — and run as a stop-gradient
   * (outside the tape: no activations kept). 0 (the default) freezes nothing.
   * torchvision's FPN extractors freeze all but `trainable_backbone_layers` t stages: that is
   * freezeAt 5 - t for ResNet and 6 - t for MobileNetV3 (MobileNetV2: README).
   */
  freezeAt: number;
  /** First stride of the tail (ResNet layer4, MobileNetV2 features.14, MobileNetV3 features.13); default 2. VGG has none. */
  tailStride?: 1 | 2;
  /**
   * Channel multiplier, default 1. ResNet and VGG: every width scaled and rounded to a
   * multiple of 8, at least 8; MobileNetV2: torchvision's `width_mult` (`_make_divisible`).
   */
  width?: number;
  /** VGG fc6/fc7 dropout rate in training, default 0. */
  dropout?: number;
  /**
   * BatchNorm eps. Unset: the architecture's own, torchvision's for the model (1e-5;
   * MobileNetV3 1e-3). torchvision's detection builders differ from their classifiers:
   * their MobileNetV3 uses eps 1e-5, and fasterrcnn_resnet50_fpn's COCO weights need 0.
   */
  bnEps?: number;
  /** BatchNorm momentum of the running averages in training. Unset: the architecture's own (0.1; MobileNetV3 0.01). */
  bnMomentum?: number;
}

/** What every function accepts: any subset of the options, the rest defaulted. */
export type BackboneOptionsInput = Partial<BackboneOptions>;

/** The BatchNorm constants: when unset, each backbone uses its own. */
type BatchNormConstant = 'bnEps' | 'bnMomentum';

/** Options with every default filled in, except the BatchNorm constants (unset: the backbone's own). */
export type ResolvedBackboneOptions = Required<Omit<BackboneOptions, BatchNormConstant>> & Pick<BackboneOptions, BatchNormConstant>;

/**
 * Parameters: a @lumen/core ParamTree, whose dotted paths are the checkpoint names
 * (`layer1.0.conv1.kernel`).
 */
export type BackboneParams = ParamTree;

export interface ForwardContext {
  /** Training: trainable BN uses batch statistics (and updates its running averages), dropout drops. */
  training: boolean;
  /** Draws the dropout masks; required only when dropout is active. */
  rng?: Rng;
}

/**
 * How a parameter is stored and converted. Lumen layouts: conv kernels HWIO
 * [kh, kw, in, out]; depthwise kernels [kh, kw, channels, 1]; linear kernels [in, out].
 */
export type ParamKind = 'conv' | 'depthwise' | 'linear' | 'bias' | 'bn-weight' | 'bn-bias' | 'bn-mean' | 'bn-var';

/** Initial values: torchvision's initialisation of each parameter. */
export type ParamInit = { type: 'normal'; std: number } | { type: 'constant'; value: number };

/** One parameter of a backbone: its name, shape and layout, and the torchvision tensor it comes from. */
export interface ParamSpec {
  /** Lumen's dotted name (the checkpoint name): `layer1.0.conv1.kernel`. */
  name: string;
  /** Shape in Lumen's layout. */
  shape: number[];
  kind: ParamKind;
  /** 1-based index into `Backbone.stages`: frozen when `stage <= freezeAt`. */
  stage: number;
  /** torchvision's state-dict name: `layer1.0.conv1.weight`. */
  torchName: string;
  /** Linear layers fed by a flattened map: torch flattens it as [C, H, W], Lumen as [H, W, C]. */
  flattenFrom?: [channels: number, height: number, width: number];
  init: ParamInit;
}

export type TailKind = 'conv' | 'fc';

/** A layer `Backbone.features` can return: torchvision's module name, its output stride and channels. */
export interface FeatureLevel {
  /** The module path: `layer1` (ResNet), `features.13` (MobileNet). */
  name: string;
  stride: number;
  channels: number;
}

/** A backbone: pure functions plus what a detector needs to know about it. */
export interface Backbone {
  readonly name: string;
  /** The body's output stride: 16 for every backbone here. */
  readonly bodyStride: 16;
  /** The units of `freezeAt`, in order (stage 1 first). */
  readonly stages: readonly string[];
  /** Channels of the body's output (depends on `width`). */
  bodyChannels(options?: BackboneOptionsInput): number;
  /** Length of the tail's output vector (depends on `width`). */
  tailChannels(options?: BackboneOptionsInput): number;
  /**
   * What the tail is, so a detector can pair it with a box head: 'conv', convolutional stages
   * averaged over each RoI (ResNet's layer4, MobileNetV2's last blocks: the C4 design);
   * 'fc', fully connected layers over the flattened RoI (VGG's fc6/fc7).
   */
  readonly tailKind: TailKind;
  /** The pooled RoI size the tail requires (VGG's fc6: 7), or null when it takes any. */
  readonly tailRoiSize: number | null;
  /**
   * The body's output [height, width] for an input of height x width: torchvision's
   * arithmetic (floor((size + 2·pad - kernel) / stride) + 1 per strided layer). An input
   * too small for the network (a size would drop below 1) is an error.
   */
  bodySize(height: number, width: number): [number, number];
  /** Every parameter, in forward order. */
  paramSpecs(options?: BackboneOptionsInput): ParamSpec[];
  /** Fresh parameters with torchvision's initialisation, drawn from `rng`. */
  init(options: BackboneOptionsInput, rng: Rng): BackboneParams;
  /** NHWC normalised images [N, H, W, 3] -> the stride-16 feature map [N, ceil-ish(H/16), …, bodyChannels]. */
  body(params: BackboneParams, images: Tensor4D, ctx: ForwardContext): Tensor4D;
  /** Pooled RoI features [R, h, w, bodyChannels] -> [R, tailChannels]. */
  tail(params: BackboneParams, pooled: Tensor4D, ctx: ForwardContext): Tensor2D;
  /**
   * The layers `features` can return, in forward order (for a feature pyramid): ResNet
   * layer1 … layer4; MobileNet the stage outputs of torchvision's `_mobilenet_extractor`.
   * Levels past the body exist only with `tailStride` 2, where the trunk is the
   * classifier's. VGG has none.
   */
  featureLevels(options?: BackboneOptionsInput): FeatureLevel[];
  /**
   * NHWC normalised images -> the outputs of the named levels, in the order asked, running
   * the trunk as the classifier does up to the deepest one named (nothing further).
   */
  features(params: BackboneParams, images: Tensor4D, names: readonly string[], ctx: ForwardContext): Tensor4D[];
}
