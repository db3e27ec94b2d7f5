/**
 * Prediction queue benchmark: what `lumen predict --redis` and `lumen worker` deliver.
 *
 *   npx nx run tools:bench-queue [--checkpoint=DIR] [--images=200] [--runs=2] [--warmup=0]
 *       [--queued=10000] [--json=PATH]
 *
 * Rows (Debian's /usr/bin/redis-server started here on a free port of 127.0.0.1, no
 * persistence, stopped at the end; without it the bench says so and exits 2):
 *  - digits, `lumen predict` local vs `lumen predict --redis` with 1 and with 2 `lumen worker`
 *    processes: images/s of the predict command (its own summary line's figure, start-up
 *    excluded) over a folder of the first `--images` digits test images, `--min-prob 0.01`,
 *    with the checkpoint `--checkpoint` (default: the newest jobs/digits-* /checkpoint-*; where
 *    there is none, the digits config with random weights, and the table says so). The workers
 *    (one queue per row: bench-1w, bench-2w) start once, answer a few images unmeasured (a
 *    worker is a long-running process), and serve `--warmup` + `--runs` producer runs; the
 *    three kinds of run interleave, the order rotating; medians. The queue's overhead per
 *    image is 1/queued - 1/local in ms (1 worker). Every queued run's JSON Lines must equal
 *    the local run's byte for byte ("same output"), else the bench exits 1. The predict
 *    process's peak RSS (VmHWM) is reported too: the local one holds the model, a producer not.
 *  - producer memory: peak RSS of `lumen predict --redis --in-flight 16` (2 workers, queue
 *    bench-mem) over `--queued` inputs, one 160x120 JPEG hard-linked that many times, and
 *    over a tenth of them: memory should not grow with the number of inputs. The workers run
 *    a tiny checkpoint with random weights (the digits config at 160x120 px) to be quick;
 *    one run of each.
 * The backend is @lumen/runtime's choice in every process (wasm here; LUMEN_BACKEND overrides).
 * Progress goes to stderr, the table to stdout, the result kept in tools/bench/results/queue.json
 * (kit/results.ts). No bar is set for these rows; exits 1 when a run fails, a worker does not
 * stop cleanly or an output differs.
 */
