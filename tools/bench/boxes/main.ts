/**
 * Box benchmark: @lumen/boxes and @lumen/anchors on the RPN's hot path, next to
 * torchvision.ops on the same inputs in the same run.
 *
 *   npx nx run tools:bench-boxes [--runs=15] [--warmup=3] [--no-torch] [--torch-threads=2]
 *       [--python=/usr/bin/python3] [--json=PATH]
 *
 * Rows: NMS of 12 000 proposal-like boxes (clustered around objects) at IoU 0.7 keeping
 * 2 000 (the RPN's training setting) and keeping all; boxIou of 20 000 anchors x 50
 * ground-truth boxes; gridAnchors for a 50x63 map with 9 anchors. Inputs are seeded and
 * handed to the PyTorch process as float32 files, so both sides see the same numbers,
 * and Lumen's answers are checked against torchvision's (NMS indices exactly). The peer is
 * boxes_torch.py.
 * The backend is @lumen/runtime's choice (wasm here; LUMEN_BACKEND overrides). Progress
 * goes to stderr, the table to stdout; exits 1 when an answer disagrees or a bar is missed.
 */
import { gridAnchors, referenceAnchors } from '@lumen/anchors';
import { boxIou, nms } from '@lumen/boxes';
import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { runOpBench, type OpPeerResult, type OpRow, type OpSession, type Verdict } from '../kit/op-bench';
import { maxAbsDifference } from '../kit/stats';
import { groundTruthBoxes, proposalBoxes } from '../kit/synthetic';

const IMAGE = { width: 1000, height: 600 };
const PROPOSALS = 12000;
const POST_NMS = 2000;
const IOU_THRESHOLD = 0.7;
const IOU_SHAPE = { anchors: 20000, gt: 50 };
const GRID = { height: 50, width: 63, stride: 16, sizes: [128, 256, 512], ratios: [0.5, 1, 2] };

const ROWS: OpRow[] = [
  { id: 'nms', label: `nms ${PROPOSALS} -> ${POST_NMS}, IoU ${IOU_THRESHOLD}`, bar: 0.25 },
  { id: 'nms-all', label: `nms ${PROPOSALS} -> all, IoU ${IOU_THRESHOLD}` },
  { id: 'box-iou', label: `boxIou ${IOU_SHAPE.anchors} x ${IOU_SHAPE.gt}`, bar: 1 },
  { id: 'grid-anchors', label: `gridAnchors ${GRID.height}x${GRID.width}x${GRID.sizes.length * GRID.ratios.length}` },
];

interface TorchResult extends OpPeerResult {
  nmsKeep: number[];
}

function sameIndices(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function setUp(): Promise<OpSession<TorchResult>> {
  const random = seededRandom(20240603); // the same inputs on every run and machine
  const proposals = proposalBoxes(random, PROPOSALS, IMAGE, true);
  const reference = referenceAnchors(GRID.sizes, GRID.ratios);
  const gridData = gridAnchors(reference, GRID.height, GRID.width, GRID.stride).dataSync() as Float32Array;
  const iouAnchors = gridData.slice(0, IOU_SHAPE.anchors * 4);
  const gt = groundTruthBoxes(random, IOU_SHAPE.gt, IMAGE, { width: [20, 420], height: [20, 320] });

  const boxes = tf.tensor2d(proposals.boxes, [PROPOSALS, 4]);
  const scores = tf.tensor1d(proposals.scores);
  const anchorsT = tf.tensor2d(iouAnchors, [IOU_SHAPE.anchors, 4]);
  const gtT = tf.tensor2d(gt, [IOU_SHAPE.gt, 4]);

  /** Lumen's answers against torchvision's on the benchmark's own inputs. */
  const compare: OpSession<TorchResult>['compare'] = async (data, peer) => {
    const keepAll = await nms(boxes, scores, IOU_THRESHOLD);
    const keep = await nms(boxes, scores, IOU_THRESHOLD, POST_NMS);
    const iou = boxIou(anchorsT, gtT);
    const grid = gridAnchors(reference, GRID.height, GRID.width, GRID.stride);
    const iouError = maxAbsDifference(iou.dataSync(), data.read('torch_iou.f32'));
    const nmsSame = sameIndices(keepAll.dataSync(), peer.nmsKeep) && sameIndices(keep.dataSync(), peer.nmsKeep.slice(0, POST_NMS));
    const gridSame = sameIndices(grid.dataSync(), data.read('torch_grid.f32'));
    const verdict: Verdict = {
      checks: [
        `nms: ${nmsSame ? 'same indices' : 'DIFFERENT indices'} (${keepAll.size} kept of ${PROPOSALS}, first ${keep.size} returned with the cap)`,
        `boxIou: max |Lumen - torchvision| = ${iouError.toExponential(2)}`,
        `gridAnchors: ${gridSame ? 'identical' : 'DIFFERENT'}`,
      ],
      failures: [],
    };
    if (!nmsSame) verdict.failures.push('nms indices differ from torchvision');
    if (!(iouError <= 1e-6)) verdict.failures.push('boxIou differs from torchvision');
    if (!gridSame) verdict.failures.push('gridAnchors differ from torchvision');
    tf.dispose([keepAll, keep, iou, grid]);
    return verdict;
  };

  return {
    ops: {
      nms: async () => (await nms(boxes, scores, IOU_THRESHOLD, POST_NMS)).dispose(),
      'nms-all': async () => (await nms(boxes, scores, IOU_THRESHOLD)).dispose(),
      'box-iou': () => boxIou(anchorsT, gtT).dispose(),
      'grid-anchors': () => gridAnchors(reference, GRID.height, GRID.width, GRID.stride).dispose(),
    },
    writeInputs: (data) => {
      data.write('proposals.f32', proposals.boxes);
      data.write('scores.f32', proposals.scores);
      data.write('iou_anchors.f32', iouAnchors);
      data.write('iou_gt.f32', gt);
      data.write('cell_anchors.f32', reference.dataSync() as Float32Array);
      data.writeMeta({ iouThreshold: IOU_THRESHOLD, postNms: POST_NMS, gridHeight: GRID.height, gridWidth: GRID.width, stride: GRID.stride });
    },
    compare,
    // The kept indices are for the check, not for the JSON.
    peerJson: (peer) => ({ ...peer, nmsKeep: undefined }),
    dispose: () => tf.dispose([reference, boxes, scores, anchorsT, gtT]),
  };
}

runOpBench(
  {
    name: 'boxes',
    usage: 'usage: tsx tools/bench/boxes/main.ts [--runs=N] [--warmup=N] [--no-torch] [--torch-threads=N] [--python=PATH] [--json=PATH]',
    runs: 15,
    warmup: 3,
    rows: ROWS,
    peer: join(__dirname, 'boxes_torch.py'),
    digits: 2,
  },
  setUp,
);
