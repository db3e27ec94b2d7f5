import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { generateProposals, generateProposalsSync, type Proposals } from './proposals';
import { loadFixture, relativeError } from './testing/fixtures';
import { topIndices } from './top-k';

interface ProposalCase {
  name: string;
  height: number;
  width: number;
  anchorsPerLocation: number;
  preNmsTopN: number;
  postNmsTopN: number;
  nmsThresh: number;
  scoreThresh: number;
  minSize: number;
  imageSizes: [number, number][];
  anchors: number[];
  objectness: number[];
  deltas: number[];
  boxes: number[][];
  scores: number[][];
}
const cases = loadFixture<{ cases: ProposalCase[] }>('proposals.json').cases;

function inputs(c: ProposalCase) {
  const n = c.imageSizes.length;
  const a = c.anchorsPerLocation;
  return {
    objectness: tf.tensor4d(c.objectness, [n, c.height, c.width, a]),
    deltas: tf.tensor4d(c.deltas, [n, c.height, c.width, 4 * a]),
    anchors: tf.tensor2d(c.anchors, [c.anchors.length / 4, 4]),
    options: { preNmsTopN: c.preNmsTopN, postNmsTopN: c.postNmsTopN, nmsThresh: c.nmsThresh, scoreThresh: c.scoreThresh, minSize: c.minSize },
  };
}

function expectFixture(out: Proposals[], c: ProposalCase): void {
  expect(out).toHaveLength(c.imageSizes.length);
  out.forEach((p, i) => {
    expect(p.boxes.shape).toEqual([c.scores[i].length, 4]);
    expect(relativeError(p.boxes.dataSync(), c.boxes[i])).toBeLessThan(1e-4);
    expect(relativeError(p.scores.dataSync(), c.scores[i])).toBeLessThan(1e-4);
  });
}

const disposeAll = (out: Proposals[]) => out.forEach((p) => tf.dispose([p.boxes, p.scores]));

describe('generateProposals against torchvision filter_proposals', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: the same boxes and scores, in the same order', async (_, c) => {
    const before = tf.memory().numTensors;
    const { objectness, deltas, anchors, options } = inputs(c);
    const out = await generateProposals(objectness, deltas, anchors, c.imageSizes, options);
    expectFixture(out, c);
    const sync = generateProposalsSync(objectness, deltas, new Float32Array(c.anchors), c.imageSizes, options);
    expectFixture(sync, c);
    disposeAll(out);
    disposeAll(sync);
    tf.dispose([objectness, deltas, anchors]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('clips each image to its own size and keeps scores in decreasing order', async () => {
    const before = tf.memory().numTensors;
    const c = cases[0];
    const { objectness, deltas, anchors, options } = inputs(c);
    const out = await generateProposals(objectness, deltas, anchors, c.imageSizes, options);
    out.forEach((p, i) => {
      const [h, w] = c.imageSizes[i];
      const b = p.boxes.dataSync();
      for (let j = 0; j < b.length; j += 4) {
        expect(b[j] >= 0 && b[j + 2] <= w && b[j + 1] >= 0 && b[j + 3] <= h).toBe(true);
      }
      const s = Array.from(p.scores.dataSync());
      expect(s).toEqual([...s].sort((x, y) => y - x));
    });
    disposeAll(out);
    tf.dispose([objectness, deltas, anchors]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reads a softmax head: [bg, fg] logits rank as fg − bg and score softmax(fg)', async () => {
    const before = tf.memory().numTensors;
    const c = cases[0];
    const { objectness, deltas, anchors, options } = inputs(c);
    // Background logits b, foreground b + x: the softmax's foreground probability is σ(x).
    const bg = tf.randomNormal<tf.Rank.R4>(objectness.shape, 0, 3, 'float32', 11);
    const [n, h, w, a] = objectness.shape;
    const pair = tf.tidy(() => tf.reshape(tf.stack([bg, tf.add(bg, objectness)], 4), [n, h, w, 2 * a]) as tf.Tensor4D);
    const sigmoid = await generateProposals(objectness, deltas, anchors, c.imageSizes, options);
    const softmax = await generateProposals(pair, deltas, anchors, c.imageSizes, options);
    softmax.forEach((p, i) => {
      expect(p.boxes.shape).toEqual(sigmoid[i].boxes.shape);
      expect(relativeError(p.boxes.dataSync(), Array.from(sigmoid[i].boxes.dataSync()))).toBeLessThan(1e-5);
      expect(relativeError(p.scores.dataSync(), Array.from(sigmoid[i].scores.dataSync()))).toBeLessThan(1e-5);
    });
    disposeAll(sigmoid);
    disposeAll(softmax);
    tf.dispose([objectness, deltas, anchors, bg, pair]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves no gradient path from the proposals to the head outputs', () => {
    const before = tf.memory().numTensors;
    const c = cases[0];
    const { objectness, deltas, anchors, options } = inputs(c);
    const g = tf.grads((o: tf.Tensor, d: tf.Tensor) => {
      const [p] = generateProposalsSync(o as tf.Tensor4D, d as tf.Tensor4D, anchors, c.imageSizes, options);
      return tf.sum(p.boxes);
    });
    expect(() => g([objectness, deltas])).toThrow(/Cannot compute gradient of y=f\(x\) with respect to x/);
    tf.dispose([objectness, deltas, anchors]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('topIndices', () => {
  it('is the first k of a stable sort by decreasing score', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20, max: 20 }), { maxLength: 300 }), fc.nat({ max: 320 }), (ints, k) => {
        const scores = new Float32Array(ints.map((v) => v / 4));
        const expected = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b).slice(0, k);
        expect(Array.from(topIndices(scores, k))).toEqual(expected);
      }),
      { seed: 1, numRuns: 200 },
    );
  });

  it('orders -0 with 0 and infinities at the ends', () => {
    const scores = new Float32Array([0, -0, Infinity, -Infinity, 1, -1]);
    expect(Array.from(topIndices(scores, 6))).toEqual([2, 4, 0, 1, 5, 3]);
  });
});

