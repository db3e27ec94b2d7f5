import { accumulateCoco, cocoIou, COCO_IOU_THRESHOLDS, COCO_RECALL_THRESHOLDS, evaluateCocoImage, summarizeCoco } from './coco';
import type { CocoImageResult } from './coco';
import type { Box } from './types';

// Hand-worked cases, one per rule of pycocotools' COCOeval (bbox).
const gt = (box: Box, iscrowd = false) => ({ box, difficult: false, iscrowd });
const det = (box: Box, score: number) => ({ box, score });

/** COCOeval over images of a single class. */
function stats(images: { dets: ReturnType<typeof det>[]; gts: ReturnType<typeof gt>[] }[]) {
  const perArea: CocoImageResult[][] = [[], [], [], []];
  for (const im of images) evaluateCocoImage(im.dets, im.gts)?.forEach((r, a) => perArea[a].push(r));
  return summarizeCoco(accumulateCoco([perArea]));
}

describe('COCO constants', () => {
  it('IoU thresholds .50:.05:.95 and 101 recall thresholds, as np.linspace makes them', () => {
    expect(COCO_IOU_THRESHOLDS).toHaveLength(10);
    expect(COCO_IOU_THRESHOLDS[0]).toBe(0.5);
    expect(COCO_IOU_THRESHOLDS[5]).toBe(0.75);
    expect(COCO_IOU_THRESHOLDS[9]).toBe(0.95);
    expect(COCO_RECALL_THRESHOLDS).toHaveLength(101);
    expect(COCO_RECALL_THRESHOLDS[50]).toBe(0.5);
    expect(COCO_RECALL_THRESHOLDS[100]).toBe(1);
  });
});

describe('cocoIou', () => {
  it('uses continuous coordinates (no +1)', () => {
    expect(cocoIou([0, 0, 10, 10], [5, 0, 15, 10], false)).toBeCloseTo(1 / 3, 12);
    expect(cocoIou([0, 0, 10, 10], [10, 0, 20, 10], false)).toBe(0);
  });
  it('a crowd region divides by the detection area only', () => {
    expect(cocoIou([0, 0, 10, 10], [0, 0, 100, 100], true)).toBe(1);
    expect(cocoIou([0, 0, 10, 10], [0, 0, 100, 100], false)).toBeCloseTo(0.01, 12);
  });
});

