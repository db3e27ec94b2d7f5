/**
 * How close @lumen/runtime-native's GEMM and conv kernels (forward, input gradient, filter
 * gradient) come to the machine's arithmetic peak, on large shapes and every thread count.
 * The peak is measured, not looked up: independent 8-wide FMAs on every thread at once
 * (native.fmaPeak). Kernels are called directly on Float32Arrays, so the time is the
 * kernel's alone (no tfjs op, no copy). No peer: the yardstick is the CPU itself.
 *
 *   npx nx run tools:bench-kernels [--runs=7] [--warmup=2] [--threads=1,2] [--json=PATH]
 */
import { cpus } from 'node:os';
import { seededRandom } from '@lumen/core';
import { native, reason, type NativeKernels } from '@lumen/runtime-native';
import { parseOptions, UsageError } from '../kit/options';
import type { BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { median, sampleRuns } from '../kit/stats';
import { barCell, markdownTable } from '../kit/table';

const USAGE = 'usage: tsx tools/bench/kernels/main.ts [--runs=N] [--warmup=N] [--threads=1,2] [--json=PATH]';

/** The share of the FMA peak a kernel must reach on a large shape (#20). */
const BAR = 0.75;
/** Rounds of the peak loop: ~40 ms a measurement at 3 GHz. */
const PEAK_ITERATIONS = 2e7;

type Op = 'matmul' | 'forward' | 'input gradient' | 'filter gradient';

interface Shape {
  label: string;
  /** GEMM: [M, N, K]; conv: NHWC input, HWIO filter, stride, symmetric padding. */
  gemm?: [number, number, number];
  conv?: { x: [number, number, number, number]; k: number; out: number; stride: number; pad: number };
}

const SHAPES: Shape[] = [
  { label: 'matMul 1024x1024x1024', gemm: [1024, 1024, 1024] },
  { label: 'matMul 4096x256x1024', gemm: [4096, 256, 1024] },
  { label: 'conv 3x3/1 128²x64→64', conv: { x: [1, 128, 128, 64], k: 3, out: 64, stride: 1, pad: 1 } },
  { label: 'conv 3x3/1 76x100x128→128', conv: { x: [1, 76, 100, 128], k: 3, out: 128, stride: 1, pad: 1 } },
  { label: 'conv 3x3/1 38x50x256→256', conv: { x: [1, 38, 50, 256], k: 3, out: 256, stride: 1, pad: 1 } },
  { label: 'conv 3x3/2 76x100x128→128', conv: { x: [1, 76, 100, 128], k: 3, out: 128, stride: 2, pad: 1 } },
  { label: 'conv 1x1/1 38x50x1024→256', conv: { x: [1, 38, 50, 1024], k: 1, out: 256, stride: 1, pad: 0 } },
];

interface Row {
  shape: string;
  op: Op;
  threads: number;
  ms: number;
  gflops: number;
  /** gflops / the peak on as many threads. */
  ofPeak: number;
}

function randomFloats(n: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => random() - 0.5);
}

/** The calls one shape makes, each with its flop count (2 per multiply-add). */
function calls(kernels: NativeKernels, shape: Shape): { op: Op; flops: number; run: () => void }[] {
  if (shape.gemm) {
    const [M, N, K] = shape.gemm;
    const a = randomFloats(M * K, 1);
    const b = randomFloats(K * N, 2);
    const c = new Float32Array(M * N);
    return [{ op: 'matmul', flops: 2 * M * N * K, run: () => kernels.matMul(a, b, c, [1, M, N, K, 0, 0, 0, 0], null, 0) }];
  }
  const { x: [n, h, w, c], k, out, stride, pad } = shape.conv as NonNullable<Shape['conv']>;
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const geometry = [n, h, w, c, oh, ow, out, k, k, stride, stride, 1, 1, pad, pad];
  const x = randomFloats(n * h * w * c, 3);
  const filter = randomFloats(k * k * c * out, 4);
  const y = new Float32Array(n * oh * ow * out);
  const dy = randomFloats(y.length, 5);
  const dx = new Float32Array(x.length);
  const dw = new Float32Array(filter.length);
  const flops = 2 * n * oh * ow * out * k * k * c;
  return [
    { op: 'forward', flops, run: () => kernels.conv2d(x, filter, y, geometry, null, 0) },
    { op: 'input gradient', flops, run: () => kernels.conv2dBackpropInput(dy, filter, dx, geometry) },
    { op: 'filter gradient', flops, run: () => kernels.conv2dBackpropFilter(x, dy, dw, geometry) },
  ];
}

