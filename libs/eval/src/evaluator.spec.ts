import { createEvaluator } from './index';

interface Entry {
  imageId: string | number;
  detections: { boxes: number[][]; scores: number[]; labels: number[] };
  groundTruth: { boxes: number[][]; labels: number[]; difficult: boolean[]; iscrowd: boolean[] };
}

function defined<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('expected a value');
  return value;
}

const classes = ['cat', 'dog'];

describe('createEvaluator', () => {
  it('computes the metrics asked for, per class and mean, leaving classes without objects out of means', () => {
    const ev = createEvaluator({ classes, metrics: ['voc07', 'voc', 'coco'] });
    ev.add({
      imageId: 1,
      detections: { boxes: [[0, 0, 10, 10], [50, 50, 60, 60]], scores: [0.9, 0.8], labels: [1, 2] },
      groundTruth: { boxes: [[0, 0, 10, 10]], labels: [1] },
    });
    ev.add({ imageId: 2 }); // an image with nothing in it is valid
    const s = ev.summarize();
    expect(s.numImages).toBe(2);
    expect(s.numGroundTruths).toEqual({ cat: 1, dog: 0 });
    expect(s.numDetections).toEqual({ cat: 1, dog: 1 });
    // voc07 adds eleven 1/11 terms, as the devkit does: 1.0000000000000002.
    expect(defined(s.voc07).mAP).toBeCloseTo(1, 12);
    expect(defined(s.voc07).perClass.dog).toBeNull();
    expect(s.voc).toEqual({ mAP: 1, perClass: { cat: 1, dog: null } });
    expect(defined(s.coco).AP).toBeCloseTo(1, 12);
    expect(defined(s.coco).perClass.dog).toBeNull();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s); // plain JSON
  });

  it('computes only the metrics named', () => {
    const ev = createEvaluator({ classes, metrics: ['voc'] });
    ev.add({ imageId: 'a', groundTruth: { boxes: [[0, 0, 10, 10]], labels: [2] } });
    const s = ev.summarize();
    expect(s.voc).toEqual({ mAP: 0, perClass: { cat: null, dog: 0 } });
    expect(s.voc07).toBeUndefined();
    expect(s.coco).toBeUndefined();
  });

  it('with no ground truth at all: VOC mAP null, COCO -1 (as pycocotools)', () => {
    const s = createEvaluator({ classes }).summarize();
    expect(defined(s.voc).mAP).toBeNull();
    expect(defined(s.coco).AP).toBe(-1);
  });

  it('uses difficult for VOC and iscrowd for COCO, each as its reference does', () => {
    const ev = createEvaluator({ classes: ['cat'] });
    ev.add({
      imageId: 1,
      detections: { boxes: [[0, 0, 10, 10]], scores: [0.9], labels: [1] },
      groundTruth: { boxes: [[0, 0, 10, 10], [50, 50, 60, 60], [80, 80, 90, 90]], labels: [1, 1, 1], difficult: [false, true, false], iscrowd: [false, false, true] },
    });
    const s = ev.summarize();
    // VOC: the difficult and the crowd object are both ignored -> 1 of 1 found.
    expect(defined(s.voc).mAP).toBe(1);
    // COCO knows no 'difficult': 1 of 2 found (the crowd region is ignored).
    expect(defined(s.coco).AR100).toBe(0.5);
  });

  it('rejects bad options', () => {
    expect(() => createEvaluator({ classes: [] })).toThrow(/'classes' must be a non-empty array/);
    expect(() => createEvaluator({ classes: ['a', 'a'] })).toThrow(/repeated name/);
    expect(() => createEvaluator({ classes, metrics: ['map' as 'voc'] })).toThrow(/unknown metric 'map'/);
  });
});

describe('Evaluator.add rejects bad input, naming the image and the field', () => {
  const ok = (): Entry => ({
    imageId: 'img7',
    detections: { boxes: [[0, 0, 10, 10]], scores: [0.5], labels: [1] },
    groundTruth: { boxes: [[0, 0, 10, 10]], labels: [2], difficult: [false], iscrowd: [false] },
  });
  const cases: [string, (e: Entry) => void, RegExp][] = [
    ['label above N', (e) => (e.detections.labels[0] = 3), /image 'img7': 'detections\.labels\[0\]' must be a class label in 1\.\.2 .*got 3/],
    ['background label', (e) => (e.groundTruth.labels[0] = 0), /image 'img7': 'groundTruth\.labels\[0\]' must be a class label in 1\.\.2/],
    ['fractional label', (e) => (e.detections.labels[0] = 1.5), /'detections\.labels\[0\]'/],
    ['NaN in a box', (e) => (e.detections.boxes[0] = [0, NaN, 10, 10]), /image 'img7': 'detections\.boxes\[0\]' must be 4 finite numbers .*NaN/],
    ['3 coordinates', (e) => (e.groundTruth.boxes[0] = [0, 0, 10]), /image 'img7': 'groundTruth\.boxes\[0\]' must be 4 finite numbers/],
    ['x2 < x1', (e) => (e.groundTruth.boxes[0] = [10, 0, 0, 10]), /'groundTruth\.boxes\[0\]' must have x2 >= x1/],
    ['NaN score', (e) => (e.detections.scores[0] = NaN), /image 'img7': 'detections\.scores\[0\]' must be a finite number/],
    ['fewer scores than boxes', (e) => (e.detections.scores = []), /image 'img7': 'detections\.scores' has length 0, but 'detections\.boxes' has 1/],
    ['more labels than boxes', (e) => (e.detections.labels = [1, 1]), /image 'img7': 'detections\.labels' has length 2/],
    ['gt labels length', (e) => (e.groundTruth.labels = []), /image 'img7': 'groundTruth\.labels' has length 0/],
    ['difficult length', (e) => (e.groundTruth.difficult = [false, true]), /image 'img7': 'groundTruth\.difficult' has length 2/],
    ['iscrowd not boolean', (e) => ((e.groundTruth as { iscrowd: unknown }).iscrowd = ['yes']), /image 'img7': 'groundTruth\.iscrowd\[0\]' must be a boolean/],
    ['boxes not an array', (e) => ((e.detections as { boxes: unknown }).boxes = undefined), /image 'img7': 'detections\.boxes' must be an array/],
    ['no image id', (e) => ((e as { imageId: unknown }).imageId = undefined), /'imageId' must be a string or a finite number/],
  ];

  it.each(cases)('%s', (_, spoil, message) => {
    const ev = createEvaluator({ classes });
    const entry = ok();
    expect(() => ev.add(entry)).not.toThrow();
    const bad = ok();
    bad.imageId = 'img7';
    spoil(bad);
    expect(() => createEvaluator({ classes }).add(bad)).toThrow(message);
  });

  it('an image added twice', () => {
    const ev = createEvaluator({ classes });
    ev.add(ok());
    expect(() => ev.add(ok())).toThrow(/image "img7" was added twice/);
  });

  it('a rejected image leaves the evaluator unchanged', () => {
    const ev = createEvaluator({ classes });
    const bad = ok();
    bad.groundTruth.labels[0] = 9;
    expect(() => ev.add(bad)).toThrow();
    expect(ev.summarize().numImages).toBe(0);
    expect(() => ev.add(ok())).not.toThrow();
  });
});
