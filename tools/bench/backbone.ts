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
 * process (a fresh wasm heap, and a crash or a hang costs that row only); PyTorch
 * (backbone_torch.py) runs after all of them, never alongside. Progress goes to stderr, the
 * table to stdout. Bar (issue 4): resnet50 body forward at most 4x PyTorch's. Exits 1 when
 * a row failed or the bar is missed.
 */
import { getBackbone, importWeightsSync, type Backbone, type BackboneParams, type SafeTensor } from '@lumen/backbone';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { fork, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeModel, timePhase, type ModelInfo, type Phase, type PhaseTiming } from './measure';
import type { BenchModel } from './rows';

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

const USAGE = `usage: tsx tools/bench/backbone.ts [--runs=N] [--warmup=N] [--rows=ID,…] [--freeze-at=N]
       [--no-torch] [--torch-threads=N] [--python=PATH] [--timeout=SECONDS] [--json=PATH]
rows:  ${ROWS.map((r) => r.id).join(', ')}
env:   LUMEN_BACKEND=tensorflow|wasm|cpu, LUMEN_WASM_THREADS=1..8, LUMEN_TORCH_PYTHON`;

class UsageError extends Error {}

interface Options {
  runs: number;
  warmup: number;
  rows: Row[];
  freezeAt: number;
  torch: boolean;
  torchThreads: number;
  python: string;
  timeoutS: number;
  json: string | undefined;
  worker: string | undefined;
}

function parseOptions(argv: string[]): Options | null {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string' },
        warmup: { type: 'string' },
        rows: { type: 'string' },
        'freeze-at': { type: 'string' },
        'no-torch': { type: 'boolean' },
        'torch-threads': { type: 'string' },
        python: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'string' },
        worker: { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${USAGE}`);
  }
  if (values.help === true) return null;
  const count = (value: string | undefined, fallback: number, name: string, min: number) => {
    if (value == null) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}=${value}: expected an integer >= ${min}\n${USAGE}`);
    return n;
  };
  const rows =
    values.rows == null
      ? [...ROWS]
      : values.rows
          .split(',')
          .filter(Boolean)
          .map((id) => {
            const found = ROWS.find((r) => r.id === id || r.backbone === id);
            if (found == null) throw new UsageError(`--rows: unknown row '${id}'\n${USAGE}`);
            return found;
          });
  return {
    runs: count(values.runs, 5, 'runs', 1),
    warmup: count(values.warmup, 1, 'warmup', 0),
    rows,
    freezeAt: count(values['freeze-at'], 2, 'freeze-at', 0),
    torch: values['no-torch'] !== true,
    torchThreads: count(values['torch-threads'], 2, 'torch-threads', 1),
    python: values.python ?? process.env.LUMEN_TORCH_PYTHON ?? '/usr/bin/python3',
    timeoutS: count(values.timeout, 600, 'timeout', 1),
    json: values.json,
    worker: values.worker,
  };
}

// ---------------------------------------------------------------------------------------
// worker: one row in this process

type WorkerMessage =
  | { type: 'backend'; backend: string; detail: string; threads: number }
  | ({ type: 'model' } & ModelInfo)
  | { type: 'run'; phase: Phase; run: number; ms: number }
  | ({ type: 'phase'; phase: Phase } & PhaseTiming)
  | { type: 'done'; wasmHeapMiB: number | null }
  | { type: 'error'; message: string };

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send == null) reject(new Error('--worker runs as a child of backbone.ts (no IPC channel)'));
    else process.send(message, undefined, undefined, (e) => (e != null ? reject(e) : resolve()));
  });
}

/** Normal draws (mulberry32 + Box–Muller): random weights without a full init of the tail. */
function normals(count: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < count; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - next()));
    const theta = 2 * Math.PI * next();
    out[i] = r * Math.cos(theta);
    if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/**
 * The body's parameters only (VGG-16's fc6/fc7 alone are 120M numbers), with torchvision's
 * initialisation, through importWeights from Lumen-layout tensors: BN frozen, `freezeAt`.
 */
