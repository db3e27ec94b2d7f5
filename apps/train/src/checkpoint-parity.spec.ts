import { decodeImage } from '@lumen/data';
import { loadDetector, type LoadedDetector } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkpointCommands } from './checkpoint-cli';
import { matched, type NamedDetection } from './testing/detection-parity';

// Whole-model parity with torchvision, the bar of issue #16: each of torchvision's four Faster
// R-CNN builders, as a narrow model with random weights
// (tools/fixtures/detector_parity_fixtures.py), imported by `lumen checkpoint import` and run
// by `loadDetector` on images decoded as `lumen predict` decodes them (`loaded.imageSize`: the
// checkpoint's sizes and torchvision's resize). At least 95% of torchvision's detections with
// probability >= 0.07 must have a Lumen detection of the same class with IoU >= 0.9 and
// probability within 0.02, and the other way round. LUMEN_PARITY_FULL=DIR also runs the
// full-width models `--full DIR` wrote there; LUMEN_PARITY_LOG=1 prints the counts.

const FIXTURES = resolve(__dirname, '../../../libs/detector/src/fixtures/torchvision-detectors');
const BAR = 0.95;

interface Case {
  arch: string;
  file: string;
  classes: string;
  set: string[];
  images: Array<{ file: string; height: number; width: number; detections: Array<{ box: number[]; name: string; score: number }> }>;
}

const sources = [FIXTURES, ...(process.env.LUMEN_PARITY_FULL ? [process.env.LUMEN_PARITY_FULL] : [])];
const cases = sources.flatMap((dir) => (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).cases as Case[]).map((c) => ({ dir, ...c })));

let work: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => undefined });
  work = mkdtempSync(join(tmpdir(), 'lumen-parity-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `lumen checkpoint import …` through the command the CLI assembles; its summary line returned. */
async function lumenCheckpoint(args: string[]): Promise<string> {
  const program = new Command('lumen').exitOverride();
  checkpointCommands().forEach((c) => program.addCommand(c.exitOverride()));
  let printed = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((printed += String(chunk)), true));
  try {
    await program.parseAsync(['node', 'lumen', 'checkpoint', ...args]);
  } finally {
    write.mockRestore();
  }
  return printed;
}

async function detectFile(loaded: LoadedDetector, path: string): Promise<NamedDetection[]> {
  const image = await decodeImage(path, loaded.imageSize);
  const [found] = await loaded.detect([image]);
  return found.scores.map((score, i) => ({ box: found.boxes[i], name: loaded.classes[found.labels[i] - 1], score }));
}

describe('a torchvision Faster R-CNN imported by `lumen checkpoint import`', () => {
  it.each(cases.map((c) => [c.arch, c]))('%s detects what torchvision detects', async (_, c) => {
    const out = join(work, `${c.arch}-${sources.indexOf(c.dir)}`);
    const classes = c.classes === 'coco' ? 'coco' : join(c.dir, c.classes);
    const printed = await lumenCheckpoint(['import', join(c.dir, c.file), '--arch', c.arch, '--out', out, '--classes', classes, ...c.set.flatMap((s) => ['--set', s])]);
    expect(printed).toContain(`(${c.arch}, `);
    const loaded = loadDetector(out);
    try {
      expect(loaded.imageSize.resize).toBe('torchvision');
      let forward = { matched: 0, total: 0 };
      let backward = { matched: 0, total: 0 };
      const missed: string[] = [];
      for (const image of c.images) {
        const ours = await detectFile(loaded, join(c.dir, image.file));
        const a = matched(image.detections, ours);
        const b = matched(ours, image.detections);
        forward = { matched: forward.matched + a.matched, total: forward.total + a.total };
        backward = { matched: backward.matched + b.matched, total: backward.total + b.total };
        missed.push(...a.unmatched.map((d) => `${image.file}: torchvision's ${JSON.stringify(d)}`), ...b.unmatched.map((d) => `${image.file}: Lumen's ${JSON.stringify(d)}`));
      }
      if (process.env.LUMEN_PARITY_LOG) process.stderr.write(`${c.arch} (${c.dir}): torchvision -> Lumen ${forward.matched}/${forward.total}, Lumen -> torchvision ${backward.matched}/${backward.total}\n${missed.join('\n')}\n`);
      expect(forward.total).toBeGreaterThan(20);
      expect({ torchvisionMatched: forward.matched / forward.total >= BAR, lumenMatched: backward.matched / backward.total >= BAR, missed }).toEqual(
        expect.objectContaining({ torchvisionMatched: true, lumenMatched: true }),
      );
    } finally {
      loaded.dispose();
    }
  });
});
