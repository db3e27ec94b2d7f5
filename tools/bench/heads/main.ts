/**
 * Heads benchmark: @lumen/rpn's proposal generation and anchor targets and @lumen/rcnn-head's
 * proposal targets and detection post-processing, next to torchvision on the same inputs in
 * the same run (RoIAlign rows are in the roi-pool benchmark).
 *
 *   npx nx run tools:bench-heads [--runs=15] [--warmup=3] [--no-torch] [--torch-threads=2]
 *       [--python=/usr/bin/python3] [--json=PATH]
 *
 * Rows (a 600x800 input, stride 16: a 38x50 map, 15 anchors per location = 28 500 anchors):
 *  - proposals: top 12 000 by objectness, decode, clip, drop small, NMS 0.7, keep 2 000
 *    (torchvision: decode of every anchor + `filter_proposals`, what its RPN runs). Bar 0.5x.
 *  - anchor targets: match 28 500 anchors to 8 ground truths (0.7 / 0.3, low-quality
 *    matches), sample 256, encode (torchvision: `assign_targets_to_anchors` + encode + sampler).
 *  - proposal targets: 2 000 proposals + ground truth, match at 0.5, sample 512, encode
 *    (torchvision: `select_training_samples`).
 *  - post-processing: 1 000 proposals x 21 classes (torchvision: `postprocess_detections`).
 * Inputs are seeded and handed to the PyTorch process (heads_torch.py) as float32 files; answers are checked
 * against torchvision's (proposal boxes, sample counts, detections). The backend is
 * @lumen/runtime's choice (wasm here; LUMEN_BACKEND overrides). Progress goes to stderr, the
 * table to stdout; exits 1 when an answer disagrees, a run leaks tensors or a bar is missed.
 */
import { gridAnchors, referenceAnchors } from '@lumen/anchors';
import { seededRandom } from '@lumen/core';
import { postprocessDetections, sampleProposalTargets } from '@lumen/rcnn-head';
import { assignAnchorTargets, generateProposals } from '@lumen/rpn';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { runOpBench, type OpPeerResult, type OpRow, type OpSession, type Verdict } from '../kit/op-bench';
import { maxAbsDifference } from '../kit/stats';
import { gaussian, groundTruthBoxes } from '../kit/synthetic';

const IMAGE: [number, number] = [600, 800];
const MAP = { height: 38, width: 50, stride: 16, sizes: [32, 64, 128, 256, 512], ratios: [0.5, 1, 2] };
const RPN = { preNmsTopN: 12000, postNmsTopN: 2000, nmsThresh: 0.7 };
const GT_COUNT = 8;
const DET = { proposals: 1000, numClasses: 21 };

const ROWS: OpRow[] = [
  { id: 'proposals', label: `proposals ${MAP.height}x${MAP.width}x15, pre ${RPN.preNmsTopN} / post ${RPN.postNmsTopN}`, bar: 0.5 },
  { id: 'anchor-targets', label: `anchor targets ${MAP.height * MAP.width * 15} x ${GT_COUNT} gt, sample 256` },
  { id: 'proposal-targets', label: `proposal targets ${RPN.postNmsTopN} + ${GT_COUNT} gt, sample 512` },
  { id: 'postprocess', label: `postprocess ${DET.proposals} x ${DET.numClasses} classes` },
];

interface Counts {
  fg: number;
  bg: number;
}
interface TorchResult extends OpPeerResult {
  anchorCandidates: Counts;
  anchorSample: Counts;
  proposalSample: Counts;
  detLabels: number[];
}

/**
 * RPN outputs with some structure: logits N(0, 1) plus a bump of up to +4 at the anchors
 * near a ground-truth centre, deltas N(0, 0.15²) — proposals cluster on the objects, as a
 * trained RPN's do, so NMS has real work.
 */
function rpnOutputs(random: () => number, gt: Float32Array, anchors: Float32Array): { objectness: Float32Array; deltas: Float32Array } {
  const k = anchors.length / 4;
  const objectness = new Float32Array(k);
  const deltas = new Float32Array(k * 4);
  for (let i = 0; i < k; i++) {
    const cx = (anchors[4 * i] + anchors[4 * i + 2]) / 2;
    const cy = (anchors[4 * i + 1] + anchors[4 * i + 3]) / 2;
    let bump = 0;
    for (let g = 0; g < GT_COUNT; g++) {
      const gx = (gt[4 * g] + gt[4 * g + 2]) / 2;
      const gy = (gt[4 * g + 1] + gt[4 * g + 3]) / 2;
      const s = Math.max(gt[4 * g + 2] - gt[4 * g], gt[4 * g + 3] - gt[4 * g + 1]) / 2;
      bump = Math.max(bump, 4 * Math.exp(-((cx - gx) ** 2 + (cy - gy) ** 2) / (2 * s * s)));
    }
    objectness[i] = gaussian(random) + bump;
    for (let c = 0; c < 4; c++) deltas[4 * i + c] = 0.15 * gaussian(random);
  }
  return { objectness, deltas };
}

