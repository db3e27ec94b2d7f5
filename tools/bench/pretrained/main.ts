/**
 * Pretrained-model benchmark: torchvision's Faster R-CNN files through Lumen, next to
 * torchvision itself in the same run, on the same weights and images.
 *
 *   npx nx run tools:bench-pretrained [--runs=3] [--warmup=1] [--import-runs=3]
 *       [--torch-threads=2] [--python=/usr/bin/python3] [--json=PATH]
 *
 * It cannot run without the PyTorch peer (pretrained_torch.py, Debian's python3-torchvision):
 * the peer makes the .pth files and images in a temporary folder (random weights calibrated
 * as tools/fixtures/detector_parity_fixtures.py calibrates its own, so scores spread and NMS
 * and top-k have work; full width, COCO's 91 classes); without it (or with --no-torch) the
 * bench says why and exits 1.
 *
 * Rows:
 *  - resnet50_fpn, one 800x1088 image (scale 1 at min 800 / max 1333), and
 *    mobilenet_v3_large_320_fpn, one 480x640 image (resized to 320x426): latency per image,
 *    median of --runs after --warmup. torchvision: `model([image])` in eval mode on a
 *    [3, H, W] float tensor in [0, 1] at the original size (normalise, resize, pad, network,
 *    postprocess). Lumen: the file imported by `lumen checkpoint import`, `loadDetector`, and
 *    from the PNG's decoded bytes at the original size: torchvision's bilinear resize to
 *    [0, 1] floats (`interpolateBilinear`, as `lumen predict` prepares an image for an
 *    imported config), then `detect` (normalise, pad, network, postprocess). The PNG decode
 *    is outside both timings. Detections: how many each side returned on the last run.
 *  - resnet50_fpn .pth import: wall time of `node apps/cli/bin/lumen.js checkpoint import`
 *    as a child process (node and tsx start-up, backend, read, map, write the checkpoint),
 *    median of --import-runs, each into a fresh --out; `importTorchvision` in this process
 *    (the import alone); `loadDetector` of the imported checkpoint (once). Each next to
 *    torch.load + load_state_dict of the same file into a built model (median of 3).
 * The backend is @lumen/runtime's choice (wasm here; LUMEN_BACKEND overrides). Progress goes
 * to stderr, the table to stdout. No bar is set; exits 1 when a run fails or leaks tensors.
 */
import { decodeImage, interpolateBilinear, resizedSize } from '@lumen/data';
import { importTorchvision, loadDetector, type DetectorInput } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseOptions, TORCH_THREADS } from '../kit/options';
import { peerRatio, ratios, type BenchOutcome, type PeerRatio } from '../kit/results';
import { runBench } from '../kit/run';
import { median, sampleRuns, type Timing } from '../kit/stats';
import { formatMs, formatRatio, markdownTable } from '../kit/table';
import { peerUnavailable, runPeer } from '../kit/torch-peer';

const USAGE =
  'usage: tsx tools/bench/pretrained/main.ts [--runs=3] [--warmup=1] [--import-runs=3] [--torch-threads=2] [--python=PATH] [--json=PATH]\n' +
  'Needs the PyTorch peer (/usr/bin/python3 with torchvision): it makes the .pth files the bench imports; --no-torch only says so.';

const R50 = 'fasterrcnn_resnet50_fpn';
const MOBILENET = 'fasterrcnn_mobilenet_v3_large_320_fpn';
const CLI = resolve(__dirname, '../../../apps/cli/bin/lumen.js');