describe('COCOeval', () => {
  it('a perfect detection scores 1; area ranges without objects are -1', () => {
    const s = stats([{ dets: [det([0, 0, 10, 10], 0.9)], gts: [gt([0, 0, 10, 10])] }]);
    // Precision is tp / (tp + fp + eps) in pycocotools, so a perfect AP is 1 - 1e-16, not 1.
    for (const key of ['AP', 'AP50', 'AP75', 'APs'] as const) expect(s[key]).toBeCloseTo(1, 12);
    expect(s.AP).toBeLessThan(1);
    expect(s).toMatchObject({ APm: -1, APl: -1, AR1: 1, AR10: 1, AR100: 1, ARs: 1, ARm: -1, ARl: -1 });
  });

  it('IoU 2/3 is a match at thresholds .50, .55, .60, .65 only: AP 0.4, AP50 1, AP75 0', () => {
    const s = stats([{ dets: [det([0, 0, 10, 10], 0.9)], gts: [gt([0, 0, 10, 15])] }]);
    expect(s.AP).toBeCloseTo(0.4, 12);
    expect(s.AP50).toBeCloseTo(1, 12);
    expect(s.AP75).toBe(0);
    expect(s.AR100).toBeCloseTo(0.4, 12);
  });

  it('101-point interpolation of the monotone envelope', () => {
    // tp (.9), fp (.8), tp (.7) over 2 objects: recall [.5, .5, 1], precision [1, .5, 2/3],
    // envelope [1, 2/3, 2/3]. Recall thresholds 0..0.50 (51 of them) get 1, 0.51..1 (50) get 2/3.
    const s = stats([
      {
        dets: [det([0, 0, 10, 10], 0.9), det([50, 50, 60, 60], 0.8), det([20, 0, 30, 10], 0.7)],
        gts: [gt([0, 0, 10, 10]), gt([20, 0, 30, 10])],
      },
    ]);
    expect(s.AP).toBeCloseTo((51 + 50 * (2 / 3)) / 101, 12);
    // VOC's area variant would give 0.5 + 0.5 * 2/3 = 0.8333; COCO's 0.8350.
  });

  it('IoU equal to the threshold is a match (VOC needs strictly more)', () => {
    // 100 / 200 = 0.5 exactly.
    const s = stats([{ dets: [det([0, 0, 10, 10], 0.9)], gts: [gt([0, 0, 10, 20])] }]);
    expect(s.AP50).toBeCloseTo(1, 12);
    expect(s.AR100).toBeCloseTo(0.1, 12);
  });

  it('among objects of equal IoU a detection takes the last one (pycocotools keeps moving on ties)', () => {
    // The first detection overlaps A and B at 9/11 each and takes B; the second, B itself,
    // falls back to A (IoU 2/3). Recall: 1 at .50-.65, 1/2 at .70-.80 and at .85-.95.
    // Taking A instead would give recall 1 up to .80: AR 0.85.
    const s = stats([{ dets: [det([1, 0, 11, 10], 0.9), det([2, 0, 12, 10], 0.8)], gts: [gt([0, 0, 10, 10]), gt([2, 0, 12, 10])] }]);
    expect(s.AR100).toBeCloseTo(0.7, 12);
  });

  it('a second detection of a matched object is a false positive', () => {
    const s = stats([{ dets: [det([0, 0, 10, 10], 0.9), det([0, 0, 10, 10], 0.8)], gts: [gt([0, 0, 10, 10]), gt([80, 80, 90, 90])] }]);
    // tp, fp over 2 objects: precision 1 up to recall 0.5 (51 thresholds), then nothing.
    expect(s.AP).toBeCloseTo(51 / 101, 12);
    expect(s.AR100).toBe(0.5);
  });

  it('unlike VOC, a detection whose best object is taken matches the next free one', () => {
    const s = stats([{ dets: [det([0, 0, 10, 10], 0.9), det([0, 0, 10, 10], 0.8)], gts: [gt([0, 0, 10, 10]), gt([0.5, 0, 10.5, 10])] }]);
    // The second detection takes the other object: IoU 9.5/10.5 = 0.905, a match up to 0.90.
    expect(s.AP50).toBeCloseTo(1, 12);
    expect(s.AR100).toBeCloseTo((1 + 9 / 10) / 2, 12);
  });

  it('detections inside a crowd region are ignored, however many; the crowd does not count as an object', () => {
    const s = stats([
      {
        dets: [det([100, 100, 110, 110], 0.95), det([120, 120, 130, 130], 0.9), det([0, 0, 10, 10], 0.5)],
        gts: [gt([0, 0, 10, 10]), gt([100, 100, 200, 200], true)],
      },
    ]);
    expect(s.AP).toBeCloseTo(1, 12);
    expect(s.AR100).toBe(1);
  });

  it('a detection prefers an object that counts over a crowd region it overlaps more', () => {
    // IoU 2/3 with the object, 1 with the crowd: TP at .50-.65, at .70+ it falls to the crowd (ignored).
    const s = stats([{ dets: [det([0, 0, 10, 10], 0.9)], gts: [gt([0, 0, 10, 15]), gt([0, 0, 10, 10], true)] }]);
    expect(s.AP).toBeCloseTo(0.4, 12);
    expect(s.AR100).toBeCloseTo(0.4, 12);
  });

  it('area ranges: an unmatched detection outside the range is ignored there', () => {
    // A small object found, and a large false positive ranked above it.
    const s = stats([{ dets: [det([0, 0, 200, 200], 0.9), det([300, 300, 310, 310], 0.5)], gts: [gt([300, 300, 310, 310])] }]);
    expect(s.AP).toBeCloseTo(0.5, 12); // precision 1/2 at every recall
    expect(s.APs).toBeCloseTo(1, 12);
    expect(s.APm).toBe(-1);
    expect(s.APl).toBe(-1);
    expect(s.ARs).toBe(1);
  });

  it('area bounds: a ground truth of area exactly 32^2 is small and medium', () => {
    const s = stats([{ dets: [det([0, 0, 32, 32], 0.9)], gts: [gt([0, 0, 32, 32])] }]);
    expect(s.APs).toBeCloseTo(1, 12);
    expect(s.APm).toBeCloseTo(1, 12);
    expect(s.APl).toBe(-1);
  });

  it('maxDets counts per image and class, by score', () => {
    const boxes: Box[] = Array.from({ length: 12 }, (_, i) => [i * 20, 0, i * 20 + 10, 10]);
    const s = stats([{ dets: boxes.map((b, i) => det(b, 1 - i / 100)), gts: boxes.map((b) => gt(b)) }]);
    expect(s.AR1).toBeCloseTo(1 / 12, 12);
    expect(s.AR10).toBeCloseTo(10 / 12, 12);
    expect(s.AR100).toBe(1);
  });

  it('only the 100 best detections of an image count', () => {
    const s = stats([{ dets: [...Array.from({ length: 100 }, (_, i) => det([500, 500 + i, 510, 510 + i], 0.9)), det([0, 0, 10, 10], 0.1)], gts: [gt([0, 0, 10, 10])] }]);
    expect(s.AR100).toBe(0);
  });

  it('images with neither detections nor objects of the class are skipped', () => {
    expect(evaluateCocoImage([], [])).toBeNull();
    expect(stats([])).toMatchObject({ AP: -1, AR100: -1 });
  });
});
