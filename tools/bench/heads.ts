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
 * Inputs are seeded and handed to the PyTorch process as float32 files; answers are checked
 * against torchvision's (proposal boxes, sample counts, detections). The backend is
 * @lumen/runtime's choice (wasm here; LUMEN_BACKEND overrides). Progress goes to stderr, the
 * table to stdout; exits 1 when an answer disagrees, a run leaks tensors or a bar is missed.
 */
import { gridAnchors, referenceAnchors } from '@lumen/anchors';
import { seededRandom } from '@lumen/boxes';
import { postprocessDetections, sampleProposalTargets } from '@lumen/rcnn-head';
import { assignAnchorTargets, generateProposals } from '@lumen/rpn';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './measure';
import { torchUnavailable } from './torch-peer';

const IMAGE: [number, number] = [600, 800];
const MAP = { height: 38, width: 50, stride: 16, sizes: [32, 64, 128, 256, 512], ratios: [0.5, 1, 2] };
const RPN = { preNmsTopN: 12000, postNmsTopN: 2000, nmsThresh: 0.7 };
const GT_COUNT = 8;
const DET = { proposals: 1000, numClasses: 21 };

interface Row {
  id: string;
  label: string;
  /** Lumen/torchvision must stay at or under this (the issue's bar), when set. */
  bar?: number;
}
const ROWS: Row[] = [
  { id: 'proposals', label: `proposals ${MAP.height}x${MAP.width}x15, pre ${RPN.preNmsTopN} / post ${RPN.postNmsTopN}`, bar: 0.5 },
  { id: 'anchor-targets', label: `anchor targets ${MAP.height * MAP.width * 15} x ${GT_COUNT} gt, sample 256` },
  { id: 'proposal-targets', label: `proposal targets ${RPN.postNmsTopN} + ${GT_COUNT} gt, sample 512` },
  { id: 'postprocess', label: `postprocess ${DET.proposals} x ${DET.numClasses} classes` },
];

interface Timing {
  ms: number;
  samples: number[];
}
interface Counts {
  fg: number;
  bg: number;
}
interface TorchResult {
  torch: string;
  torchvision: string;
  threads: number;
  rows: Record<string, Timing>;
  anchorCandidates: Counts;
  anchorSample: Counts;
  proposalSample: Counts;
  detLabels: number[];
}