function readOptions(argv: string[]) {
  const o = parseOptions(argv, {
    usage: USAGE,
    runs: 3,
    warmup: 1,
    counts: { 'import-runs': { default: 3, min: 1 }, 'torch-threads': TORCH_THREADS },
  });
  if (o == null) return null;
  const { runs, warmup, torch, python, json, counts } = o;
  return { runs, warmup, torch, python, json, importRuns: counts['import-runs'], torchThreads: counts['torch-threads'] };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

const log = (message: string) => process.stderr.write(`[bench-pretrained] ${message}\n`);

/** What the peer prints. */
interface PeerModel extends Timing {
  arch: string;
  file: string;
  bytes: number;
  image: string;
  height: number;
  width: number;
  weightsSeconds: number;
  detections: number;
  /** resnet50_fpn only: torch.load + load_state_dict. */
  load?: Timing;
}

interface PeerResult {
  torch: string;
  torchvision: string;
  threads: number;
  blas: string;
  models: PeerModel[];
}

interface InferenceResult extends Timing {
  arch: string;
  detections: number;
  inputWidth: number;
  inputHeight: number;
}

interface ImportResult {
  megabytes: number;
  cli: Timing;
  inProcess: Timing;
  loadDetectorMs: number;
}

/** `lumen checkpoint import FILE --arch ARCH --out OUT` as a child process; its wall ms. */
function cliImport(file: string, arch: string, out: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, 'checkpoint', 'import', file, '--arch', arch, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - start;
      if (code !== 0 || !output.includes(`(${arch}, `)) return reject(new Error(`lumen checkpoint import exited with code ${code}:\n${output}`));
      resolveRun(ms);
    });
  });
}

/** Import times of the resnet50_fpn file; leaves the first CLI import's checkpoint at `keep`. */
async function benchImport(opts: Options, file: string, bytes: number, scratch: string, keep: string): Promise<ImportResult> {
  const cli: number[] = [];
  for (let i = 0; i < opts.importRuns; i++) {
    const out = i === 0 ? keep : join(scratch, `import-cli-${i}`);
    cli.push(await cliImport(file, R50, out));
    if (i > 0) rmSync(out, { recursive: true, force: true });
    log(`${R50}: lumen checkpoint import run ${i + 1}/${opts.importRuns}: ${cli[i].toFixed(0)} ms`);
  }
  const tensors = tf.memory().numTensors;
  const inProcess = await sampleRuns(
    async (i) => {
      const out = join(scratch, `import-in-process-${i}`);
      await importTorchvision({ file, arch: R50, out });
      rmSync(out, { recursive: true, force: true });
    },
    { warmup: 0, runs: opts.importRuns },
    (i, ms) => log(`${R50}: importTorchvision run ${i + 1}/${opts.importRuns}: ${ms.toFixed(0)} ms`),
  );
  if (tf.memory().numTensors !== tensors) throw new Error(`importTorchvision: ${tf.memory().numTensors - tensors} tensor(s) leaked`);
  const start = performance.now();
  loadDetector(keep).dispose();
  const loadDetectorMs = performance.now() - start;
  log(`${R50}: loadDetector ${loadDetectorMs.toFixed(0)} ms`);
  if (tf.memory().numTensors !== tensors) throw new Error(`loadDetector + dispose: ${tf.memory().numTensors - tensors} tensor(s) leaked`);
  return {
    megabytes: bytes / 1e6,
    cli: { ms: median(cli), samples: cli },
    inProcess: { ms: median(inProcess), samples: inProcess },
    loadDetectorMs,
  };
}