/** Box rows ordered by decreasing score, then by coordinates: an order that ignores how ties were broken. */
function sortedRows(boxes: ArrayLike<number>, scores: ArrayLike<number>): Float32Array {
  const rows = Array.from({ length: scores.length }, (_, i) => i);
  const key = (i: number) => [-scores[i], boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]];
  rows.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let c = 0; c < ka.length; c++) if (ka[c] !== kb[c]) return ka[c] - kb[c];
    return 0;
  });
  const out = new Float32Array(boxes.length);
  rows.forEach((i, j) => out.set([boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]], 4 * j));
  return out;
}

function counts(labels: ArrayLike<number>): Counts {
  let fg = 0;
  let bg = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] > 0) fg++;
    else if (labels[i] === 0) bg++;
  }
  return { fg, bg };
}

function sameCounts(a: Counts, b: Counts): boolean {
  return a.fg === b.fg && a.bg === b.bg;
}

async function setUp(): Promise<OpSession<TorchResult>> {
  const random = seededRandom(20240605); // the same inputs on every run and machine
  const reference = referenceAnchors(MAP.sizes, MAP.ratios);
  const anchors = gridAnchors(reference, MAP.height, MAP.width, MAP.stride);
  const anchorData = anchors.dataSync() as Float32Array;
  const a = MAP.sizes.length * MAP.ratios.length;
  const [height, width] = IMAGE;
  const gtData = groundTruthBoxes(random, GT_COUNT, { height, width }, { width: [30, 400], height: [30, 300] });
  const gtLabelData = Float32Array.from({ length: GT_COUNT }, () => 1 + Math.floor(random() * (DET.numClasses - 1)));
  const rpn = rpnOutputs(random, gtData, anchorData);
  const objectness = tf.tensor4d(rpn.objectness, [1, MAP.height, MAP.width, a]);
  const deltas = tf.tensor4d(rpn.deltas, [1, MAP.height, MAP.width, 4 * a]);
  const gt = tf.tensor2d(gtData, [GT_COUNT, 4]);
  const gtLabels = tf.tensor1d(gtLabelData, 'int32');
  // R-CNN inputs: this run's proposals; for post-processing the first 1 000 of them with
  // random class logits N(0, 2²) and deltas N(0, 0.5²).
  const [first] = await generateProposals(objectness, deltas, anchors, [IMAGE], RPN);
  const rcnnProposals = first.boxes;
  const rcnnScores = first.scores;
  const detProposalData = (rcnnProposals.dataSync() as Float32Array).slice(0, DET.proposals * 4);
  const detProposals = tf.tensor2d(detProposalData, [DET.proposals, 4]);
  const detLogitData = Float32Array.from({ length: DET.proposals * DET.numClasses }, () => 2 * gaussian(random));
  const detDeltaData = Float32Array.from({ length: DET.proposals * DET.numClasses * 4 }, () => 0.5 * gaussian(random));
  const detLogits = tf.tensor2d(detLogitData, [DET.proposals, DET.numClasses]);
  const detDeltas = tf.tensor2d(detDeltaData, [DET.proposals, 4 * DET.numClasses]);
  const sampling = seededRandom(7);

  /**
   * Lumen's answers against torchvision's on the benchmark's own inputs. Above 1 000 boxes
   * torchvision's batched_nms orders its result with an unstable sort, so boxes of equal
   * score may come in another order: scores are compared in order, boxes as rows sorted by
   * (score, coordinates).
   */
  const compare: OpSession<TorchResult>['compare'] = async (data, peer) => {
    const verdict: Verdict = { checks: [], failures: [] };
    const theirBoxes = data.read('torch_proposals.f32');
    const theirScores = data.read('torch_proposal_scores.f32');
    const scoreError = maxAbsDifference(rcnnScores.dataSync(), theirScores);
    const proposalError = maxAbsDifference(sortedRows(rcnnProposals.dataSync(), rcnnScores.dataSync()), sortedRows(theirBoxes, theirScores));
    verdict.checks.push(
      `proposals: ${rcnnProposals.shape[0]} (torchvision ${theirBoxes.length / 4}), max |Lumen - torchvision| = ${proposalError.toExponential(2)} px, scores ${scoreError.toExponential(2)}`,
    );
    if (!(proposalError <= 1e-3 && scoreError <= 1e-6)) verdict.failures.push('proposals differ from torchvision');

    const all = assignAnchorTargets(anchors, gt, { batchSizePerImage: 1e9, positiveFraction: 1 }, seededRandom(1));
    const sampled = assignAnchorTargets(anchors, gt, {}, seededRandom(1));
    const candidates = counts(all.labels.dataSync());
    const sample = counts(sampled.labels.dataSync());
    const sameAnchors = sameCounts(candidates, peer.anchorCandidates) && sameCounts(sample, peer.anchorSample);
    verdict.checks.push(
      `anchor targets: ${candidates.fg} fg / ${candidates.bg} bg candidates, ${sample.fg} / ${sample.bg} sampled ${sameAnchors ? '(= torchvision)' : `(torchvision ${JSON.stringify(peer.anchorCandidates)}, ${JSON.stringify(peer.anchorSample)})`}`,
    );
    if (!sameAnchors) verdict.failures.push('anchor target counts differ from torchvision');

    const targets = sampleProposalTargets(rcnnProposals, gt, gtLabels, {}, seededRandom(1));
    const proposalSample = counts(targets.labels.dataSync());
    const sameProposals = sameCounts(proposalSample, peer.proposalSample);
    verdict.checks.push(
      `proposal targets: ${proposalSample.fg} fg / ${proposalSample.bg} bg sampled ${sameProposals ? '(= torchvision)' : `(torchvision ${JSON.stringify(peer.proposalSample)})`}`,
    );
    if (!sameProposals) verdict.failures.push('proposal target counts differ from torchvision');

    const [detections] = await postprocessDetections(detLogits, detDeltas, [detProposals], [IMAGE]);
    const sameLabels = maxAbsDifference(detections.labels.dataSync(), peer.detLabels) === 0;
    const detError = maxAbsDifference(detections.boxes.dataSync(), data.read('torch_det_boxes.f32'));
    verdict.checks.push(`postprocess: ${detections.labels.shape[0]} detections, labels ${sameLabels ? 'identical' : 'DIFFERENT'}, max box difference ${detError.toExponential(2)} px`);
    if (!sameLabels || !(detError <= 1e-3)) verdict.failures.push('detections differ from torchvision');
    tf.dispose([all.labels, all.regressionTargets, sampled.labels, sampled.regressionTargets, targets.proposals, targets.labels, targets.regressionTargets]);
    tf.dispose([detections.boxes, detections.scores, detections.labels]);
    return verdict;
  };

  return {
    ops: {
      proposals: async () => (await generateProposals(objectness, deltas, anchors, [IMAGE], RPN)).forEach((p) => tf.dispose([p.boxes, p.scores])),
      'anchor-targets': () => {
        const t = assignAnchorTargets(anchors, gt, {}, sampling);
        tf.dispose([t.labels, t.regressionTargets]);
      },
      'proposal-targets': () => {
        const t = sampleProposalTargets(rcnnProposals, gt, gtLabels, {}, sampling);
        tf.dispose([t.proposals, t.labels, t.regressionTargets]);
      },
      postprocess: async () =>
        (await postprocessDetections(detLogits, detDeltas, [detProposals], [IMAGE])).forEach((d) => tf.dispose([d.boxes, d.scores, d.labels])),
    },
    writeInputs: (data) => {
      data.write('anchors.f32', anchorData);
      data.write('objectness.f32', rpn.objectness);
      data.write('deltas.f32', rpn.deltas);
      data.write('gt_boxes.f32', gtData);
      data.write('gt_labels.f32', gtLabelData);
      data.write('rcnn_proposals.f32', rcnnProposals.dataSync() as Float32Array);
      data.write('det_proposals.f32', detProposalData);
      data.write('det_logits.f32', detLogitData);
      data.write('det_deltas.f32', detDeltaData);
      data.writeMeta({ imageSize: IMAGE, numClasses: DET.numClasses, ...RPN });
    },
    compare,
    dispose: () => tf.dispose([reference, anchors, objectness, deltas, gt, gtLabels, rcnnProposals, rcnnScores, detProposals, detLogits, detDeltas]),
  };
}

runOpBench(
  {
    name: 'heads',
    usage: 'usage: tsx tools/bench/heads/main.ts [--runs=N] [--warmup=N] [--no-torch] [--torch-threads=N] [--python=PATH] [--json=PATH]',
    runs: 15,
    warmup: 3,
    rows: ROWS,
    peer: join(__dirname, 'heads_torch.py'),
    digits: 2,
  },
  setUp,
);
