/**
 * Backbone benchmark: each @lumen/backbone body, forward and forward+backward, on the best
 * local backend, next to torchvision's same body on PyTorch in the same run.
 *
 *   npx nx run tools:bench-backbone -- [--runs=5] [--warmup=1] [--rows=ID,…] [--freeze-at=2]
 *       [--no-torch] [--torch-threads=2] [--python=/usr/bin/python3] [--timeout=600] [--json=PATH]
 *
 * Rows: every backbone's body at 608x800 (a Faster R-CNN training image), MobileNetV2 and
 * ResNet-18 also at 320x320. Random weights, BatchNorm frozen (folded) and the first
 * `--freeze-at` stages frozen (default 2: Detectron's FREEZE_AT), as Faster R-CNN fine-tunes;
 * forward+backward differentiates sum(body(x)) w.r.t. the trainable kernels. The backend is
 * @lumen/runtime's choice (wasm here; LUMEN_BACKEND overrides). Each row runs in its own
 * process (kit/process.ts: a fresh wasm heap, and a crash or a hang costs that row only);
 * PyTorch (backbone_torch.py) runs after all of them, never alongside. Progress goes to stderr, the
 * table to stdout. Bar (issue 4): resnet50 body forward at most 4x PyTorch's. Exits 1 when
 * a row failed or the bar is missed.
 */