/** Latency of one image from its decoded bytes at the original size to detections. */
async function benchInference(opts: Options, checkpoint: string, model: PeerModel, png: string): Promise<InferenceResult> {
  const loaded = loadDetector(checkpoint);
  try {
    const { width, height } = model;
    if (loaded.imageSize.resize !== 'torchvision') throw new Error(`${checkpoint}: resize ${loaded.imageSize.resize}, expected 'torchvision' for an imported model`);
    // Scale 1: the PNG's own bytes (sharp's same-size resize is a copy), what decodeImage
    // renders before torchvision's bilinear.
    const raw = await decodeImage(png, { minSize: Math.min(width, height), maxSize: Math.max(width, height) });
    if (raw.width !== width || raw.height !== height) throw new Error(`${png}: ${raw.width}x${raw.height}, the peer said ${width}x${height}`);
    const size = resizedSize(width, height, loaded.imageSize);
    const prepare = (): DetectorInput => ({
      pixels: interpolateBilinear(raw.pixels, width, height, size.width, size.height),
      width: size.width,
      height: size.height,
      originalWidth: width,
      originalHeight: height,
    });
    // The timed preparation is `lumen predict`'s, value for value.
    const predicted = await decodeImage(png, loaded.imageSize);
    const mine = prepare();
    if (predicted.width !== mine.width || predicted.height !== mine.height || predicted.pixels.some((v, i) => v !== mine.pixels[i])) {
      throw new Error(`${png}: the timed input differs from decodeImage(png, loaded.imageSize)'s`);
    }
    let detections = 0;
    let tensors = -1;
    const samples = await sampleRuns(
      async () => {
        const [found] = await loaded.detect([prepare()]);
        detections = found.scores.length;
      },
      opts,
      (i, ms) => {
        log(`${model.arch} ${width}x${height} run ${i + 1}/${opts.warmup + opts.runs}: ${ms.toFixed(0)} ms, ${detections} detections${i < opts.warmup ? ' (warm-up)' : ''}`);
        if (tensors < 0) tensors = tf.memory().numTensors;
        else if (tf.memory().numTensors !== tensors) throw new Error(`${model.arch}: ${tf.memory().numTensors - tensors} tensor(s) leaked`);
      },
    );
    return { arch: model.arch, ms: median(samples), samples, detections, inputWidth: size.width, inputHeight: size.height };
  } finally {
    loaded.dispose();
  }
}

