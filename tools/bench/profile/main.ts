/**
 * Where a training step's time goes: each tfjs kernel's share of the step, and the share
 * spent outside kernels (op wrappers, the engine's tape and gradients, our own JS/wasm work
 * such as RoIAlign's row kernels, the optimizer's bookkeeping). No peer: it says which part
 * of the step to make faster, not how Lumen compares.
 *
 *   npx nx run tools:bench-profile [--config=digits] [--runs=5] [--warmup=2] [--top=15] [--shapes] [--json=PATH]
 *
 * --shapes keeps calls with different input shapes on rows of their own, to find the shapes
 * a kernel handles worst.
 *
 * The step is the config's own (its model, batch size and training image size) on synthetic
 * images of that size x 4/3 with digit-sized boxes, so it needs no dataset. Kernels are
 * timed by wrapping every kernel registered for the backend (only the outermost of nested
 * calls counts); the step is timed with and without the wrappers, so their cost shows.
 */
import { describeBackbone, loadConfig } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import { buildDetector, createOptimizer, initDetector, trainStep, type TrainingExample } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { parseOptions } from '../kit/options';
import type { BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { median, sampleRuns } from '../kit/stats';
import { markdownTable } from '../kit/table';

const USAGE = 'usage: tsx tools/bench/profile/main.ts [--config=NAME|file.yaml] [--runs=N] [--warmup=N] [--top=N] [--shapes] [--json=PATH]';

/** A kernel call's input shapes, `[2,56,75,64] [3,3,64,64]`. */
function shapesOf(inputs: tf.NamedTensorInfoMap): string {
  return Object.values(inputs)
    .map((t) => (t ? `[${t.shape.join(',')}]` : '-'))
    .join(' ');
}

/** Time spent inside each kernel during one recording, by kernel name. */
class KernelClock {
  private readonly totals = new Map<string, { ms: number; calls: number }>();
  private depth = 0;
  recording = false;

  constructor(private readonly byShape: boolean) {}

  /** Re-registers every kernel of `backend` with a timer around it. */
  install(backend: string): void {
    for (const config of tf.getKernelsForBackend(backend)) {
      const run = config.kernelFunc;
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel({
        ...config,
        kernelFunc: (args) => {
          if (!this.recording || this.depth > 0) return run(args);
          this.depth++;
          const start = performance.now();
          try {
            return run(args);
          } finally {
            this.depth--;
            this.add(this.byShape ? `${config.kernelName} ${shapesOf(args.inputs)}` : config.kernelName, performance.now() - start);
          }
        },
      });
    }
  }

  private add(name: string, ms: number): void {
    const total = this.totals.get(name) ?? { ms: 0, calls: 0 };
    total.ms += ms;
    total.calls++;
    this.totals.set(name, total);
  }

  /** What was recorded since the last take, then forgets it. */
  take(): Map<string, { ms: number; calls: number }> {
    const taken = new Map(this.totals);
    this.totals.clear();
    return taken;
  }
}

/** `count` images the size the config resizes to, each with digit-sized boxes (14-100 px). */
function syntheticBatch(count: number, height: number, classes: number): TrainingExample[] {
  const width = Math.round((height * 4) / 3);
  const random = seededRandom(1);
  return Array.from({ length: count }, () => {
    const boxes: number[] = [];
    const labels: number[] = [];
    for (let k = 0; k < 6; k++) {
      const size = 14 + random() * 86;
      const x = random() * (width - size);
      const y = random() * (height - size);
      boxes.push(x, y, x + size * 0.7, y + size);
      labels.push(1 + Math.floor(random() * classes));
    }
    return {
      pixels: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256)),
      width,
      height,
      boxes: Float32Array.from(boxes),
      labels: Int32Array.from(labels),
    };
  });
}

/**
 * The shorter side most training steps see: scale jitter's middle size when it resizes most
 * images (digits trains at 448 and evaluates at data.image.minSize 576), else minSize.
 */
function trainingSize(config: ReturnType<typeof loadConfig>['config']): number {
  const { scaleJitter } = config.data.augment;
  if (scaleJitter.prob >= 0.5 && scaleJitter.minSizes.length > 0) return [...scaleJitter.minSizes].sort((a, b) => a - b)[(scaleJitter.minSizes.length - 1) >> 1];
  return config.data.image.minSize;
}

