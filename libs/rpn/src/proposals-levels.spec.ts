import { pyramidAnchors } from '@lumen/anchors';
import { disposeParams } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { rpnHeadLevels } from './head';
import { generateProposals, generateProposalsSync, type Proposals } from './proposals';
import { relativeError } from './testing/fixtures';
import { ANCHORS_PER_LOCATION, fpnRpn, headOptions, importHead, levelTensors } from './testing/fpn-rpn';

type ProposalCase = (typeof fpnRpn.proposals)[number];
// The proposals were made with the depth-2 head (fasterrcnn_resnet50_fpn_v2's).
const head = fpnRpn.heads.find((h) => h.convDepth === 2) ?? fail('no depth-2 head in fpn-rpn.json');

function headOutputs() {
  return { objectness: levelTensors(head.objectness, ANCHORS_PER_LOCATION), deltas: levelTensors(head.deltas, 4 * ANCHORS_PER_LOCATION) };
}

function optionsOf(c: ProposalCase) {
  return { preNmsTopN: c.preNmsTopN, postNmsTopN: c.postNmsTopN, nmsThresh: c.nmsThresh, scoreThresh: c.scoreThresh };
}

function expectFixture(out: Proposals[], c: ProposalCase): void {
  expect(out).toHaveLength(fpnRpn.imageSizes.length);
  out.forEach((p, i) => {
    expect(p.boxes.shape).toEqual([c.scores[i].length, 4]);
    expect(relativeError(p.boxes.dataSync(), c.boxes[i])).toBeLessThan(1e-4);
    expect(relativeError(p.scores.dataSync(), c.scores[i])).toBeLessThan(1e-4);
  });
}

const disposeAll = (out: Proposals[]) => out.forEach((p) => tf.dispose([p.boxes, p.scores]));

