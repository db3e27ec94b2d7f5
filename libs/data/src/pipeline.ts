import { cropBoxes, flipBoxes, pickRows, scaleBoxes } from './boxes';
import { decodeAllPixels, imageInfo, PixelError, pixelError, readImageFile, renderResized, resizedSize, type ImageInfo, type ResizeRule } from './decode';
import { planAugmentation, type AugmentConfig, type AugmentPlan } from './augment';
import { rotateBoxes, rotationWindow } from './rotate';
import type { ReportCollector } from './report';
import type { Rng } from '@lumen/core';
import type { DecodedExample, Example } from './types';

/** Raised for an example the pipeline skips (reported by the caller). */
export class SkipExample extends Error {
  constructor(
    message: string,
    readonly reason: 'undecodable-image' | 'bad-image-size',
  ) {
    super(message);
  }
}

/** Image files whose every pixel decoded (a bad one stays out: it fails, and is skipped, each time). */
const fullyDecoded = new Set<string>();

/**
 * Decodes one example: reads the file, checks its size (EXIF orientation applied) against
 * the annotation, applies the augmentation drawn from `random` (none when null) and the
 * resize rule (by sharp or as torchvision: `rule.resize`), and moves the boxes the same way
 * (crop, scale, flip, rotation — about the resized image's centre with sharp, the crop's with
 * torchvision, which resizes last). An image it cannot use is a SkipExample error whose
 * `reason` is 'undecodable-image' or 'bad-image-size': sharp fails on truncated data
 * (`failOn: 'error'`), so no example is trained on half an image.
 */
export async function decodeExample(
  example: Example,
  index: number,
  rule: ResizeRule,
  augment: AugmentConfig | null,
  random: Rng | null,
): Promise<DecodedExample> {
  let data: Buffer;
  let source: ImageInfo;
  try {
    data = await readImageFile(example.imagePath);
    source = await imageInfo(data);
  } catch (e) {
    throw new SkipExample((e as Error).message, 'undecodable-image');
  }
  if (source.width !== example.width || source.height !== example.height) {
    throw new SkipExample(
      `the annotation gives ${example.width}x${example.height} but the image (EXIF orientation applied) is ${source.width}x${source.height}`,
      'bad-image-size',
    );
  }
  const plan: AugmentPlan = augment != null && random != null ? planAugmentation(random, augment, rule, source, example.boxes) : { minSize: rule.minSize, flip: false };
  let boxes = example.boxes;
  let labels = example.labels;
  let difficult = example.difficult;
  const area = plan.crop ?? { left: 0, top: 0, ...source };
  if (plan.crop != null && augment != null) {
    const cropped = cropBoxes(boxes, plan.crop, augment.crop.minBoxVisible);
    boxes = cropped.boxes;
    labels = pickRows(labels, cropped.keep);
    difficult = pickRows(difficult, cropped.keep);
  }
  const size = resizedSize(area.width, area.height, { minSize: plan.minSize, maxSize: rule.maxSize, resize: rule.resize });
  let pixels: Uint8Array | Float32Array;
  try {
    // libvips reads a crop's rows only: a crop above a truncation would decode, so whether
    // the example is used would depend on the crop drawn. Every pixel is decoded once per file.
    if (plan.crop != null && !fullyDecoded.has(example.imagePath)) {
      await decodeAllPixels(data);
      fullyDecoded.add(example.imagePath);
    }
    const { minSize: _minSize, ...render } = plan;
    pixels = await renderResized(data, { ...render, source }, size, rule.resize);
  } catch (e) {
    throw new SkipExample(e instanceof PixelError ? e.message : pixelError(e, data), 'undecodable-image');
  }
  // The rotation drops the boxes it moves out of the image (rotate.minBoxVisible).
  const rotate = (width: number, height: number) => {
    if (plan.rotate == null || augment?.rotate == null) return;
    const rotated = rotateBoxes(boxes, width, height, plan.rotate, augment.rotate.minBoxVisible, rotationWindow(width, height, plan.rotate).shift, augment.rotate.boxes);
    boxes = rotated.boxes;
    labels = pickRows(labels, rotated.keep);
    difficult = pickRows(difficult, rotated.keep);
  };
  if (rule.resize === 'torchvision') {
    // torchvision's references flip the original image, then its transform resizes: resize_boxes'
    // ratios are float32 (resized / original), as are the products.
    if (plan.flip) boxes = flipBoxes(boxes, area.width);
    rotate(area.width, area.height);
    boxes = scaleBoxes(boxes, Math.fround(size.width / area.width), Math.fround(size.height / area.height), size.width, size.height);
  } else {
    boxes = scaleBoxes(boxes, size.width / area.width, size.height / area.height, size.width, size.height);
    if (plan.flip) boxes = flipBoxes(boxes, size.width);
    rotate(size.width, size.height);
  }
  return {
    id: example.id,
    imagePath: example.imagePath,
    index,
    originalWidth: source.width,
    originalHeight: source.height,
    width: size.width,
    height: size.height,
    scale: size.scale,
    pixels,
    boxes,
    labels: labels === example.labels ? labels.slice() : labels,
    difficult: difficult === example.difficult ? difficult.slice() : difficult,
  };
}

/** decodeExample, with a skipped example reported to `report` and returned as null. */
export async function decodeOrReport(
  example: Example,
  index: number,
  rule: ResizeRule,
  augment: AugmentConfig | null,
  random: Rng | null,
  report: ReportCollector,
): Promise<DecodedExample | null> {
  try {
    return await decodeExample(example, index, rule, augment, random);
  } catch (e) {
    if (!(e instanceof SkipExample)) throw e;
    report.dropped(example, e.reason, e.message);
    return null;
  }
}