function bodyParams(bb: Backbone, freezeAt: number): BackboneParams {
  const specs = bb.paramSpecs().filter((s) => s.stage < bb.stages.length);
  const tensors: Record<string, SafeTensor> = {};
  specs.forEach((s, i) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const data = s.init.type === 'normal' ? normals(size, s.init.std, 1000 + i) : new Float32Array(size).fill(s.init.value);
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

function wasmHeapMiB(): number | null {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap != null ? heap.byteLength / 2 ** 20 : null;
}

async function worker(options: Options): Promise<void> {
  const r = ROWS.find((x) => x.id === options.worker);
  if (r == null) throw new Error(`unknown row '${options.worker}'`);
  const choice = await initBackend({ backend: 'wasm', log: () => undefined });
  await send({ type: 'backend', backend: choice.name, detail: choice.detail, threads: choice.threads });
  const model = benchModel(r, options.freezeAt);
  try {
    await send({ type: 'model', ...describeModel(model) });
    for (const phase of ['fwd', 'fwd+bwd'] as const) {
      const timing = await timePhase(phase, model, options, (p, run, ms) => void send({ type: 'run', phase: p, run, ms }));
      await send({ type: 'phase', phase, ...timing });
    }
    await send({ type: 'done', wasmHeapMiB: wasmHeapMiB() });
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------
// parent

interface LumenRow {
  backend: string | null;
  model: ModelInfo | null;
  fwd: PhaseTiming | null;
  fwdBwd: PhaseTiming | null;
  wasmHeapMiB: number | null;
  error: string | null;
}

function runRow(r: Row, options: Options): Promise<LumenRow> {
  const args = [`--worker=${r.id}`, `--warmup=${options.warmup}`, `--runs=${options.runs}`, `--freeze-at=${options.freezeAt}`];
  // fork() reuses this process's execArgv (tsx's loader): the worker runs this file as TypeScript.
  const child = fork(__filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result: LumenRow = { backend: null, model: null, fwd: null, fwdBwd: null, wasmHeapMiB: null, error: null };
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      result.error = `no run finished within ${options.timeoutS} s: worker killed as hung (raise --timeout if the row is only slow)`;
      child.kill('SIGKILL');
    }, options.timeoutS * 1000);
  };
  watch();
  child.on('message', (m: WorkerMessage) => {
    watch();
    if (m.type === 'backend') result.backend = `${m.backend} (${m.detail}, ${m.threads} thread(s))`;
    else if (m.type === 'model') result.model = { outputShape: m.outputShape, trainableParams: m.trainableParams };
    else if (m.type === 'run') {
      if (m.ms >= 2000) console.error(`[lumen] ${r.id} ${m.phase} run ${m.run + 1}/${options.warmup + options.runs}: ${m.ms.toFixed(0)} ms`);
    } else if (m.type === 'phase') {
      result[m.phase === 'fwd' ? 'fwd' : 'fwdBwd'] = { ms: m.ms, samples: m.samples };
      console.error(`[lumen] ${r.id}: ${m.phase} ${m.ms.toFixed(1)} ms`);
    } else if (m.type === 'done') {
      done = true;
      result.wasmHeapMiB = m.wasmHeapMiB;
    } else result.error = m.message;
  });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!done && result.error == null) result.error = `worker ${signal != null ? `killed by ${signal}` : `exited with code ${code}`}`;
      resolve(result);
    });
  });
}

interface TorchRow {
  id: string;
  outputShape: number[];
  trainableParams: number;
  fwdMs: number;
  fwdBwdMs: number;
}
interface TorchResult {
  torch: string;
  torchvision: string;
  threads: number;
  rows: TorchRow[];
}

function torchMissing(python: string): string | null {
  const probe = spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.error != null) return `${python}: ${probe.error.message}`;
  return probe.status === 0 ? null : `${python} cannot import torchvision`;
}

