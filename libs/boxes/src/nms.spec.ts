import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { boxIou } from './iou';
import { batchedNms, batchedNmsSync, nms, nmsSync, rankByScore } from './nms';
import { findCase, loadFixture } from './testing/fixtures';

interface NmsSet {
  name: string;
  boxes: number[][];
  scores: number[];
  groups?: number[];
  keep: Record<string, number[]>;
}
const nmsSets = loadFixture<{ sets: NmsSet[] }>('nms.json').sets;
const batchedSets = loadFixture<{ sets: NmsSet[] }>('batched-nms.json').sets;

const f32 = Math.fround;

/** torchvision's CPU kernel, line for line: every later box against every kept one. */
function referenceNms(boxes: number[][], scores: number[], threshold: number): number[] {
  const b = boxes.map((r) => r.map(f32));
  const s = scores.map(f32);
  const order = s.map((_, i) => i).sort((i, j) => s[j] - s[i] || i - j);
  const area = b.map(([x1, y1, x2, y2]) => f32(f32(x2 - x1) * f32(y2 - y1)));
  const suppressed = new Array<boolean>(b.length).fill(false);
  const keep: number[] = [];
  for (let p = 0; p < order.length; p++) {
    const i = order[p];
    if (suppressed[i]) continue;
    keep.push(i);
    for (let q = p + 1; q < order.length; q++) {
      const j = order[q];
      if (suppressed[j]) continue;
      const w = Math.max(0, f32(Math.min(b[i][2], b[j][2]) - Math.max(b[i][0], b[j][0])));
      const h = Math.max(0, f32(Math.min(b[i][3], b[j][3]) - Math.max(b[i][1], b[j][1])));
      const inter = f32(w * h);
      if (f32(inter / f32(f32(area[i] + area[j]) - inter)) > threshold) suppressed[j] = true;
    }
  }
  return keep;
}

async function run(boxes: number[][], scores: number[], threshold: number, maxOutput?: number): Promise<number[]> {
  const keep = await nms(tf.tensor2d(boxes, [boxes.length, 4]), tf.tensor1d(scores), threshold, maxOutput);
  expect(keep.dtype).toBe('int32');
  return Array.from(keep.dataSync());
}

/** Proposal-like boxes: jittered around a few centres, sizes varying 1..~40x, some empty. */
const clusteredBoxes = fc
  .tuple(fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 4 }), fc.integer({ min: 4, max: 120 }))
  .chain(([centres, count]) =>
    fc.array(
      fc
        .tuple(fc.nat(centres.length - 1), fc.integer({ min: -40, max: 40 }), fc.integer({ min: -40, max: 40 }), fc.nat({ max: 160 }), fc.nat({ max: 160 }))
        .map(([c, dx, dy, w, h]) => {
          const x = centres[c][0] + dx - w / 2;
          const y = centres[c][1] + dy - h / 2;
          return [x, y, x + w, y + h].map((v) => Math.round(v * 8) / 8);
        }),
      { minLength: count, maxLength: count },
    ),
  );
/** Scores from a small set, so ties happen. */
const scoresFor = (n: number) => fc.array(fc.integer({ min: 0, max: 20 }).map((k) => k / 20), { minLength: n, maxLength: n });
const threshold = fc.constantFrom(0, 0.1, 0.3, 0.5, 0.7, 0.9, 1, 0.42);

describe('nms against torchvision ops.nms', () => {
  describe.each(nmsSets.map((s) => [s.name, s] as const))('%s boxes', (_, set) => {
    it.each(Object.keys(set.keep).map((t) => [t]))('keeps exactly torchvision’s indices at IoU %s', async (t) => {
      expect(await run(set.boxes, set.scores, Number(t))).toEqual(set.keep[t]);
    });
  });

  it('keeps a prefix of the full answer with maxOutput', async () => {
    const set = findCase(nmsSets, (s) => s.name === 'clustered');
    const full = set.keep['0.5'];
    for (const max of [0, 1, 7, full.length - 1, full.length, full.length + 10]) {
      expect(await run(set.boxes, set.scores, 0.5, max)).toEqual(full.slice(0, max));
    }
  });
});

