/** The three splits a dataset config names. */
export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export type DatasetType = 'digits' | 'voc' | 'coco' | 'csv';

/**
 * Who resizes an image (`data.image.resize`): 'sharp' (libvips' bilinear on bytes, in the
 * decode) or 'torchvision' (sharp decodes the original pixels, then torch's `F.interpolate`
 * bilinear on [0, 1] floats with torchvision's float32 scale: how its pretrained detectors
 * see an image).
 */
export type ResizeMode = 'sharp' | 'torchvision';
export const RESIZE_MODES: readonly ResizeMode[] = ['sharp', 'torchvision'];

/** Where warnings go: one line each, naming the file (and line / annotation id). */
export type Log = (message: string) => void;

/** Image counts and seed of the generated digits dataset. */
export interface DigitsOptions {
  seed: number;
  train: number;
  val: number;
  test: number;
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
    /** VOC/digits: `ImageSets/Main/<name>.txt`; COCO: `annotations/instances_<name>.json`; CSV: `<name>.csv`. */
    splits: { train: string; val: string; test: string };
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