describe('argument checks', () => {
  const o = tf.zeros<tf.Rank.R4>([1, 2, 2, 3]);
  const d = tf.zeros<tf.Rank.R4>([1, 2, 2, 12]);
  const anchors = tf.zeros<tf.Rank.R2>([12, 4]);
  const opts = { preNmsTopN: 10, postNmsTopN: 5 };
  afterAll(() => tf.dispose([o, d, anchors]));

  it('names the bad argument', () => {
    const before = tf.memory().numTensors;
    expect(() => generateProposalsSync(o, d, anchors, [[10, 10]], { preNmsTopN: 0, postNmsTopN: 5 })).toThrow(
      "Error in generateProposalsSync: 'preNmsTopN' must be a positive integer, but got 0.",
    );
    expect(() => generateProposalsSync(o, d, anchors, [[10, 10]], { ...opts, nmsThresh: 2 })).toThrow("'nmsThresh' must be a number in [0, 1], but got 2.");
    expect(() => generateProposalsSync(o, d, anchors, [], opts)).toThrow("'imageSizes' must be 1 [height, width] pairs (one per image), but got an array of length 0.");
    expect(() => generateProposalsSync(o, d, anchors, [[10, -1]], opts)).toThrow("'imageSizes[0]' must be [height, width] with positive sizes, but got [10,-1].");
    expect(() => generateProposalsSync(o, d, new Float32Array(40), [[10, 10]], opts)).toThrow(
      "'anchors' must have H·W·A = 2·2·3 = 12 rows (one per head output), but got 10.",
    );
    const wrong = tf.zeros<tf.Rank.R4>([1, 2, 2, 5]);
    expect(() => generateProposalsSync(wrong, d, anchors, [[10, 10]], opts)).toThrow(
      "'objectness' must have A (sigmoid) or 2A (softmax) channels for A = 3 anchors per location, but got 5.",
    );
    expect(() => generateProposalsSync(o, wrong, anchors, [[10, 10]], opts)).toThrow("'deltas' must be [N, H, W, 4A] beside objectness [1,2,2,3], but got [1,2,2,5].");
    wrong.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects NaN objectness, naming the image and anchor', async () => {
    const before = tf.memory().numTensors;
    const bad = tf.tensor4d([0, 0, 0, 0, 0, NaN, 0, 0, 0, 0, 0, 0], [1, 2, 2, 3]);
    await expect(generateProposals(bad, d, anchors, [[10, 10]], opts)).rejects.toThrow(
      "Error in generateProposals: 'objectness' must not contain NaN, but image 0, anchor 5 is NaN.",
    );
    bad.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
