import { matchVocImage, vocAp, vocClassAp, vocIou } from './voc';
import type { Box } from './types';

// Hand-worked cases, one per rule of py-faster-rcnn's voc_eval / voc_ap.
const gt = (box: Box, difficult = false, iscrowd = false) => ({ box, difficult, iscrowd });
const det = (box: Box, score: number) => ({ box, score });

describe('vocIou', () => {
  it('counts pixels inclusively: [0,0,9,9] is 10x10', () => {
    // Intersection columns 5..9 = 5 pixels x 10 rows = 50; union 100 + 100 - 50 = 150.
    expect(vocIou([0, 0, 9, 9], [5, 0, 14, 9])).toBeCloseTo(1 / 3, 12);
    // Continuous coordinates would give 4*9 / (81 + 81 - 36) = 0.2857.
  });
  it('touching boxes share a pixel column; disjoint ones overlap 0', () => {
    expect(vocIou([0, 0, 9, 9], [9, 0, 18, 9])).toBeCloseTo(10 / 190, 12);
    expect(vocIou([0, 0, 9, 9], [11, 0, 20, 9])).toBe(0);
  });
});

describe('matchVocImage', () => {
  it('needs IoU strictly above 0.5: exactly 0.5 is a false positive', () => {
    // [0,0,9,19] has 200 pixels and contains the 100 of [0,0,9,9]: IoU = 0.5.
    expect(vocIou([0, 0, 9, 19], [0, 0, 9, 9])).toBe(0.5);
    expect(matchVocImage([det([0, 0, 9, 19], 1)], [gt([0, 0, 9, 9])]).outcomes).toEqual(['fp']);
    expect(matchVocImage([det([0, 0, 9, 18], 1)], [gt([0, 0, 9, 9])]).outcomes).toEqual(['tp']);
  });

  it('visits detections by decreasing score; a second detection of a matched object is a false positive', () => {
    const r = matchVocImage([det([0, 0, 9, 9], 0.2), det([1, 1, 9, 9], 0.9)], [gt([0, 0, 9, 9])]);
    expect(r.scores).toEqual([0.9, 0.2]);
    expect(r.outcomes).toEqual(['tp', 'fp']);
    expect(r.numPositives).toBe(1);
  });

  it('looks only at the best-overlapping object: taken means FP even if another free object overlaps enough', () => {
    // Both detections overlap G1 most (IoU 1); the second also overlaps G2 at 90/110 > 0.5.
    const r = matchVocImage([det([0, 0, 9, 9], 0.9), det([0, 0, 9, 9], 0.8)], [gt([0, 0, 9, 9]), gt([1, 0, 10, 9])]);
    expect(vocIou([0, 0, 9, 9], [1, 0, 10, 9])).toBeGreaterThan(0.5);
    expect(r.outcomes).toEqual(['tp', 'fp']);
  });

  it('a detection whose best match is difficult (or crowd) is neither TP nor FP, and those objects do not count', () => {
    const r = matchVocImage(
      [det([0, 0, 9, 9], 0.9), det([50, 50, 59, 59], 0.8), det([100, 0, 109, 9], 0.7)],
      [gt([0, 0, 9, 9], true), gt([50, 50, 59, 59], false, true), gt([100, 0, 109, 9])],
    );
    expect(r.outcomes).toEqual(['ignored', 'ignored', 'tp']);
    expect(r.numPositives).toBe(1);
  });

  it('with no objects of the class every detection is a false positive', () => {
    expect(matchVocImage([det([0, 0, 9, 9], 0.5)], []).outcomes).toEqual(['fp']);
  });
});

describe('vocAp', () => {
  // tp, fp, tp over 2 objects: recall [.5, .5, 1], precision [1, .5, 2/3].
  const recall = [0.5, 0.5, 1];
  const precision = [1, 0.5, 2 / 3];

  it("'voc' is the area under the monotone envelope", () => {
    // Envelope [1, 2/3, 2/3]: 0.5 * 1 + 0.5 * 2/3.
    expect(vocAp(recall, precision, 'voc')).toBeCloseTo(0.5 + 1 / 3, 12);
  });

  it("'voc07' averages the best precision at recall >= 0, 0.1, ..., 1", () => {
    // t = 0 .. 0.5 (6 points) reach precision 1; t = 0.6 .. 1 (5 points) 2/3.
    expect(vocAp(recall, precision, 'voc07')).toBeCloseTo((6 + 5 * (2 / 3)) / 11, 12);
  });

  it("'voc07' keeps numpy's thresholds: recall 0.3 does not reach t = 3 * 0.1 = 0.30000000000000004", () => {
    expect(vocAp([0.3], [1], 'voc07')).toBeCloseTo(3 / 11, 12);
    expect(vocAp([0.4], [1], 'voc07')).toBeCloseTo(5 / 11, 12);
  });

  it('no detections: AP 0', () => {
    expect(vocAp([], [], 'voc')).toBe(0);
    expect(vocAp([], [], 'voc07')).toBe(0);
  });
});

describe('vocClassAp', () => {
  it('ranks detections over all images; a missed object lowers recall', () => {
    const a = matchVocImage([det([0, 0, 9, 9], 0.9)], [gt([0, 0, 9, 9])]);
    const b = matchVocImage([det([0, 0, 9, 9], 0.8)], [gt([50, 50, 59, 59])]);
    const c = matchVocImage([det([0, 0, 9, 9], 0.7)], [gt([0, 0, 9, 9])]);
    // Global order: tp (.9), fp (.8), tp (.7) over 3 objects -> envelope 1 to recall 1/3, 2/3 to 2/3.
    expect(vocClassAp([a, b, c], 'voc')).toBeCloseTo(1 / 3 + (1 / 3) * (2 / 3), 12);
  });

  it('difficult objects do not lower recall; ignored detections do not lower precision', () => {
    const withDifficult = matchVocImage([det([0, 0, 9, 9], 0.5), det([20, 20, 29, 29], 0.9)], [gt([0, 0, 9, 9]), gt([20, 20, 29, 29], true), gt([40, 40, 49, 49], true)]);
    expect(vocClassAp([withDifficult], 'voc')).toBe(1);
    expect(vocClassAp([withDifficult], 'voc07')).toBeCloseTo(1, 12);
    const plain = matchVocImage([det([0, 0, 9, 9], 0.5)], [gt([0, 0, 9, 9]), gt([40, 40, 49, 49])]);
    expect(vocClassAp([plain], 'voc')).toBe(0.5);
    expect(vocClassAp([plain], 'voc07')).toBeCloseTo(6 / 11, 12);
  });

  it('a class without (non-difficult) objects has no AP', () => {
    expect(vocClassAp([matchVocImage([det([0, 0, 9, 9], 0.5)], [gt([0, 0, 9, 9], true)])], 'voc')).toBeNull();
    expect(vocClassAp([], 'voc07')).toBeNull();
  });
});
