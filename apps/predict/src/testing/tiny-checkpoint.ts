// Test helpers: a tiny checkpoint with random weights (made in the test, in a temp folder) and
// small images to run it on. Random weights give random boxes; the class scores get a wide
// random kernel so the probabilities spread out (filters and sliders have something to cut).
import { seededRandom } from '@lumen/core';
import { loadConfig } from '@lumen/config';
import { buildDetector, disposeParams, initDetector, saveCheckpoint, type DetectorParams } from '@lumen/detector';
import * as tf from '@tensorflow/tfjs-core';
import { resolve } from 'node:path';
import sharp from 'sharp';

export const TINY_CLASSES = ['cat', 'dog', 'bird'];

const DIGITS_CONFIG = resolve(__dirname, '../../../../configs/digits-c4.yaml');

export const TINY_OVERRIDES = [
  'model.backbone.width=0.125',
  'model.anchors.sizes=[16,32]',
  'model.anchors.ratios=[0.5,1,2]',
  'model.rpn.preNmsTopN.test=100',
  'model.rpn.postNmsTopN.test=30',
  'model.rcnn.hidden=32',
  'model.rcnn.scoreThresh=0',
  'model.rcnn.detectionsPerImage=30',
  'data.image.minSize=64',
  'data.image.maxSize=96',
];

/** Writes a random-weight detector for `classes` to `dir` (seeded: the same files every time). */
export async function makeTinyCheckpoint(dir: string, classes: string[] = TINY_CLASSES, seed = 3): Promise<void> {
  const config = loadConfig(DIGITS_CONFIG, { overrides: TINY_OVERRIDES }).config;
  const detector = buildDetector(config, classes);
  const params: DetectorParams = initDetector(detector, seededRandom(seed));
  const predictor = (params.roi_heads as { box_predictor: { cls_score: { kernel: tf.Variable } } }).box_predictor;
  const kernel = predictor.cls_score.kernel;
  const random = seededRandom(seed + 1);
  const [rows, cols] = kernel.shape;
  const wide = new Float32Array(kernel.size).map(() => (random() - 0.5) * 8);
  // Columns of zero sum: ReLU features share a large common part, which would otherwise make
  // one class win everywhere.
  for (let c = 0; c < cols; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += wide[r * cols + c] / rows;
    for (let r = 0; r < rows; r++) wide[r * cols + c] -= mean;
  }
  tf.tidy(() => kernel.assign(tf.tensor(wide, kernel.shape)));
  try {
    await saveCheckpoint(dir, { params, config, classes, step: 0 });
  } finally {
    disposeParams(params);
  }
}

/** A noisy RGB test picture with a few bright rectangles, encoded as PNG or JPEG. */
export async function testImage(width: number, height: number, format: 'png' | 'jpeg' = 'png', seed = 7, orientation?: number): Promise<Buffer> {
  const random = seededRandom(seed);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = 60 + Math.floor(random() * 80);
  for (let r = 0; r < 3; r++) {
    const w = Math.max(4, Math.floor(width * (0.2 + 0.2 * random())));
    const h = Math.max(4, Math.floor(height * (0.2 + 0.2 * random())));
    const x0 = Math.floor(random() * (width - w));
    const y0 = Math.floor(random() * (height - h));
    const colour = [Math.floor(random() * 255), 230, Math.floor(random() * 255)];
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) pixels.set(colour, (y * width + x) * 3);
  }
  let image = sharp(pixels, { raw: { width, height, channels: 3 } });
  image = format === 'png' ? image.png() : image.jpeg({ quality: 95 });
  if (orientation != null) image = image.withMetadata({ orientation });
  return image.toBuffer();
}