async function main(): Promise<number | BenchOutcome> {
  const opts = readOptions(process.argv.slice(2));
  if (opts == null) return 0;
  const unavailable = peerUnavailable(opts, ['numpy', 'PIL']);
  if (unavailable != null) {
    log(`cannot run: the PyTorch peer makes the .pth files and images this bench imports and times (${unavailable})`);
    return 1;
  }
  const backend = await initBackend({ log });
  const scratch = mkdtempSync(join(tmpdir(), 'lumen-bench-pretrained-'));
  const failures: string[] = [];
  const inference: InferenceResult[] = [];
  let imported: ImportResult | null = null;
  let peer: PeerResult;
  try {
    log(`torchvision peer: making the weights and images in ${scratch}, timing torchvision (takes minutes)`);
    const args = [`--dir=${scratch}`, `--warmup=${opts.warmup}`, `--runs=${opts.runs}`, `--threads=${opts.torchThreads}`];
    peer = await runPeer<PeerResult>(opts.python, join(__dirname, 'pretrained_torch.py'), args);
    const r50 = peer.models.find((m) => m.arch === R50);
    const checkpoints = new Map<string, string>();
    if (r50 != null) {
      const keep = join(scratch, `${R50}-checkpoint`);
      try {
        imported = await benchImport(opts, join(scratch, r50.file), r50.bytes, scratch, keep);
        checkpoints.set(R50, keep);
      } catch (error) {
        failures.push(`${R50} import: ${(error as Error).message}`);
        rmSync(keep, { recursive: true, force: true }); // the inference row imports it afresh
      }
    }
    for (const model of peer.models) {
      try {
        let checkpoint = checkpoints.get(model.arch);
        if (checkpoint == null) {
          checkpoint = join(scratch, `${model.arch}-checkpoint`);
          const ms = await cliImport(join(scratch, model.file), model.arch, checkpoint);
          log(`${model.arch}: lumen checkpoint import ${ms.toFixed(0)} ms`);
        }
        inference.push(await benchInference(opts, checkpoint, model, join(scratch, model.image)));
      } catch (error) {
        failures.push(`${model.arch}: ${(error as Error).message}`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  const chart: Array<PeerRatio | null> = [];
  const ms = (t: Timing | number | null | undefined) => `${formatMs(typeof t === 'number' ? t : t?.ms)} ms`;
  const describe: Record<string, string> = {
    [R50]: 'resnet50_fpn (full width, 91 classes)',
    [MOBILENET]: 'mobilenet_v3_large_320_fpn (full width, 91 classes)',
  };
  for (const model of peer.models) {
    const lumen = inference.find((r) => r.arch === model.arch);
    const input = lumen != null ? `${lumen.inputWidth}x${lumen.inputHeight}` : '?';
    rows.push([
      `${describe[model.arch] ?? model.arch}, one ${model.height}x${model.width} image (network input ${input} WxH), latency, median of ${opts.runs}`,
      lumen ? ms(lumen) : '—',
      ms(model),
      formatRatio(lumen?.ms, model.ms),
      `${lumen?.detections ?? '—'} / ${model.detections}`,
    ]);
    chart.push(peerRatio(`${model.arch.replace(/^fasterrcnn_/, '')}, ${model.height}x${model.width} image, latency`, lumen?.ms, model.ms));
  }
  const load = peer.models.find((m) => m.arch === R50)?.load;
  if (imported != null) {
    const size = `${imported.megabytes.toFixed(1)} MB .pth`;
    const runs = `median of ${opts.importRuns}`;
    rows.push([`resnet50_fpn ${size}: \`lumen checkpoint import\` child process (start-up + read + map + write checkpoint), ${runs}`, ms(imported.cli), ms(load), formatRatio(imported.cli.ms, load?.ms), '']);
    rows.push([`resnet50_fpn ${size}: importTorchvision in process (read + map + write checkpoint), ${runs}`, ms(imported.inProcess), ms(load), formatRatio(imported.inProcess.ms, load?.ms), '']);
    rows.push([`resnet50_fpn imported checkpoint: loadDetector (read safetensors + build), 1 run`, ms(imported.loadDetectorMs), ms(load), formatRatio(imported.loadDetectorMs, load?.ms), '']);
    // Against torch.load + load_state_dict of the same file.
    chart.push(
      peerRatio('resnet50_fpn .pth, `lumen checkpoint import` vs torch.load', imported.cli.ms, load?.ms),
      peerRatio('resnet50_fpn .pth, importTorchvision vs torch.load', imported.inProcess.ms, load?.ms),
      peerRatio('resnet50_fpn, loadDetector vs torch.load', imported.loadDetectorMs, load?.ms),
    );
  }
  const columns = ['row', 'Lumen', 'torchvision', 'ratio', 'detections Lumen / torchvision'].map((title, c) => ({ title, cell: (row: string[]) => row[c], align: 'left' as const }));
  const header = [
    `backend: ${backend.name} (${backend.detail}${backend.name === 'wasm' ? `, ${backend.threads} threads` : ''}); ` +
      `torchvision ${peer.torchvision} / torch ${peer.torch}, ${peer.threads} threads, BLAS ${peer.blas}`,
    'Latency: torchvision times model([image]) from a [0, 1] float tensor at the original size (normalise + resize + network + postprocess); ' +
      'Lumen times torchvision-style bilinear resize of the decoded bytes + detect (normalise + network + postprocess). PNG decode excluded on both sides. ' +
      'Import rows compare with torch.load + load_state_dict of the same file (model built beforehand, median of 3).',
  ];
  const printed = markdownTable(columns, rows);
  const footer = failures.map((f) => `FAILED ${f}`);
  const lines = [...header, '', printed];
  if (failures.length > 0) lines.push('', ...footer);
  process.stdout.write(lines.join('\n') + '\n');
  return {
    code: failures.length > 0 ? 1 : 0,
    json: { backend, torch: peer, inference, imported, failures },
    jsonPath: opts.json || undefined,
    header,
    table: printed,
    footer,
    ratios: ratios(chart),
  };
}

runBench('pretrained', main);