interface KernelRow {
  kernel: string;
  /** Median ms per step over the recorded steps. */
  ms: number;
  calls: number;
}

async function main(): Promise<number | BenchOutcome> {
  const opts = parseOptions(process.argv.slice(2), { usage: USAGE, runs: 5, warmup: 2, counts: { top: { default: 15, min: 1 } }, switches: ['shapes'], strings: ['config'] });
  if (opts == null) return 0;
  const backend = await initBackend();
  const configName = opts.strings.config ?? 'digits';
  const { config } = loadConfig(configName);
  const classes = Array.from({ length: 10 }, (_, i) => String(i));
  const detector = buildDetector(config, classes);
  const params = initDetector(detector, seededRandom(0));
  const optimizer = createOptimizer(config.train.optimizer, params);
  const batch = syntheticBatch(config.train.batchSize, trainingSize(config), classes.length);
  const step = () => trainStep(detector, params, optimizer, batch, config);
  const log = (label: string) => (i: number, ms: number) => console.error(`[lumen] ${label} ${i < opts.warmup ? 'warm-up' : 'run'} ${ms.toFixed(0)} ms`);

  const before = tf.memory().numTensors;
  const plain = await sampleRuns(step, opts, log('step'));
  const clock = new KernelClock(opts.switches.shapes);
  clock.install(tf.getBackend());
  const perStep: Map<string, { ms: number; calls: number }>[] = [];
  const timed = await sampleRuns(
    async (i) => {
      clock.recording = i >= opts.warmup;
      clock.take();
      await step();
      if (clock.recording) perStep.push(clock.take());
      clock.recording = false;
    },
    opts,
    log('timed step'),
  );
  const leaked = tf.memory().numTensors - before;

  const names = [...new Set(perStep.flatMap((m) => [...m.keys()]))];
  const stepMs = median(timed);
  const kernels: KernelRow[] = names
    .map((kernel) => ({ kernel, ms: median(perStep.map((m) => m.get(kernel)?.ms ?? 0)), calls: median(perStep.map((m) => m.get(kernel)?.calls ?? 0)) }))
    .sort((a, b) => b.ms - a.ms);
  const inKernels = median(perStep.map((m) => [...m.values()].reduce((sum, t) => sum + t.ms, 0)));
  const outside = stepMs - inKernels;
  const top = kernels.slice(0, opts.counts.top);
  const rest = kernels.slice(opts.counts.top);
  const rows: KernelRow[] = [
    ...top,
    ...(rest.length > 0 ? [{ kernel: `${rest.length} other kernels`, ms: rest.reduce((s, r) => s + r.ms, 0), calls: rest.reduce((s, r) => s + r.calls, 0) }] : []),
    { kernel: 'all kernels', ms: inKernels, calls: kernels.reduce((s, r) => s + r.calls, 0) },
    { kernel: 'outside kernels', ms: outside, calls: 0 },
  ];

  const header = [
    `backend ${backend.name} (${backend.detail}); config ${configName}: ${describeBackbone(config)}, batch ${config.train.batchSize}, ${batch[0].height}x${batch[0].width}; medians of ${opts.runs}`,
    `training step ${median(plain).toFixed(1)} ms unwrapped, ${stepMs.toFixed(1)} ms with the kernel timers`,
  ];
  const printed = markdownTable(
    [
      { title: 'kernel', align: 'left', cell: (r) => r.kernel },
      { title: 'ms per step', cell: (r) => r.ms.toFixed(1) },
      { title: 'calls per step', cell: (r) => (r.calls > 0 ? String(r.calls) : '') },
      { title: 'share of the step', cell: (r) => `${((100 * r.ms) / stepMs).toFixed(1)}%` },
    ],
    rows,
  );
  console.log(`${header.join('\n')}\n`);
  console.log(printed);
  const footer = leaked !== 0 ? [`leaked ${leaked} tensors`] : [];
  if (leaked !== 0) console.log(`\n${footer[0]}`);
  return {
    code: leaked !== 0 ? 1 : 0,
    json: { config: configName, plain, timed, kernels, inKernels, outside },
    jsonPath: opts.json || undefined,
    header,
    table: printed,
    footer,
    ratios: [],
  };
}

runBench('profile', main);