import { getBackbone, importWeightsSync, type Backbone, type BackboneParams, type SafeTensor } from '@lumen/backbone';
import { seededNormalValues } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { parseOptions, pickRows, TORCH_THREADS } from '../kit/options';
import type { BenchModel } from '../kit/phases';
import { phaseColumns, shapeMismatch, type PhaseRow, type TorchPhasesResult } from '../kit/phase-report';
import { measureRows, type BackendInfo } from '../kit/process';
import { peerRatio, ratios, type BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { barCell, markdownTable } from '../kit/table';
import { peerUnavailable, runPeer } from '../kit/torch-peer';
import { serveRow } from '../kit/worker';

interface Row {
  id: string;
  backbone: string;
  height: number;
  width: number;
  /** Lumen/PyTorch forward must stay at or under this. */
  fwdBar?: number;
}

function row(backbone: string, height: number, width: number, fwdBar?: number): Row {
  return { id: `${backbone}@${height}x${width}`, backbone, height, width, ...(fwdBar != null ? { fwdBar } : {}) };
}

const ROWS: readonly Row[] = [
  row('resnet18', 608, 800),
  row('resnet34', 608, 800),
  row('resnet50', 608, 800, 4),
  row('resnet101', 608, 800),
  row('vgg16', 608, 800),
  row('mobilenet_v2', 608, 800),
  row('mobilenet_v2', 320, 320),
  row('resnet18', 320, 320),
];

const USAGE = `usage: tsx tools/bench/backbone/main.ts [--runs=N] [--warmup=N] [--rows=ID,…] [--freeze-at=N]
       [--no-torch] [--torch-threads=N] [--python=PATH] [--timeout=SECONDS] [--json=PATH]
rows:  ${ROWS.map((r) => r.id).join(', ')}
env:   LUMEN_BACKEND=tensorflow|wasm|cpu, LUMEN_WASM_THREADS=1..8, LUMEN_TORCH_PYTHON`;

function readOptions(argv: string[]) {
  const o = parseOptions(argv, {
    usage: USAGE,
    runs: 5,
    warmup: 1,
    counts: { 'freeze-at': { default: 2, min: 0 }, 'torch-threads': TORCH_THREADS, timeout: { default: 600, min: 1 } },
    // --worker: this process is the child measuring one row (kit/process.ts).
    strings: ['rows', 'worker'],
  });
  if (o == null) return null;
  const { counts: _counts, strings: _strings, switches: _switches, ...common } = o;
  return {
    ...common,
    rows: pickRows(o.strings.rows, ROWS, USAGE, (r, id) => r.id === id || r.backbone === id),
    freezeAt: o.counts['freeze-at'],
    torchThreads: o.counts['torch-threads'],
    timeoutS: o.counts.timeout,
    worker: o.strings.worker,
  };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

/**
 * The body's parameters only (VGG-16's fc6/fc7 alone are 120M numbers), with torchvision's
 * initialisation, through importWeights from Lumen-layout tensors: BN frozen, `freezeAt`.
 */
function bodyParams(bb: Backbone, freezeAt: number): BackboneParams {
  const specs = bb.paramSpecs().filter((s) => s.stage < bb.stages.length);
  const tensors: Record<string, SafeTensor> = {};
  specs.forEach((s, i) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const data = s.init.type === 'normal' ? seededNormalValues(size, s.init.std, 1000 + i) : new Float32Array(size).fill(s.init.value);
    tensors[s.name] = { dtype: 'F32', shape: s.shape, data };
  });
  const bodyOnly: Backbone = { ...bb, paramSpecs: () => specs };
  return importWeightsSync(bodyOnly, tensors, { batchNorm: 'frozen', freezeAt, onNotice: () => undefined });
}

function benchModel(r: Row, freezeAt: number): BenchModel {
  const bb = getBackbone(r.backbone);
  const params = bodyParams(bb, freezeAt);
  const variables: tf.Variable[] = [];
  const walk = (node: BackboneParams) => {
    for (const v of Object.values(node)) {
      if (v instanceof tf.Variable) {
        if (v.trainable) variables.push(v);
      } else walk(v);
    }
  };
  walk(params);
  const input = tf.randomNormal([1, r.height, r.width, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  return {
    input,
    variables,
    forward: (x) => bb.body(params, x, { training: true }),
    dispose: () => {
      input.dispose();
      const all: tf.Variable[] = [];
      const collect = (node: BackboneParams) => Object.values(node).forEach((v) => (v instanceof tf.Variable ? all.push(v) : collect(v)));
      collect(params);
      tf.dispose(all);
    },
  };
}

interface BackboneRow extends PhaseRow {
  row: Row;
}

async function runTorch(options: Options): Promise<TorchPhasesResult | string> {
  const missing = peerUnavailable(options);
  if (missing != null) return missing;
  const args = [
    `--rows=${options.rows.map((r) => r.id).join(',')}`,
    `--warmup=${options.warmup}`,
    `--runs=${options.runs}`,
    `--threads=${options.torchThreads}`,
    `--freeze-at=${options.freezeAt}`,
  ];
  return runPeer<TorchPhasesResult>(options.python, join(__dirname, 'backbone_torch.py'), args);
}

/** Lumen / PyTorch forward, the ratio the bar is on. */
function fwdRatio(r: BackboneRow): number | null {
  return r.lumen.fwd != null && r.torch != null ? r.lumen.fwd.ms / r.torch.fwdMs : null;
}

function barOf(r: BackboneRow): string {
  const bar = r.row.fwdBar;
  if (bar == null) return '';
  const ratio = fwdRatio(r);
  return barCell(`fwd <= ${bar}x`, ratio == null ? null : ratio <= bar);
}

/** A missed bar, a failed row, output shapes that differ. */
function failuresOf(r: BackboneRow): string[] {
  const failures: string[] = [];
  const { fwdBar: bar, id } = r.row;
  const ratio = fwdRatio(r);
  if (bar != null && ratio != null && ratio > bar) failures.push(`${id}: forward ${ratio.toFixed(2)}x PyTorch, bar ${bar}x`);
  if (r.lumen.error != null) failures.push(`${id}: ${r.lumen.error}`);
  const mismatch = shapeMismatch(r);
  if (mismatch != null) failures.push(`${id}: ${mismatch}`);
  return failures;
}

function table(rows: BackboneRow[]): string {
  return markdownTable([...phaseColumns<BackboneRow>('body', false), { title: 'bar', cell: barOf }], rows);
}

function backendLine(info: BackendInfo | null): string {
  return info != null ? `${info.backend} (${info.detail}, ${info.threads} thread(s))` : 'no backend came up';
}

async function main(): Promise<number | BenchOutcome> {
  const argv = process.argv.slice(2);
  const options = readOptions(argv);
  if (options == null) return 0;
  if (options.worker != null) return serveRow(ROWS, options.worker, (r) => benchModel(r, options.freezeAt), { ...options, profile: false });

  console.error(`[lumen] ${options.warmup} warm-up + ${options.runs} timed runs per phase, one process per row; freezeAt ${options.freezeAt}, frozen BN`);
  const lumen = await measureRows(
    options.rows.map((r) => r.id),
    { ...options, script: __filename, argv },
  );
  const torch = await runTorch(options);
  const rows = options.rows.map((r, i) => ({
    row: r,
    label: r.id,
    lumen: lumen.results[i],
    torch: typeof torch === 'string' ? null : (torch.rows.find((x) => x.id === r.id) ?? null),
  }));
  const failures = rows.flatMap(failuresOf);
  const peer = typeof torch === 'string' ? `PyTorch skipped (${torch})` : `PyTorch ${torch.torch} / torchvision ${torch.torchvision}, ${torch.threads} threads`;
  const header = [
    `Lumen: tfjs ${tf.version_core}, ${backendLine(lumen.backend)}; ${peer}`,
    `median of ${options.runs} runs after ${options.warmup} warm-up; batch 1; BN frozen; f+b = forward + backward to the kernels of stages > freezeAt ${options.freezeAt}`,
  ];
  const printed = table(rows);
  console.log(`${header.join('\n')}\n`);
  console.log(printed);
  for (const f of failures) console.error(`[bench] FAILED: ${f}`);
  return {
    code: failures.length === 0 ? 0 : 1,
    json: { date: new Date().toISOString(), options, backend: lumen.backend, lumen: lumen.results, torch: typeof torch === 'string' ? null : torch, failures },
    jsonPath: options.json,
    header,
    table: printed,
    footer: failures.map((f) => `FAILED ${f}`),
    ratios: ratios(
      rows.flatMap((r) => [
        peerRatio(`${r.label}, fwd`, r.lumen.fwd?.ms, r.torch?.fwdMs),
        peerRatio(`${r.label}, fwd+bwd`, r.lumen.fwdBwd?.ms, r.torch?.fwdBwdMs),
      ]),
    ),
  };
}

runBench('backbone', main);