describe('nms properties', () => {
  it('equals torchvision’s greedy loop, ties broken by lower index first', async () => {
    await fc.assert(
      fc.asyncProperty(clusteredBoxes.chain((b) => fc.tuple(fc.constant(b), scoresFor(b.length))), threshold, async ([boxes, scores], t) => {
        expect(await run(boxes, scores, t)).toEqual(referenceNms(boxes, scores, t));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps no pair above the threshold, in decreasing score order', async () => {
    await fc.assert(
      fc.asyncProperty(clusteredBoxes.chain((b) => fc.tuple(fc.constant(b), scoresFor(b.length))), threshold, async ([boxes, scores], t) => {
        const keep = await run(boxes, scores, t);
        const kept = keep.map((i) => boxes[i]);
        const iou = boxIou(tf.tensor2d(kept, [kept.length, 4]), tf.tensor2d(kept, [kept.length, 4])).arraySync();
        const above = iou.flatMap((row, a) => row.filter((v, b) => b > a && v > t));
        expect(above).toEqual([]);
        // A subsequence of the score order (equal scores by index).
        const rank = rankByScore(Float32Array.from(scores));
        const position = new Map(Array.from(rank, (i, p) => [i, p]));
        const positions = keep.map((i) => position.get(i) ?? -1);
        expect(positions).toEqual([...positions].sort((x, y) => x - y));
      }),
      { numRuns: 80 },
    );
  });

  it.each([[0.05], [0.1], [0.3], [0.5], [0.7], [0.9], [0.99]])(
    'finds a suppressor at the farthest centre distance an IoU above %p allows',
    async (t) => {
      // A short box at one end of a long one, IoU just above t: the centres are
      // ~m(1 - t)/(2t) apart, the most any pair with IoU > t can be. Pairs along x and y,
      // long or short box first, spread over a large image so the search grid is fine.
      const boxes: number[][] = [];
      const scores: number[] = [];
      for (let k = 0; k < 40; k++) {
        const m = 8 + 3 * k;
        const long = (m / t) * (1 - 1e-4);
        const x = 5000 * (k % 8);
        const y = 5000 * Math.floor(k / 8);
        const alongY = k % 2 === 1;
        const atEnd = k % 4 >= 2;
        const span = (offset: number, length: number) => (alongY ? [x, y + offset, x + m, y + offset + length] : [x + offset, y, x + offset + length, y + m]);
        boxes.push(span(0, long), span(atEnd ? long - m : 0, m));
        const shortFirst = k % 3 === 0;
        scores.push(shortFirst ? 0.2 : 0.9 - k / 100, shortFirst ? 0.9 - k / 100 : 0.2);
      }
      const keep = await run(boxes, scores, t);
      expect(keep).toEqual(referenceNms(boxes, scores, t));
      expect(keep).toHaveLength(40);
    },
  );

  it('ranks by decreasing score, equal scores (and -0, +0) by index', () => {
    expect(Array.from(rankByScore(Float32Array.from([0.5, -1, 0.5, 3, -0, 0, -Infinity, Infinity])))).toEqual([7, 3, 0, 2, 4, 5, 1, 6]);
  });

  it('handles no boxes, and leaves no tensor behind but its result', async () => {
    expect(await run([], [], 0.5)).toEqual([]);
    const boxes = tf.tensor2d([[0, 0, 1, 1]]);
    const scores = tf.tensor1d([1]);
    const before = tf.memory().numTensors;
    const keep = await nms(boxes, scores, 0.5);
    expect(tf.memory().numTensors).toBe(before + 1);
    keep.dispose();
  });
});

describe('batchedNms', () => {
  describe.each(batchedSets.map((s) => [s.name, s] as const))('%s', (_, set) => {
    it.each(Object.keys(set.keep).map((t) => [t]))('keeps exactly torchvision batched_nms’s indices at IoU %s', async (t) => {
      const keep = await batchedNms(tf.tensor2d(set.boxes), tf.tensor1d(set.scores), tf.tensor1d(set.groups ?? [], 'int32'), Number(t));
      expect(keep.dtype).toBe('int32');
      expect(Array.from(keep.dataSync())).toEqual(set.keep[t]);
    });
  });

  it('never suppresses across groups, and cuts at maxOutput', async () => {
    const boxes = tf.tensor2d([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]]);
    const scores = tf.tensor1d([0.9, 0.8, 0.7, 0.95]);
    const groups = tf.tensor1d([0, 1, 0, 2.5]); // float ids are groups too
    expect(Array.from((await batchedNms(boxes, scores, groups, 0.5)).dataSync())).toEqual([3, 0, 1]);
    expect(Array.from((await batchedNms(boxes, scores, groups, 0.5, 2)).dataSync())).toEqual([3, 0]);
  });

  it('equals NMS run on each group alone, merged by score', async () => {
    await fc.assert(
      fc.asyncProperty(
        clusteredBoxes.chain((b) => fc.tuple(fc.constant(b), scoresFor(b.length), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: b.length, maxLength: b.length }))),
        threshold,
        async ([boxes, scores, groups], t) => {
          const expected: number[] = [];
          for (const g of new Set(groups)) {
            const members = groups.map((gi, i) => (gi === g ? i : -1)).filter((i) => i >= 0);
            expected.push(...referenceNms(members.map((i) => boxes[i]), members.map((i) => scores[i]), t).map((k) => members[k]));
          }
          expected.sort((i, j) => f32(scores[j]) - f32(scores[i]) || i - j);
          const keep = await batchedNms(tf.tensor2d(boxes), tf.tensor1d(scores), tf.tensor1d(groups, 'int32'), t);
          expect(Array.from(keep.dataSync())).toEqual(expected);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('nms / batchedNms argument errors', () => {
  const boxes = tf.tensor2d([[0, 0, 1, 1], [0, 0, 2, 2]]);
  const scores = tf.tensor1d([0.5, 0.4]);

  it.each([[-0.1], [1.5], [NaN]])('rejects iouThreshold %p', async (t) => {
    await expect(nms(boxes, scores, t)).rejects.toThrow(`Error in nms: 'iouThreshold' must be a number in [0, 1], but got ${t}.`);
    await expect(batchedNms(boxes, scores, tf.tensor1d([0, 0]), t)).rejects.toThrow(`Error in batchedNms: 'iouThreshold' must be a number in [0, 1], but got ${t}.`);
  });

  it('names wrong ranks, shapes and lengths', async () => {
    await expect(nms(tf.zeros([2, 5]) as tf.Tensor2D, scores, 0.5)).rejects.toThrow("Error in nms: 'boxes' must be boxes of shape [N, 4], but got a float32 tensor of shape [2,5].");
    await expect(nms(boxes, tf.zeros([2, 1]) as unknown as tf.Tensor1D, 0.5)).rejects.toThrow("Error in nms: 'scores' must be a rank-1 tensor, but got a float32 tensor of shape [2,1].");
    await expect(nms(boxes, tf.zeros([3]), 0.5)).rejects.toThrow("Error in nms: 'boxes' and 'scores' must have the same length, but got 2 and 3.");
    await expect(batchedNms(boxes, scores, tf.zeros([1]), 0.5)).rejects.toThrow("Error in batchedNms: 'boxes' and 'groups' must have the same length, but got 2 and 1.");
    await expect(nms(boxes, scores, 0.5, -1)).rejects.toThrow("Error in nms: 'maxOutput' must be a non-negative integer, but got -1.");
    await expect(nms(boxes, scores, 0.5, 2.5)).rejects.toThrow("Error in nms: 'maxOutput' must be a non-negative integer, but got 2.5.");
  });

  it('reports NaN and infinite values', async () => {
    await expect(nms(tf.tensor2d([[0, 0, 1, 1], [0, NaN, 2, 2]]), scores, 0.5)).rejects.toThrow("Error in nms: 'boxes' must be finite, but row 1 is [0, NaN, 2, 2].");
    await expect(nms(tf.tensor2d([[0, 0, Infinity, 1], [0, 0, 2, 2]]), scores, 0.5)).rejects.toThrow("Error in nms: 'boxes' must be finite, but row 0 is [0, 0, Infinity, 1].");
    await expect(nms(boxes, tf.tensor1d([NaN, 1]), 0.5)).rejects.toThrow("Error in nms: 'scores' must not contain NaN, but index 0 is NaN.");
    await expect(batchedNms(boxes, scores, tf.tensor1d([0, NaN]), 0.5)).rejects.toThrow("Error in batchedNms: 'groups' must not contain NaN, but index 1 is NaN.");
  });
});

describe('nmsSync / batchedNmsSync', () => {
  it('give the async versions’ answers on every torchvision fixture', async () => {
    for (const set of nmsSets) {
      for (const t of Object.keys(set.keep)) {
        const boxes = tf.tensor2d(set.boxes, [set.boxes.length, 4]);
        const scores = tf.tensor1d(set.scores);
        const keep = nmsSync(boxes, scores, Number(t), 5);
        expect(Array.from(keep.dataSync())).toEqual(set.keep[t].slice(0, 5));
        tf.dispose([boxes, scores, keep]);
      }
    }
    for (const set of batchedSets) {
      for (const t of Object.keys(set.keep)) {
        const args = [tf.tensor2d(set.boxes, [set.boxes.length, 4]), tf.tensor1d(set.scores), tf.tensor1d(set.groups ?? [], 'int32')] as const;
        const keep = batchedNmsSync(...args, Number(t));
        expect(Array.from(keep.dataSync())).toEqual(set.keep[t]);
        tf.dispose([...args, keep]);
      }
    }
  });

  it('check their arguments like the async versions', () => {
    const boxes = tf.tensor2d([[0, 0, 1, 1]]);
    expect(() => nmsSync(boxes, tf.tensor1d([1, 2]), 0.5)).toThrow(/Error in nmsSync: 'boxes' and 'scores' must have the same length/);
    expect(() => batchedNmsSync(boxes, tf.tensor1d([1]), tf.tensor1d([0]), 2)).toThrow(/Error in batchedNmsSync: 'iouThreshold' must be a number in \[0, 1\]/);
  });
});