describe('pyramid anchors for the RPN fixture', () => {
  it("are torchvision's AnchorGenerator output for the padded batch, level after level", () => {
    const before = tf.memory().numTensors;
    const { anchors, anchorsPerLevel } = pyramidAnchors(fpnRpn.sizes, fpnRpn.ratios, fpnRpn.mapSizes, fpnRpn.imageSize);
    expect(Array.from(anchors.dataSync())).toEqual(fpnRpn.anchors);
    expect(anchorsPerLevel).toEqual(fpnRpn.mapSizes.map(([h, w]) => h * w * ANCHORS_PER_LOCATION));
    anchors.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('generateProposals over levels against torchvision RegionProposalNetwork (eval mode)', () => {
  it.each(fpnRpn.proposals.map((c) => [c.name, c] as const))(
    '%s: per-level top-n, NMS per level — the same boxes and scores in the same order, async and sync',
    async (_, c) => {
      const before = tf.memory().numTensors;
      const { objectness, deltas } = headOutputs();
      const anchors = tf.tensor2d(fpnRpn.anchors, [fpnRpn.anchors.length / 4, 4]);
      const out = await generateProposals(objectness, deltas, anchors, fpnRpn.imageSizes, optionsOf(c));
      expectFixture(out, c);
      const sync = generateProposalsSync(objectness, deltas, new Float32Array(fpnRpn.anchors), fpnRpn.imageSizes, optionsOf(c));
      expectFixture(sync, c);
      disposeAll(out);
      disposeAll(sync);
      tf.dispose([...objectness, ...deltas, anchors]);
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it('end to end from the maps: imported head, pyramid anchors, proposals', () => {
    const before = tf.memory().numTensors;
    const params = importHead(head);
    const maps = levelTensors(fpnRpn.maps, fpnRpn.channels);
    const { objectness, deltas } = rpnHeadLevels(params, maps, headOptions(2));
    const { anchors } = pyramidAnchors(fpnRpn.sizes, fpnRpn.ratios, fpnRpn.mapSizes, fpnRpn.imageSize);
    for (const c of fpnRpn.proposals) {
      const out = generateProposalsSync(objectness, deltas, anchors, fpnRpn.imageSizes, optionsOf(c));
      expectFixture(out, c);
      disposeAll(out);
    }
    tf.dispose([...maps, ...objectness, ...deltas, anchors]);
    disposeParams(params);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('takes the top-n of each level, not of all anchors: a level of low scores still gets its share', () => {
    const before = tf.memory().numTensors;
    // Two 1x2 levels, A = 1: level 0 scores 5, 4; level 1 scores -5, -6. Top-1 per level keeps one of each.
    const objectness = [tf.tensor4d([5, 4], [1, 1, 2, 1]), tf.tensor4d([-5, -6], [1, 1, 2, 1])];
    const deltas = [tf.zeros<tf.Rank.R4>([1, 1, 2, 4]), tf.zeros<tf.Rank.R4>([1, 1, 2, 4])];
    // Every box the same: NMS across levels would keep one box, per level keeps one per level.
    const anchors = new Float32Array([0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10]);
    const [p] = generateProposalsSync(objectness, deltas, anchors, [[20, 20]], { preNmsTopN: 1, postNmsTopN: 10 });
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    expect(relativeError(p.scores.dataSync(), [sigmoid(5), sigmoid(-5)])).toBeLessThan(1e-6);
    // The same four anchors as one level: NMS over all of them keeps only the best.
    const oneObjectness = tf.tensor4d([5, 4, -5, -6], [1, 1, 4, 1]);
    const oneDeltas = tf.zeros<tf.Rank.R4>([1, 1, 4, 4]);
    const [single] = generateProposalsSync(oneObjectness, oneDeltas, anchors, [[20, 20]], { preNmsTopN: 4, postNmsTopN: 10 });
    expect(relativeError(single.scores.dataSync(), [sigmoid(5)])).toBeLessThan(1e-6);
    tf.dispose([...objectness, ...deltas, oneObjectness, oneDeltas, p.boxes, p.scores, single.boxes, single.scores]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('argument checks over levels', () => {
  const o = [tf.zeros<tf.Rank.R4>([1, 2, 2, 3]), tf.zeros<tf.Rank.R4>([1, 1, 1, 3])];
  const d = [tf.zeros<tf.Rank.R4>([1, 2, 2, 12]), tf.zeros<tf.Rank.R4>([1, 1, 1, 12])];
  const anchors = new Float32Array(15 * 4);
  const opts = { preNmsTopN: 10, postNmsTopN: 5 };
  afterAll(() => tf.dispose([...o, ...d]));

  it('names the level that is wrong', () => {
    const before = tf.memory().numTensors;
    const fn = 'Error in generateProposalsSync: ';
    expect(() => generateProposalsSync(o, d[0], anchors, [[10, 10]], opts)).toThrow(
      `${fn}'objectness' and 'deltas' must both be tensors (one map) or both lists (one per level), but got an array of length 2 and a float32 tensor of shape [1,2,2,12].`,
    );
    expect(() => generateProposalsSync(o, [d[0]], anchors, [[10, 10]], opts)).toThrow(`${fn}'objectness' and 'deltas' must hold one tensor per level each, but got 2 and 1.`);
    expect(() => generateProposalsSync([], [], anchors, [[10, 10]], opts)).toThrow(`${fn}'objectness' and 'deltas' must hold one tensor per level each, but got 0 and 0.`);
    expect(() => generateProposalsSync(o, [d[0], d[0]], anchors, [[10, 10]], opts)).toThrow(
      `${fn}'deltas[1]' must be [N, H, W, 4A] beside objectness[1] [1,1,1,3], but got [1,2,2,12].`,
    );
    const wide = tf.zeros<tf.Rank.R4>([1, 1, 1, 6]);
    expect(() => generateProposalsSync([o[0], wide], d, anchors, [[10, 10]], opts)).toThrow(
      `${fn}'objectness[1]' must have objectness[0]'s batch size 1 and A (sigmoid) channels, but got [1,1,1,6] for A = 3.`,
    );
    const two = [tf.zeros<tf.Rank.R4>([2, 1, 1, 3]), tf.zeros<tf.Rank.R4>([2, 1, 1, 12])];
    expect(() => generateProposalsSync([o[0], two[0]], [d[0], two[1]], anchors, [[10, 10]], opts)).toThrow(
      `${fn}'objectness[1]' must have objectness[0]'s batch size 1 and A (sigmoid) channels, but got [2,1,1,3] for A = 3.`,
    );
    expect(() => generateProposalsSync(o, d, new Float32Array(12 * 4), [[10, 10]], opts)).toThrow(
      `${fn}'anchors' must have Σ H·W·A = 2·2·3 + 1·1·3 = 15 rows (one per head output, level after level), but got 12.`,
    );
    tf.dispose([wide, ...two]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names the level of a NaN score", () => {
    const before = tf.memory().numTensors;
    const bad = tf.tensor4d([0, NaN, 0], [1, 1, 1, 3]);
    expect(() => generateProposalsSync([o[0], bad], d, anchors, [[10, 10]], opts)).toThrow(
      "Error in generateProposalsSync: 'objectness[1]' must not contain NaN, but image 0, anchor 1 is NaN.",
    );
    bad.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