const USAGE = `usage: tsx tools/bench/heads.ts [--runs=N] [--warmup=N] [--no-torch] [--torch-threads=N] [--python=PATH] [--json=PATH]`;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      'no-torch': { type: 'boolean', default: false },
      'torch-threads': { type: 'string', default: '2' },
      python: { type: 'string', default: process.env.LUMEN_TORCH_PYTHON ?? '/usr/bin/python3' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const count = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}=${value}: expected an integer >= ${min}\n${USAGE}`);
    return n;
  };
  return {
    help: values.help,
    runs: count('runs', values.runs, 1),
    warmup: count('warmup', values.warmup, 0),
    torch: !values['no-torch'],
    torchThreads: count('torch-threads', values['torch-threads'], 1),
    python: values.python,
    json: values.json,
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Ground truth inside the image: [x1, y1, x2, y2], 30..400 px wide, 30..300 px high. */
function groundTruth(random: () => number): Float32Array {
  const [height, width] = IMAGE;
  const out = new Float32Array(GT_COUNT * 4);
  for (let i = 0; i < GT_COUNT; i++) {
    const w = 30 + random() * 370;
    const h = 30 + random() * 270;
    const x = random() * (width - w);
    const y = random() * (height - h);
    out.set([x, y, x + w, y + h], 4 * i);
  }
  return out;
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

async function time(run: () => Promise<void> | void, warmup: number, runs: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return { ms: median(samples), samples };
}

function runTorch(python: string, data: string, warmup: number, runs: number, threads: number): Promise<TorchResult> {
  const script = join(__dirname, 'heads_torch.py');
  const args = [script, `--data=${data}`, `--warmup=${warmup}`, `--runs=${runs}`, `--threads=${threads}`];
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${python} ${script} exited with ${signal ?? `code ${code}`}`));
      try {
        resolve(JSON.parse(stdout) as TorchResult);
      } catch (e) {
        reject(new Error(`heads_torch.py printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
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

function formatTable(rows: Row[], lumen: Record<string, Timing>, torch: TorchResult | null): string {
  const header = ['operation', 'Lumen ms', 'torchvision ms', 'Lumen/torchvision', 'bar'];
  const lines = rows.map((row) => {
    const mine = lumen[row.id].ms;
    const theirs = torch?.rows[row.id]?.ms;
    const ratio = theirs != null ? mine / theirs : null;
    const bar = row.bar == null ? '' : ratio == null ? `<= ${row.bar}` : `<= ${row.bar} ${ratio <= row.bar ? 'met' : 'MISSED'}`;
    return [row.label, mine.toFixed(2), theirs != null ? theirs.toFixed(2) : '-', ratio != null ? `${ratio.toFixed(3)}x` : '-', bar];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const fmt = (cells: string[]) => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w, c) => (c === 0 ? ':' : '') + '-'.repeat(w + 1) + (c === 0 ? '' : ':')).join('|')}|`, ...lines.map(fmt)].join('\n');
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const backend = await initBackend();

  const random = seededRandom(20240605); // the same inputs on every run and machine
  const reference = referenceAnchors(MAP.sizes, MAP.ratios);
  const anchors = gridAnchors(reference, MAP.height, MAP.width, MAP.stride);
  const anchorData = anchors.dataSync() as Float32Array;
  const a = MAP.sizes.length * MAP.ratios.length;
  const gtData = groundTruth(random);
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
  const tensorsBefore = tf.memory().numTensors;

  console.error(`[lumen] ${opts.warmup} warm-up + ${opts.runs} timed runs per row`);
  const sampling = seededRandom(7);
  const lumen: Record<string, Timing> = {
    proposals: await time(
      async () => (await generateProposals(objectness, deltas, anchors, [IMAGE], RPN)).forEach((p) => tf.dispose([p.boxes, p.scores])),
      opts.warmup,
      opts.runs,
    ),
    'anchor-targets': await time(
      () => {
        const t = assignAnchorTargets(anchors, gt, {}, sampling);
        tf.dispose([t.labels, t.regressionTargets]);
      },
      opts.warmup,
      opts.runs,
    ),
    'proposal-targets': await time(
      () => {
        const t = sampleProposalTargets(rcnnProposals, gt, gtLabels, {}, sampling);
        tf.dispose([t.proposals, t.labels, t.regressionTargets]);
      },
      opts.warmup,
      opts.runs,
    ),
    postprocess: await time(
      async () => (await postprocessDetections(detLogits, detDeltas, [detProposals], [IMAGE])).forEach((d) => tf.dispose([d.boxes, d.scores, d.labels])),
      opts.warmup,
      opts.runs,
    ),
  };
  const leaked = tf.memory().numTensors - tensorsBefore;
  for (const row of ROWS) console.error(`[lumen] ${row.label}: ${lumen[row.id].ms.toFixed(2)} ms`);

  let torch: TorchResult | null = null;
  const failures: string[] = leaked !== 0 ? [`${leaked} tensor(s) leaked by the timed calls`] : [];
  const checks: string[] = [];
  const missing = opts.torch ? torchUnavailable(opts.python) : '--no-torch';
  if (missing != null) {
    console.error(`[torch] torchvision peer skipped, no ratio columns: ${missing}`);
  } else {
    const data = mkdtempSync(join(tmpdir(), 'lumen-bench-heads-'));
    try {
      const write = (name: string, values: Float32Array) => writeFileSync(join(data, name), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
      write('anchors.f32', anchorData);
      write('objectness.f32', rpn.objectness);
      write('deltas.f32', rpn.deltas);
      write('gt_boxes.f32', gtData);
      write('gt_labels.f32', gtLabelData);
      write('rcnn_proposals.f32', rcnnProposals.dataSync() as Float32Array);
      write('det_proposals.f32', detProposalData);
      write('det_logits.f32', detLogitData);
      write('det_deltas.f32', detDeltaData);
      writeFileSync(join(data, 'meta.json'), JSON.stringify({ imageSize: IMAGE, numClasses: DET.numClasses, ...RPN }));
      torch = await runTorch(opts.python, data, opts.warmup, opts.runs, opts.torchThreads);

      // Lumen's answers against torchvision's on the benchmark's own inputs. Above 1 000
      // boxes torchvision's batched_nms orders its result with an unstable sort, so boxes of
      // equal score may come in another order: scores are compared in order, boxes as rows
      // sorted by (score, coordinates).
      const theirBoxes = readF32(join(data, 'torch_proposals.f32'));
      const theirScores = readF32(join(data, 'torch_proposal_scores.f32'));
      const scoreError = maxAbsDifference(rcnnScores.dataSync(), theirScores);
      const proposalError = maxAbsDifference(sortedRows(rcnnProposals.dataSync(), rcnnScores.dataSync()), sortedRows(theirBoxes, theirScores));
      checks.push(
        `proposals: ${rcnnProposals.shape[0]} (torchvision ${theirBoxes.length / 4}), max |Lumen - torchvision| = ${proposalError.toExponential(2)} px, scores ${scoreError.toExponential(2)}`,
      );
      if (!(proposalError <= 1e-3 && scoreError <= 1e-6)) failures.push('proposals differ from torchvision');

      const all = assignAnchorTargets(anchors, gt, { batchSizePerImage: 1e9, positiveFraction: 1 }, seededRandom(1));
      const sampled = assignAnchorTargets(anchors, gt, {}, seededRandom(1));
      const candidates = counts(all.labels.dataSync());
      const sample = counts(sampled.labels.dataSync());
      const sameAnchors = candidates.fg === torch.anchorCandidates.fg && candidates.bg === torch.anchorCandidates.bg && sample.fg === torch.anchorSample.fg && sample.bg === torch.anchorSample.bg;
      checks.push(`anchor targets: ${candidates.fg} fg / ${candidates.bg} bg candidates, ${sample.fg} / ${sample.bg} sampled ${sameAnchors ? '(= torchvision)' : `(torchvision ${JSON.stringify(torch.anchorCandidates)}, ${JSON.stringify(torch.anchorSample)})`}`);
      if (!sameAnchors) failures.push('anchor target counts differ from torchvision');

      const targets = sampleProposalTargets(rcnnProposals, gt, gtLabels, {}, seededRandom(1));
      const proposalSample = counts(targets.labels.dataSync());
      const sameProposals = proposalSample.fg === torch.proposalSample.fg && proposalSample.bg === torch.proposalSample.bg;
      checks.push(`proposal targets: ${proposalSample.fg} fg / ${proposalSample.bg} bg sampled ${sameProposals ? '(= torchvision)' : `(torchvision ${JSON.stringify(torch.proposalSample)})`}`);
      if (!sameProposals) failures.push('proposal target counts differ from torchvision');

      const [detections] = await postprocessDetections(detLogits, detDeltas, [detProposals], [IMAGE]);
      const sameLabels = maxAbsDifference(detections.labels.dataSync(), torch.detLabels) === 0;
      const detError = maxAbsDifference(detections.boxes.dataSync(), readF32(join(data, 'torch_det_boxes.f32')));
      checks.push(`postprocess: ${detections.labels.shape[0]} detections, labels ${sameLabels ? 'identical' : 'DIFFERENT'}, max box difference ${detError.toExponential(2)} px`);
      if (!sameLabels || !(detError <= 1e-3)) failures.push('detections differ from torchvision');
      tf.dispose([all.labels, all.regressionTargets, sampled.labels, sampled.regressionTargets, targets.proposals, targets.labels, targets.regressionTargets]);
      tf.dispose([detections.boxes, detections.scores, detections.labels]);
    } finally {
      if (process.env.LUMEN_BENCH_KEEP == null) rmSync(data, { recursive: true, force: true });
      else console.error(`[bench] inputs kept in ${data}`);
    }
  }

  const table = formatTable(ROWS, lumen, torch);
  console.log(`Lumen: tfjs ${tf.version_core}, backend ${backend.name} (${backend.detail}, ${backend.threads} thread(s))`);
  if (torch != null) console.log(`torchvision: torch ${torch.torch}, torchvision ${torch.torchvision}, ${torch.threads} thread(s)`);
  console.log(`median of ${opts.runs} runs after ${opts.warmup} warm-up\n`);
  console.log(table);
  for (const check of checks) console.log(`check ${check}`);
  if (torch != null) {
    for (const row of ROWS) {
      const theirs = torch.rows[row.id]?.ms;
      if (row.bar != null && theirs != null && lumen[row.id].ms / theirs > row.bar) failures.push(`${row.label}: ratio above ${row.bar}`);
    }
  }
  if (opts.json != null) {
    writeFileSync(opts.json, JSON.stringify({ backend, lumen, torch, checks, failures }, null, 1));
  }
  tf.dispose([reference, anchors, objectness, deltas, gt, gtLabels, rcnnProposals, rcnnScores, detProposals, detLogits, detDeltas]);
  for (const failure of failures) console.error(`[bench] FAILED: ${failure}`);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