function runTorch(options: Options): Promise<TorchResult> {
  const script = join(__dirname, 'backbone_torch.py');
  const args = [
    script,
    `--rows=${options.rows.map((r) => r.id).join(',')}`,
    `--warmup=${options.warmup}`,
    `--runs=${options.runs}`,
    `--threads=${options.torchThreads}`,
    `--freeze-at=${options.freezeAt}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(options.python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${options.python} ${script} exited with ${signal ?? `code ${code}`}`));
      try {
        resolve(JSON.parse(stdout) as TorchResult);
      } catch (e) {
        reject(new Error(`backbone_torch.py printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}

const fmtMs = (v: number | undefined) => (v == null ? '—' : v < 100 ? v.toFixed(1) : v.toFixed(0));
const fmtRatio = (a: number | undefined, b: number | undefined) => (a != null && b != null ? `${(a / b).toFixed(2)}x` : '—');

function table(options: Options, lumen: LumenRow[], torch: TorchResult | null): { text: string; failures: string[] } {
  const failures: string[] = [];
  const header = ['body', 'Lumen fwd ms', 'Lumen f+b ms', 'PyTorch fwd ms', 'PyTorch f+b ms', 'fwd Lumen/PyTorch', 'f+b Lumen/PyTorch', 'wasm heap MiB', 'bar'];
  const lines = options.rows.map((r, i) => {
    const l = lumen[i];
    const t = torch?.rows.find((x) => x.id === r.id);
    const lumenMs = (p: PhaseTiming | null) => (p != null ? fmtMs(p.ms) : l.error != null ? 'FAILED' : '—');
    let bar = '';
    if (r.fwdBar != null) {
      const ratio = l.fwd != null && t != null ? l.fwd.ms / t.fwdMs : null;
      bar = ratio == null ? `fwd <= ${r.fwdBar}x` : `fwd <= ${r.fwdBar}x ${ratio <= r.fwdBar ? 'met' : 'MISSED'}`;
      if (ratio != null && ratio > r.fwdBar) failures.push(`${r.id}: forward ${ratio.toFixed(2)}x PyTorch, bar ${r.fwdBar}x`);
    }
    if (l.error != null) failures.push(`${r.id}: ${l.error}`);
    if (l.model != null && t != null) {
      const [n, h, w, c] = l.model.outputShape;
      if ([n, c, h, w].join('x') !== t.outputShape.join('x')) failures.push(`${r.id}: output NCHW ${[n, c, h, w].join('x')} vs PyTorch ${t.outputShape.join('x')}`);
    }
    return [
      r.id,
      lumenMs(l.fwd),
      lumenMs(l.fwdBwd),
      fmtMs(t?.fwdMs),
      fmtMs(t?.fwdBwdMs),
      fmtRatio(l.fwd?.ms, t?.fwdMs),
      fmtRatio(l.fwdBwd?.ms, t?.fwdBwdMs),
      l.wasmHeapMiB != null ? l.wasmHeapMiB.toFixed(0) : '—',
      bar,
    ];
  });
  const all = [header, ...lines];
  const widths = header.map((_, c) => Math.max(...all.map((l) => l[c].length)));
  const fmt = (l: string[]) => `| ${l.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return { text: [fmt(header), rule, ...lines.map(fmt)].join('\n'), failures };
}

async function parent(options: Options): Promise<number> {
  console.error(`[lumen] ${options.warmup} warm-up + ${options.runs} timed runs per phase, one process per row; freezeAt ${options.freezeAt}, frozen BN`);
  const lumen: LumenRow[] = [];
  for (const r of options.rows) {
    const result = await runRow(r, options);
    if (result.error != null) console.error(`[lumen] ${r.id} FAILED: ${result.error}`);
    lumen.push(result);
  }
  let torch: TorchResult | null = null;
  let torchNote = '--no-torch';
  if (options.torch) {
    const missing = torchMissing(options.python);
    if (missing != null) {
      torchNote = missing;
      console.error(`[torch] PyTorch peer skipped, no ratio columns: ${missing}`);
    } else {
      torch = await runTorch(options);
    }
  }
  const { text, failures } = table(options, lumen, torch);
  const backend = lumen.find((l) => l.backend != null)?.backend ?? 'no backend came up';
  console.log(`Lumen: tfjs ${tf.version_core}, ${backend}; ${torch != null ? `PyTorch ${torch.torch} / torchvision ${torch.torchvision}, ${torch.threads} threads` : `PyTorch skipped (${torchNote})`}`);
  console.log(`median of ${options.runs} runs after ${options.warmup} warm-up; batch 1; BN frozen; f+b = forward + backward to the kernels of stages > freezeAt ${options.freezeAt}\n`);
  console.log(text);
  if (options.json != null) writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), options, lumen, torch, failures }, null, 1)}\n`);
  for (const f of failures) console.error(`[bench] FAILED: ${f}`);
  return failures.length === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options == null) {
    console.log(USAGE);
    return 0;
  }
  if (options.worker != null) {
    try {
      await worker(options);
      return 0;
    } catch (e) {
      const message = e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 6).join('\n') : String(e);
      await send({ type: 'error', message });
      return 1;
    } finally {
      process.disconnect?.();
    }
  }
  return parent(options);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  },
);
