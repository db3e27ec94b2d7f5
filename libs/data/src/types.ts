/** The three splits every dataset config names (classes are discovered from these). */
export type StandardSplit = 'train' | 'val' | 'test';
export const SPLITS: readonly StandardSplit[] = ['train', 'val', 'test'];
/**
 * A split of a config: a key of `dataset.splits` — train, val, test, or another the config
 * names (digits: `shift`), for evaluation.
 */
export type Split = string;

export type DatasetType = 'digits' | 'voc' | 'coco' | 'csv';

/**
 * Who resizes an image (`data.image.resize`): 'sharp' (libvips' bilinear on bytes, in the
 * decode) or 'torchvision' (sharp decodes the original pixels, then torch's `F.interpolate`
 * bilinear on [0, 1] floats with torchvision's float32 scale: how its pretrained detectors
 * see an image).
 */
export type ResizeMode = 'sharp' | 'torchvision';
export const RESIZE_MODES: readonly ResizeMode[] = ['sharp', 'torchvision'];

/**
 * What a rotated box becomes: 'corners', the box of its four rotated corners (torchvision v2's
 * RandomRotation; albumentations' 'largest_box'), which holds whatever the box held but grows
 * with the angle; 'ellipse', the box of its inscribed ellipse rotated (albumentations'
 * 'ellipse', after Kalra et al. 2021), the tighter estimate of a rounded object's own box — a
 * 14x39 box turned 7.5° is 19 px wide by its corners, 14.8 by its ellipse.
 */
export type RotatedBoxRule = 'corners' | 'ellipse';
export const ROTATED_BOX_RULES: readonly RotatedBoxRule[] = ['corners', 'ellipse'];

/** Where warnings go: one line each, naming the file (and line / annotation id). */
export type Log = (message: string) => void;

/** Image counts and seed of the generated digits dataset. */
export interface DigitsOptions {
  seed: number;
  train: number;
  val: number;
  test: number;
  /** Images of the `shift` split (the second generator, for evaluation only); absent: none. */
  shift?: number;
}

/**
 * The `data` section of a Lumen config. @lumen/config validates it and produces a
 * structurally identical type; this lib declares its own so it depends on nothing.
 */
export interface DataConfig {
  dataset: {
    type: DatasetType;
    /** Dataset root: digits `data/digits`; voc `data/VOCdevkit/VOC2007`; coco: the root with `annotations/` and `<split>/`; csv: the folder with `<split>.csv` and the images. */
    dir: string;
    /**
     * VOC/digits: `ImageSets/Main/<name>.txt`; COCO: `annotations/instances_<name>.json`; CSV:
     * `<name>.csv`. Keys beyond train/val/test name more splits (evaluation only).
     */
    splits: { train: string; val: string; test: string; [split: string]: string };
    /** Explicit class list (labels 1..N in this order); otherwise (absent or null) discovered. */
    classes?: string[] | null;
    /** Image counts for generating the digits dataset. */
    digits?: DigitsOptions;
  };
  /** The resize rule of docs/architecture.md §4, and who resizes (default 'sharp'). */
  image: { minSize: number; maxSize: number; resize?: ResizeMode };
  augment: {
    /** Probability of a horizontal flip. */
    flip: number;
    /** With probability `prob`, `minSize` is drawn uniformly from `minSizes`. */
    scaleJitter: { prob: number; minSizes: number[] };
    /** With probability `prob`: brightness/contrast/saturation factors in [1-x, 1+x], hue shift in [-hue, hue] turns. */
    photometric: { prob: number; brightness: number; contrast: number; saturation: number; hue: number };
    /** With probability `prob`, a window of each side scaled in [minScale, 1]; boxes keeping < minBoxVisible of their area are dropped. */
    crop: { prob: number; minScale: number; minBoxVisible: number };
    // The rest may be left out (probability 0): @lumen/config always gives them. augment.ts has the order.
    /**
     * With probability `prob`, a rotation by a uniform angle in [-degrees, degrees] about the centre; a box becomes the box
     * of its rotated corners or of its rotated inscribed ellipse (`boxes`, default 'corners': rotate.ts), dropped when
     * < minBoxVisible of it stays inside.
     */
    rotate?: { prob: number; degrees: number; minBoxVisible: number; boxes?: RotatedBoxRule };
    /** With probability `prob`, ITU-R 601 grey on all three channels. */
    grayscale?: { prob: number };
    /** With probability `prob`, a random permutation of RGB other than the identity. */
    channelShuffle?: { prob: number };
    /** With probability `prob`, 255 - v. */
    invert?: { prob: number };
    /** With probability `prob`, a Gaussian blur of sigma (pixels) uniform in [min, max] (sharp: >= 0.3). */
    blur?: { prob: number; sigma: [number, number] };
    /** With probability `prob`, Gaussian noise of sigma (0-255 units) uniform in [min, max], per pixel and channel. */
    noise?: { prob: number; sigma: [number, number] };
    /** With probability `prob`, JPEG re-compression at an integer quality uniform in [min, max] (1..100). */
    jpeg?: { prob: number; quality: [number, number] };
    /** With probability `prob`, stripes or checks of a random colour (period px and opacity uniform in their ranges, any angle) laid over the image. */
    pattern?: { prob: number; period: [number, number]; alpha: [number, number] };
  };
  loader: { concurrency: number; prefetch: number; shuffle: boolean };
}

/**
 * One annotated image as a reader produces it: boxes in the original image's pixels
 * (`[x1, y1, x2, y2]`, width = x2 - x1), already validated (clipped or dropped, reported).
 */
export interface Example {
  id: string;
  imagePath: string;
  /** Size of the image as displayed (EXIF orientation applied), as the annotation gives it. */
  width: number;
  height: number;
  /** [K*4] x1, y1, x2, y2. */
  boxes: Float32Array;
  /** [K] 1..N in the dataset's class order. */
  labels: Int32Array;
  /** [K] VOC `difficult` / COCO `iscrowd`, 0 or 1. */
  difficult: Uint8Array;
}

/** What the training step consumes: a decoded, resized and (in training) augmented example. */
export interface DecodedExample {
  id: string;
  imagePath: string;
  /** Position of the example in its dataset (`dataset.at(index)`). */
  index: number;
  /** Size of the decoded image (EXIF orientation applied), before crop and resize. */
  originalWidth: number;
  originalHeight: number;
  /** Size of `pixels`. */
  width: number;
  height: number;
  /**
   * The resize factor (docs/architecture.md §4). `width = floor(w * scale)` of the (cropped) source;
   * boxes were scaled by `width / w` in x and `height / h` in y, as torchvision's `resize_boxes`.
   */
  scale: number;
  /**
   * RGB, HWC, height*width*3, after resize and augmentation: bytes (`resize: 'sharp'`) or
   * float32 in [0, 1] (`resize: 'torchvision'`).
   */
  pixels: Uint8Array | Float32Array;
  /** [K*4] x1, y1, x2, y2 in `pixels`' coordinates. */
  boxes: Float32Array;
  /** [K] 1..N. */
  labels: Int32Array;
  /** [K] VOC difficult / COCO iscrowd flags. */
  difficult: Uint8Array;
}
