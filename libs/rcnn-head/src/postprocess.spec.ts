import * as tf from '@tensorflow/tfjs-core';
import { postprocessDetections, postprocessDetectionsSync, type Detections } from './postprocess';
import { loadFixture, relativeError } from './testing/fixtures';

interface PostprocessCase {
  name: string;
  numClasses: number;
  scoreThresh: number;
  nmsThresh: number;
  detectionsPerImage: number;
  imageSizes: [number, number][];
  proposals: number[][];
  classLogits: number[];
  boxDeltas: number[];
  boxes: number[][];
  scores: number[][];
  labels: number[][];
  /** coco-91: (proposal, class) pairs above the score threshold, per image. */
  candidates?: number[];
}
const cases = loadFixture<{ cases: PostprocessCase[] }>('postprocess.json').cases;

function inputs(c: PostprocessCase) {
  const r = c.classLogits.length / c.numClasses;
  return {
    logits: tf.tensor2d(c.classLogits, [r, c.numClasses]),
    deltas: tf.tensor2d(c.boxDeltas, [r, 4 * c.numClasses]),
    proposals: c.proposals.map((p) => tf.tensor2d(p, [p.length / 4, 4])),
    options: { scoreThresh: c.scoreThresh, nmsThresh: c.nmsThresh, detectionsPerImage: c.detectionsPerImage },
  };
}

function expectFixture(out: Detections[], c: PostprocessCase): void {
  expect(out).toHaveLength(c.imageSizes.length);
  out.forEach((d, i) => {
    expect(d.labels.dtype).toBe('int32');
    expect(Array.from(d.labels.dataSync())).toEqual(c.labels[i]);
    expect(relativeError(d.boxes.dataSync(), c.boxes[i])).toBeLessThan(1e-4);
    expect(relativeError(d.scores.dataSync(), c.scores[i])).toBeLessThan(1e-4);
  });
}

const disposeAll = (out: Detections[]) => out.forEach((d) => tf.dispose([d.boxes, d.scores, d.labels]));

describe('postprocessDetections against torchvision RoIHeads.postprocess_detections', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: the same detections in the same order', async (_, c) => {
    const before = tf.memory().numTensors;
    const x = inputs(c);
    const out = await postprocessDetections(x.logits, x.deltas, x.proposals, c.imageSizes, x.options);
    expectFixture(out, c);
    const sync = postprocessDetectionsSync(x.logits, x.deltas, x.proposals, c.imageSizes, x.options);
    expectFixture(sync, c);
    disposeAll(out);
    disposeAll(sync);
    tf.dispose([x.logits, x.deltas, ...x.proposals]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("coco-91: torchvision's FPN builders' box settings are the defaults; 91 classes, more candidates than the 100 kept", async () => {
    const c = cases.find((item) => item.name === 'coco-91');
    if (c === undefined) throw new Error('fixture case coco-91 missing: regenerate with tools/fixtures/heads_fixtures.py');
    expect([c.numClasses, c.scoreThresh, c.nmsThresh, c.detectionsPerImage]).toEqual([91, 0.05, 0.5, 100]);
    expect(c.candidates?.[0]).toBeGreaterThan(100);
    expect(c.labels[0]).toHaveLength(100);
    expect(new Set(c.labels[0]).size).toBeGreaterThan(20);
    const before = tf.memory().numTensors;
    const x = inputs(c);
    const out = await postprocessDetections(x.logits, x.deltas, x.proposals, c.imageSizes);
    expectFixture(out, c);
    disposeAll(out);
    tf.dispose([x.logits, x.deltas, ...x.proposals]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('returns empty detections for an image without proposals', async () => {
    const before = tf.memory().numTensors;
    const logits = tf.zeros<tf.Rank.R2>([0, 3]);
    const deltas = tf.zeros<tf.Rank.R2>([0, 12]);
    const none = tf.zeros<tf.Rank.R2>([0, 4]);
    const [d] = await postprocessDetections(logits, deltas, [none], [[10, 10]]);
    expect([d.boxes.shape, d.scores.shape, d.labels.shape]).toEqual([[0, 4], [0], [0]]);
    disposeAll([d]);
    tf.dispose([logits, deltas, none]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the bad argument', () => {
    const before = tf.memory().numTensors;
    const logits = tf.zeros<tf.Rank.R2>([2, 3]);
    const deltas = tf.zeros<tf.Rank.R2>([2, 12]);
    const one = tf.zeros<tf.Rank.R2>([1, 4]);
    expect(() => postprocessDetectionsSync(logits, deltas, [one], [[10, 10]])).toThrow(
      "Error in postprocessDetectionsSync: 'proposals' must hold R = 2 rows in all (one per row of classLogits), but hold 1.",
    );
    expect(() => postprocessDetectionsSync(logits, deltas, [one, one], [[10, 10]])).toThrow("'imageSizes' must be 2 [height, width] pairs (one per image), but got an array of length 1.");
    expect(() => postprocessDetectionsSync(logits, deltas, [one, one], [[10, 10], [5, 5]], { nmsThresh: -1 })).toThrow("'nmsThresh' must be a number in [0, 1], but got -1.");
    expect(() => postprocessDetectionsSync(logits, logits, [one, one], [[10, 10], [5, 5]])).toThrow("'boxDeltas' must be [R, 4(K+1)] = [2, 12]");
    tf.dispose([logits, deltas, one]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
