import type { Detection } from '@lumen/detector';
import { parseClassNames, parseNonNegativeInt, parsePositiveInt, parseProbability, parseSeconds, toObjects, UsageError } from './objects';

const CLASSES = ['cat', 'dog', 'bird'];

const detection: Detection = {
  boxes: [
    [1.234, 2.345, 10.456, 20.567],
    [5, 5, 15, 15],
    [0, 0, 3, 3],
    [7.125, 8.875, 9.5, 10.0049],
    [2, 2, 4, 4],
  ],
  scores: [0.61234, 0.98765, 0.3, 0.98765, 0.75],
  labels: [1, 2, 3, 1, 3],
};

describe('toObjects', () => {
  it("names labels by the checkpoint's classes, sorts by decreasing prob (ties: detector order), rounds", () => {
    const objects = toObjects(detection, CLASSES, { minProb: 0 });
    expect(objects).toEqual([
      { bbox: [5, 5, 15, 15], label: 'dog', prob: 0.9877 },
      { bbox: [7.13, 8.88, 9.5, 10], label: 'cat', prob: 0.9877 },
      { bbox: [2, 2, 4, 4], label: 'bird', prob: 0.75 },
      { bbox: [1.23, 2.35, 10.46, 20.57], label: 'cat', prob: 0.6123 },
      { bbox: [0, 0, 3, 3], label: 'bird', prob: 0.3 },
    ]);
  });

  it('keeps prob >= minProb (default 0.5)', () => {
    expect(toObjects(detection, CLASSES).map((o) => o.prob)).toEqual([0.9877, 0.9877, 0.75, 0.6123]);
    expect(toObjects(detection, CLASSES, { minProb: 0.75 }).map((o) => o.prob)).toEqual([0.9877, 0.9877, 0.75]);
    expect(toObjects(detection, CLASSES, { minProb: 1 })).toEqual([]);
  });

  it('filters by class and caps the count, the most probable first', () => {
    expect(toObjects(detection, CLASSES, { minProb: 0, onlyClasses: ['bird'] }).map((o) => o.label)).toEqual(['bird', 'bird']);
    expect(toObjects(detection, CLASSES, { minProb: 0, ignoreClasses: ['cat', 'bird'] }).map((o) => o.label)).toEqual(['dog']);
    expect(toObjects(detection, CLASSES, { minProb: 0, onlyClasses: ['cat', 'bird'], ignoreClasses: ['bird'] }).map((o) => o.prob)).toEqual([0.9877, 0.6123]);
    expect(toObjects(detection, CLASSES, { minProb: 0, maxDetections: 2 }).map((o) => o.label)).toEqual(['dog', 'cat']);
    expect(toObjects(detection, CLASSES, { minProb: 0, onlyClasses: [] })).toHaveLength(5);
  });

  it('with no maxDetections keeps every object the detector returned (its own detectionsPerImage is the cap)', () => {
    const many: Detection = {
      boxes: Array.from({ length: 300 }, (_, i) => [i, i, i + 5, i + 5]),
      scores: Array.from({ length: 300 }, (_, i) => 0.9 - i * 0.001),
      labels: Array.from({ length: 300 }, (_, i) => 1 + (i % 3)),
    };
    expect(toObjects(many, CLASSES, { minProb: 0.01 })).toHaveLength(300);
    expect(toObjects(many, CLASSES, { minProb: 0.01, maxDetections: 100 })).toHaveLength(100);
  });

  it('an empty detection gives no objects', () => {
    expect(toObjects({ boxes: [], scores: [], labels: [] }, CLASSES)).toEqual([]);
  });
});

describe('option parsing', () => {
  it("class names: repeatable, comma-separated, checked against the checkpoint's classes", () => {
    expect(parseClassNames('--only-class', ['cat', 'dog,bird', ' cat '], CLASSES)).toEqual(['cat', 'dog', 'bird']);
    expect(parseClassNames('--only-class', undefined, CLASSES)).toEqual([]);
    expect(() => parseClassNames('--ignore-class', ['cat', 'horse', 'cow'], CLASSES)).toThrow(
      new UsageError("--ignore-class: unknown classes 'horse', 'cow'; the checkpoint's classes are: cat, dog, bird"),
    );
  });

  it('probabilities and counts', () => {
    expect(parseProbability('--min-prob', '0.25')).toBe(0.25);
    expect(parseProbability('min_prob', 0)).toBe(0);
    for (const bad of ['', 'x', '1.5', '-0.1', undefined]) {
      expect(() => parseProbability('--min-prob', bad)).toThrow(/--min-prob must be a number from 0 to 1/);
    }
    expect(parsePositiveInt('--max-detections', '7')).toBe(7);
    expect(() => parsePositiveInt('--max-detections', '0')).toThrow(/positive integer, but got '0'/);
    expect(() => parsePositiveInt('--max-detections', '2.5')).toThrow(UsageError);
    expect(parseNonNegativeInt('--queue', '0')).toBe(0);
    for (const bad of ['', ' ', '-1', '1.5', '0x10', '1e3']) {
      expect(() => parseNonNegativeInt('--queue', bad)).toThrow(new UsageError(`--queue must be a non-negative integer, but got '${bad}'`));
    }
  });

  it('seconds: a number above 0, decimals allowed', () => {
    expect(parseSeconds('--timeout', '30')).toBe(30);
    expect(parseSeconds('--timeout', '0.5')).toBe(0.5);
    for (const bad of ['', 'abc', '0', '-1', 'Infinity', '10s']) {
      expect(() => parseSeconds('--timeout', bad)).toThrow(new UsageError(`--timeout must be a number of seconds greater than 0, but got '${bad}'`));
    }
  });
});
