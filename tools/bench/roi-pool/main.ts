/**
 * RoI pooling benchmark: @lumen/roi-pool's roiAlign next to torchvision.ops.roi_align on the
 * same inputs in the same run (roi_pool_torch.py; the roiAlign rows of issue 5's "Fast" section), plus cropPool
 * (Luminoth's crop; torchvision has none).
 *
 *   npx nx run tools:bench-roi-pool [--runs=5] [--warmup=1]
 *       [--no-torch] [--torch-threads=2] [--python=/usr/bin/python3] [--json=PATH]
 *
 * Inputs: a 1x38x50x1024 feature map (a 608x800 input at stride 16, seeded uniform values),
 * 300 proposal-like boxes (seeded: most jittered around a dozen objects, the rest
 * anchor-sized anywhere, clipped to the input), spatial scale 1/16, sampling ratio 2,
 * aligned false (torchvision's Faster R-CNN settings). Backward rows take a fixed upstream
 * gradient both sides compute from its index. Lumen's answers are checked against
 * torchvision's (the 7x7 forward and the 14x14 gradient). Forward = the call returning the
 * pooled tensor; forward+backward = tf.grad of the pooling w.r.t. the features (torch:
 * roi_align + backward). The backend is @lumen/runtime's choice (wasm here). Progress goes
 * to stderr, the table to stdout; exits 1 when an answer disagrees or a bar is missed.
 */
import { seededRandom } from '@lumen/core';
import { cropPool, roiAlign } from '@lumen/roi-pool';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { runOpBench, type OpPeerResult, type OpRow, type OpSession, type Verdict } from '../kit/op-bench';
import { proposalBoxes } from '../kit/synthetic';

const IMAGE = { width: 800, height: 608 };
const MAP: [number, number, number, number] = [1, 38, 50, 1024];
const ROIS = 300;
const SCALE = 1 / 16;
const RATIO = 2;

// torchvision has no cropPool: its peer times the roiAlign rows only.
const ROWS: OpRow[] = [
  { id: 'align7-fwd', label: `roiAlign ${ROIS} RoIs 7x7, ratio ${RATIO}, forward`, bar: 1 },
  { id: 'align14-fwd', label: `roiAlign ${ROIS} RoIs 14x14, ratio ${RATIO}, forward` },
  { id: 'align14-fwdbwd', label: `roiAlign ${ROIS} RoIs 14x14, ratio ${RATIO}, forward+backward`, bar: 0.25 },
  { id: 'crop7-fwd', label: `cropPool ${ROIS} RoIs 7x7, forward` },
  { id: 'crop7-fwdbwd', label: `cropPool ${ROIS} RoIs 7x7, forward+backward` },
];

/** u(k) = ((k * 2654435761) mod 2^32) / 2^32 - 0.5 as float32 — roi_pool_torch.py computes the same. */
function upstreamGradient(count: number): Float32Array {
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = (Math.imul(k, 2654435761) >>> 0) / 4294967296 - 0.5;
  return out;
}

/** Largest |a - b| / max(1, |b|). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

async function setUp(): Promise<OpSession<OpPeerResult>> {
  const random = seededRandom(20240611); // the same inputs on every run and machine
  const featureValues = Float32Array.from({ length: MAP.reduce((a, b) => a * b) }, () => random() * 2 - 1);
  const boxValues = proposalBoxes(random, ROIS, IMAGE, false).boxes;
  const features = tf.tensor4d(featureValues, MAP);
  const boxes = tf.tensor2d(boxValues, [ROIS, 4]);
  const boxIndices = tf.zeros([ROIS], 'int32') as tf.Tensor1D;
  const dy14 = tf.tensor4d(upstreamGradient(ROIS * 14 * 14 * MAP[3]), [ROIS, 14, 14, MAP[3]]);
  const dy7 = tf.tensor4d(upstreamGradient(ROIS * 7 * 7 * MAP[3]), [ROIS, 7, 7, MAP[3]]);
  const align = (size: number) => (x: tf.Tensor) => roiAlign(x as tf.Tensor4D, boxes, boxIndices, [size, size], SCALE, RATIO, false);
  const crop = (x: tf.Tensor) => cropPool(x as tf.Tensor4D, boxes, boxIndices, [7, 7], SCALE);

  /** The 7x7 forward and the 14x14 gradient against torchvision's. */
  const compare: OpSession<OpPeerResult>['compare'] = async (data) => {
    const out7 = align(7)(features);
    const grad14 = tf.grad(align(14))(features, dy14);
    const outError = relativeError(out7.dataSync(), data.read('torch_out7.f32'));
    const gradError = relativeError(grad14.dataSync(), data.read('torch_grad14.f32'));
    tf.dispose([out7, grad14]);
    const verdict: Verdict = {
      checks: [
        `roiAlign 7x7 forward: max |Lumen - torchvision| / max(1, |torchvision|) = ${outError.toExponential(2)}`,
        `roiAlign 14x14 gradient: max |Lumen - torchvision| / max(1, |torchvision|) = ${gradError.toExponential(2)}`,
      ],
      failures: [],
    };
    if (!(outError <= 1e-4)) verdict.failures.push('roiAlign forward differs from torchvision');
    if (!(gradError <= 1e-4)) verdict.failures.push('roiAlign gradient differs from torchvision');
    return verdict;
  };

  return {
    ops: {
      'align7-fwd': () => align(7)(features).dispose(),
      'align14-fwd': () => align(14)(features).dispose(),
      'align14-fwdbwd': () => tf.grad(align(14))(features, dy14).dispose(),
      'crop7-fwd': () => crop(features).dispose(),
      'crop7-fwdbwd': () => tf.grad(crop)(features, dy7).dispose(),
    },
    writeInputs: (data) => {
      data.write('features.f32', featureValues);
      data.write('boxes.f32', boxValues);
      data.writeMeta({ shape: MAP, spatialScale: SCALE, samplingRatio: RATIO });
    },
    compare,
    dispose: () => tf.dispose([features, boxes, boxIndices, dy14, dy7]),
  };
}

runOpBench(
  {
    name: 'roi-pool',
    usage: 'usage: tsx --tsconfig tools/tsconfig.json tools/bench/roi-pool/main.ts [--runs=N] [--warmup=N] [--no-torch] [--torch-threads=N] [--python=PATH] [--json=PATH]',
    runs: 5,
    warmup: 1,
    rows: ROWS,
    peer: join(__dirname, 'roi_pool_torch.py'),
    digits: 1,
    note: `${ROIS} RoIs over ${MAP.join('x')} (NHWC), spatial scale 1/16`,
  },
  setUp,
);