function threadCounts(list: string | undefined): number[] {
  if (list == null) return [...new Set([1, Math.min(cpus().length, 8)])];
  return list.split(',').map((t) => {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--threads=${list}: expected integers from 1 to 64\n${USAGE}`);
    return n;
  });
}

async function main(): Promise<number | BenchOutcome> {
  const opts = parseOptions(process.argv.slice(2), { usage: USAGE, runs: 7, warmup: 2, strings: ['threads'] });
  if (opts == null) return 0;
  if (native == null) {
    console.error(`@lumen/runtime-native: ${reason}`);
    return 1;
  }
  const kernels = native;
  const threads = threadCounts(opts.strings.threads);
  const peaks = new Map<number, number>();
  const rows: Row[] = [];
  for (const t of threads) {
    kernels.setThreads(t);
    // The best of a few: the peak is what the core can do, not what a busy moment allowed.
    const peak = Math.max(...Array.from({ length: 5 }, () => kernels.fmaPeak(PEAK_ITERATIONS)));
    peaks.set(t, peak);
    console.error(`[lumen] ${t} thread(s): FMA peak ${peak.toFixed(1)} GFLOP/s`);
    for (const shape of SHAPES) {
      for (const call of calls(kernels, shape)) {
        const ms = median(await sampleRuns(call.run, opts));
        const gflops = call.flops / ms / 1e6;
        rows.push({ shape: shape.label, op: call.op, threads: t, ms, gflops, ofPeak: gflops / peak });
        console.error(`[lumen] ${shape.label} ${call.op}, ${t} thread(s): ${ms.toFixed(2)} ms, ${gflops.toFixed(1)} GFLOP/s`);
      }
    }
  }
  kernels.setThreads(Math.min(cpus().length, 8));

  const missed = rows.filter((r) => r.ofPeak < BAR);
  const header = [
    `@lumen/runtime-native (${kernels.isa()}); the peak: 12 independent FMA chains per thread in the GEMM's vector width, best of 5 — ${threads.map((t) => `${t} thread(s) ${(peaks.get(t) as number).toFixed(1)} GFLOP/s`).join(', ')}`,
    `medians of ${opts.runs} runs after ${opts.warmup} warm-up; flops = 2·M·N·K (conv: 2·pixels·out·k²·in)`,
  ];
  const table = markdownTable(
    [
      { title: 'shape', align: 'left', cell: (r: Row) => r.shape },
      { title: 'kernel', align: 'left', cell: (r) => r.op },
      { title: 'threads', cell: (r) => String(r.threads) },
      { title: 'ms', cell: (r) => r.ms.toFixed(2) },
      { title: 'GFLOP/s', cell: (r) => r.gflops.toFixed(1) },
      { title: '% of peak', cell: (r) => `${(100 * r.ofPeak).toFixed(1)}%` },
      { title: 'bar', cell: (r) => barCell(`>= ${100 * BAR}%`, r.ofPeak >= BAR) },
    ],
    rows,
  );
  console.log(`${header.join('\n')}\n`);
  console.log(table);
  const footer = missed.length > 0 ? [`${missed.length} of ${rows.length} rows below ${100 * BAR}% of the peak`] : [];
  if (footer.length > 0) console.log(`\n${footer[0]}`);
  return {
    code: missed.length > 0 ? 1 : 0,
    json: { peaks: Object.fromEntries(peaks), rows },
    jsonPath: opts.json || undefined,
    header,
    table,
    footer,
    ratios: [],
  };
}

runBench('kernels', main);