import { loadConfig } from '@lumen/config';
import { CONFIG_FILE } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { digitsCheckpoint, digitsTestImages, randomDigitsCheckpoint, type DigitsCheckpoint } from '../kit/digits';
import { runLumenPredict, type PredictRun } from '../kit/lumen-predict';
import { parseOptions } from '../kit/options';
import type { BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { median } from '../kit/stats';
import { markdownTable } from '../kit/table';
import { redisServerMissing, startRedis, startWorker, type BenchWorker } from './processes';

const USAGE = 'usage: tsx tools/bench/queue/main.ts [--checkpoint=DIR] [--images=200] [--runs=2] [--warmup=0] [--queued=10000] [--json=PATH]';

/** The producer's images on the workers at once in the memory rows. */
const IN_FLIGHT = 16;
/** The memory rows' image, and the tiny checkpoint's image size (so the model sees it as it is). */
const SMALL_IMAGE = { width: 160, height: 120 };

function readOptions(argv: string[]) {
  const o = parseOptions(argv, {
    usage: USAGE,
    runs: 2,
    warmup: 0,
    counts: { images: { default: 200, min: 1 }, queued: { default: 10_000, min: 10 } },
    strings: ['checkpoint'],
  });
  if (o == null) return null;
  const { counts, strings, ...common } = o;
  return { ...common, checkpoint: strings.checkpoint, images: counts.images, queued: counts.queued };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

const log = (message: string) => process.stderr.write(`[bench-queue] ${message}\n`);

type Kind = 'local' | '1w' | '2w';
const KINDS: readonly Kind[] = ['local', '1w', '2w'];
const WORKERS: Record<Exclude<Kind, 'local'>, number> = { '1w': 1, '2w': 2 };

interface KindResult {
  /** Median of the timed runs' figures, and every one. */
  imagesPerSecond: number;
  samples: number[];
  /** The predict process's peak RSS (MB), median over the timed runs. */
  peakRssMB: number;
  objects: number;
  /** Every run's JSON Lines equal the local run's (the local kind: equal to each other). */
  sameOutput: boolean;
}

interface RateResult {
  checkpoint: string;
  trained: boolean;
  images: number;
  kinds: Record<Kind, KindResult>;
  /** 1/queued - 1/local with 1 worker, ms per image. */
  overheadMs: number;
}

interface MemoryRow {
  inputs: number;
  peakRssMB: number;
  imagesPerSecond: number;
  objects: number;
}

/** Stops the workers, all of them even when one fails; rejects with the first failure. */
async function stopAll(workers: readonly BenchWorker[]): Promise<void> {
  const results = await Promise.allSettled(workers.map((w) => w.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed != null) throw failed.reason;
}

/** Starts `count` workers on `queue` (one after the other: each compiles and loads the model). */
async function startWorkers(redis: string, checkpoint: string, queue: string, count: number, into: BenchWorker[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    into.push(await startWorker(redis, checkpoint, queue));
    log(`worker ${i + 1}/${count} serving queue ${queue}`);
  }
}

function predictArgs(checkpoint: string, input: string, output: string, queue: { redis: string; name: string; inFlight?: number } | null): string[] {
  const remote = queue == null ? [] : ['--redis', queue.redis, '--queue-name', queue.name, ...(queue.inFlight != null ? ['--in-flight', String(queue.inFlight)] : [])];
  return [...remote, '--checkpoint', checkpoint, '--input', input, '--output', output, '--min-prob', '0.01', '--no-progress'];
}

async function benchRate(opts: Options, { dir: checkpoint, trained }: DigitsCheckpoint, redis: string, scratch: string): Promise<RateResult> {
  const files = await digitsTestImages(loadConfig(join(checkpoint, CONFIG_FILE)).config, opts.images, log);
  const folder = join(scratch, 'images');
  mkdirSync(folder);
  for (const file of files) copyFileSync(file, join(folder, basename(file)));
  log(`digits: ${files.length} test images in ${folder}, checkpoint ${checkpoint}`);

  const workers: BenchWorker[] = [];
  try {
    const queues = { '1w': 'bench-1w', '2w': 'bench-2w' } as const;
    for (const kind of ['1w', '2w'] as const) await startWorkers(redis, checkpoint, queues[kind], WORKERS[kind], workers);
    // Long-running workers have their kernels set up: a few images each, unmeasured.
    const priming = join(scratch, 'priming');
    mkdirSync(priming);
    for (const file of files.slice(0, 8)) copyFileSync(file, join(priming, basename(file)));
    for (const kind of ['1w', '2w'] as const) {
      await runLumenPredict(predictArgs(checkpoint, priming, join(scratch, `priming-${kind}.jsonl`), { redis, name: queues[kind] }));
    }

    const runs: Record<Kind, PredictRun[]> = { local: [], '1w': [], '2w': [] };
    const same: Record<Kind, boolean> = { local: true, '1w': true, '2w': true };
    // The first round starts with the local run: its output is the reference.
    let reference: Buffer | null = null;
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      // Rotate the order, so a drift in the machine's load falls on every kind alike.
      const order = KINDS.map((_, k) => KINDS[(k + i) % KINDS.length]);
      for (const kind of order) {
        const output = join(scratch, `${kind}-${i}.jsonl`);
        const queue = kind === 'local' ? null : { redis, name: queues[kind] };
        const run = await runLumenPredict(predictArgs(checkpoint, folder, output, queue), { rss: true });
        if (run.images !== files.length) throw new Error(`${kind}: ${run.images} image(s) predicted, expected ${files.length}`);
        const warm = i < opts.warmup ? ' (warm-up)' : '';
        log(`run ${i + 1}/${opts.warmup + opts.runs}, ${kind}: ${run.imagesPerSecond.toFixed(2)} images/s, ${run.objects} objects, peak RSS ${run.peakRssMB?.toFixed(0)} MB${warm}`);
        if (i >= opts.warmup) runs[kind].push(run);
        const text = readFileSync(output);
        rmSync(output);
        reference ??= text;
        if (!text.equals(reference)) {
          same[kind] = false;
          log(`run ${i + 1}, ${kind}: the JSON Lines differ from the first local run's`);
        }
      }
    }
    await stopAll(workers.splice(0));

    const kinds = Object.fromEntries(
      KINDS.map((kind) => {
        const samples = runs[kind].map((r) => r.imagesPerSecond);
        const result: KindResult = {
          imagesPerSecond: median(samples),
          samples,
          peakRssMB: median(runs[kind].map((r) => r.peakRssMB ?? 0)),
          objects: runs[kind][0].objects,
          sameOutput: same[kind],
        };
        return [kind, result];
      }),
    ) as Record<Kind, KindResult>;
    const overheadMs = 1000 * (1 / kinds['1w'].imagesPerSecond - 1 / kinds.local.imagesPerSecond);
    return { checkpoint, trained, images: files.length, kinds, overheadMs };
  } finally {
    await stopAll(workers).catch((error: Error) => log(error.message));
  }
}

/** `count` hard links (copies where links fail) of `image` in a new folder `dir`. */
function linkImages(image: string, dir: string, count: number): void {
  mkdirSync(dir);
  const digits = String(count).length;
  for (let i = 1; i <= count; i++) {
    const file = join(dir, `${String(i).padStart(digits, '0')}.jpg`);
    try {
      linkSync(image, file);
    } catch {
      copyFileSync(image, file);
    }
  }
}

/** A small JPEG with something on it: a gradient and a few bars. */
async function smallJpeg(file: string): Promise<void> {
  const { width, height } = SMALL_IMAGE;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bar = x % 40 < 8 && y > 20 && y < 100;
      const o = (y * width + x) * 3;
      pixels[o] = bar ? 20 : 100 + Math.round((x * 155) / width);
      pixels[o + 1] = bar ? 20 : 100 + Math.round((y * 155) / height);
      pixels[o + 2] = bar ? 20 : 180;
    }
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toFile(file);
}

async function benchMemory(opts: Options, redis: string, scratch: string): Promise<MemoryRow[]> {
  const checkpoint = join(scratch, 'checkpoint-tiny');
  await randomDigitsCheckpoint(checkpoint, [`data.image.minSize=${SMALL_IMAGE.height}`, `data.image.maxSize=${SMALL_IMAGE.width}`]);
  const image = join(scratch, 'small.jpg');
  await smallJpeg(image);
  const counts = [Math.round(opts.queued / 10), opts.queued];
  for (const count of counts) linkImages(image, join(scratch, `queued-${count}`), count);
  log(`memory: ${counts.join(' and ')} links to one ${SMALL_IMAGE.width}x${SMALL_IMAGE.height} JPEG; tiny random-weight checkpoint ${checkpoint}`);

  const workers: BenchWorker[] = [];
  try {
    await startWorkers(redis, checkpoint, 'bench-mem', 2, workers);
    const rows: MemoryRow[] = [];
    for (const count of counts) {
      const output = join(scratch, `queued-${count}.jsonl`);
      const run = await runLumenPredict(predictArgs(checkpoint, join(scratch, `queued-${count}`), output, { redis, name: 'bench-mem', inFlight: IN_FLIGHT }), { rss: true });
      rmSync(output);
      if (run.images !== count) throw new Error(`${count} queued inputs: ${run.images} image(s) predicted`);
      log(`memory, ${count} queued inputs: producer peak RSS ${run.peakRssMB?.toFixed(0)} MB, ${run.imagesPerSecond.toFixed(2)} images/s`);
      rows.push({ inputs: count, peakRssMB: run.peakRssMB ?? 0, imagesPerSecond: run.imagesPerSecond, objects: run.objects });
    }
    await stopAll(workers.splice(0));
    return rows;
  } finally {
    await stopAll(workers).catch((error: Error) => log(error.message));
  }
}

const count = (n: number) => n.toLocaleString('en-US').replace(/,/g, ' ');

async function main(): Promise<number | BenchOutcome> {
  const opts = readOptions(process.argv.slice(2));
  if (opts == null) return 0;
  const missing = redisServerMissing();
  if (missing != null) {
    process.stderr.write(`bench-queue needs Redis: ${missing}\n`);
    return 2;
  }
  // Only for the random weights built here: every `lumen` process picks its own, the same way.
  const backend = await initBackend({ log });
  const failures: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'lumen-bench-queue-'));
  let rate: RateResult | null = null;
  let memory: MemoryRow[] = [];
  let redisVersion = '';
  let checkpoint: DigitsCheckpoint | null = null;
  try {
    mkdirSync(join(scratch, 'redis'));
    const redis = await startRedis(join(scratch, 'redis'));
    redisVersion = redis.version;
    log(`${redis.version} on ${redis.url}`);
    try {
      checkpoint = await digitsCheckpoint(opts.checkpoint, 'queue', log);
      mkdirSync(join(scratch, 'rate'));
      try {
        rate = await benchRate(opts, checkpoint, redis.url, join(scratch, 'rate'));
      } catch (error) {
        failures.push(`images/s: ${(error as Error).message}`);
      }
      mkdirSync(join(scratch, 'memory'));
      try {
        memory = await benchMemory(opts, redis.url, join(scratch, 'memory'));
      } catch (error) {
        failures.push(`producer memory: ${(error as Error).message}`);
      }
    } finally {
      await redis.stop();
    }
  } finally {
    checkpoint?.remove();
    rmSync(scratch, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  if (rate) {
    const what = rate.trained ? `checkpoint ${rate.checkpoint}` : 'digits config, RANDOM weights (no trained checkpoint found)';
    const runs = `median of ${opts.runs}`;
    const { local } = rate.kinds;
    const mb = (r: KindResult) => r.peakRssMB.toFixed(0);
    rows.push([`digits ${rate.images} test images, \`lumen predict\` local, ${what}, ${runs}`, `${local.imagesPerSecond.toFixed(2)} images/s`, '–', mb(local), local.sameOutput ? '(reference)' : 'no (runs differ)']);
    for (const kind of ['1w', '2w'] as const) {
      const r = rate.kinds[kind];
      const ratio = `${(r.imagesPerSecond / local.imagesPerSecond).toFixed(2)}x` + (kind === '1w' ? `, overhead ${rate.overheadMs >= 0 ? '+' : ''}${rate.overheadMs.toFixed(1)} ms/image` : '');
      const workers = WORKERS[kind] === 1 ? '1 `lumen worker`' : `${WORKERS[kind]} \`lumen worker\`s`;
      rows.push([`same, \`lumen predict --redis\`, ${workers}, ${runs}`, `${r.imagesPerSecond.toFixed(2)} images/s`, ratio, mb(r), r.sameOutput ? 'yes' : 'NO']);
    }
  }
  for (const m of memory) {
    const what = `\`lumen predict --redis --in-flight ${IN_FLIGHT}\`, 2 workers, ${count(m.inputs)} queued inputs (one ${SMALL_IMAGE.width}x${SMALL_IMAGE.height} JPEG), tiny random-weight checkpoint`;
    rows.push([what, `${m.imagesPerSecond.toFixed(2)} images/s`, '–', m.peakRssMB.toFixed(0), '–']);
  }
  const columns = ['row', 'images/s', 'vs local', 'peak RSS MB', 'same output'].map((title, c) => ({ title, cell: (row: string[]) => row[c], align: 'left' as const }));
  const header = [`backend: ${backend.name} (${backend.detail}${backend.name === 'wasm' ? `, ${backend.threads} threads` : ''}); ${redisVersion || 'redis-server'}`];
  const table = markdownTable(columns, rows);
  const footer: string[] = [];
  const sameOutput = rate == null ? null : KINDS.every((k) => rate?.kinds[k].sameOutput);
  if (sameOutput != null) footer.push(`same output: ${sameOutput ? 'yes' : 'no'} (every queued run's JSON Lines vs the local run's, byte for byte)`);
  if (memory.length === 2) {
    const [small, large] = memory;
    footer.push(`producer peak RSS: ${large.peakRssMB.toFixed(0)} MB for ${count(large.inputs)} inputs vs ${small.peakRssMB.toFixed(0)} MB for ${count(small.inputs)} (${(large.peakRssMB / small.peakRssMB).toFixed(2)}x)`);
  }
  if (sameOutput === false) failures.push('the queued output differs from the local one');
  footer.push(...failures.map((f) => `FAILED ${f}`));
  process.stdout.write([...header, '', table, ...(footer.length > 0 ? ['', ...footer] : [])].join('\n') + '\n');
  return {
    code: failures.length > 0 ? 1 : 0,
    json: { backend, redis: redisVersion, rate, memory, sameOutput, failures },
    jsonPath: opts.json,
    header,
    table,
    footer,
    ratios: [],
  };
}

runBench('queue', main);
