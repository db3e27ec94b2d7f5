// A checkpoint carried as one file: `lumen checkpoint export`, then `import`, then `lumen
// predict` gives byte-identical JSON Lines to predicting from the original folder. Run in
// process through the `lumen` tree (the one project that holds both apps' commands).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { program } from './main';

const ROOT = resolve(__dirname, '../../..');

/** `lumen …` in process, its stdout and stderr captured. */
async function lumen(...args: string[]): Promise<string> {
  let stdout = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program().parseAsync(['node', 'lumen', ...args]);
    return stdout;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lumen-roundtrip-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('export -> import -> predict gives the JSON Lines of the original checkpoint, byte for byte', async () => {
  const data = join(work, 'digits');
  const tiny = ['data.dataset.digits.train=4', 'data.dataset.digits.val=2', 'data.dataset.digits.test=2', 'data.dataset.digits.shift=0', 'data.image.minSize=96', 'data.image.maxSize=128', 'data.augment.scaleJitter.prob=0', 'model.backbone.width=0.125', 'model.rcnn.hidden=32', 'model.rpn.batchSizePerImage=32', 'model.rcnn.batchSizePerImage=16', 'train.steps=2', 'train.evalEvery=0', 'eval.finalSplits=[]'];
  const job = join(work, 'job');
  await lumen('train', '--config', join(ROOT, 'configs/digits.yaml'), '--set', `data.dataset.dir=${data}`, ...tiny.flatMap((s) => ['--set', s]), '--job-dir', job, '--plain');
  const original = join(job, 'checkpoint-0000002');
  expect(existsSync(join(original, 'weights.safetensors'))).toBe(true);

  const archive = join(work, 'model.tar.gz');
  const copy = join(work, 'imported');
  expect(await lumen('checkpoint', 'export', original, '--out', archive)).toMatch(/^exported .* -> .*model\.tar\.gz/);
  expect(await lumen('checkpoint', 'import', archive, '--out', copy)).toMatch(/weights sha256 verified\) -> /);

  const images = readdirSync(join(data, 'JPEGImages')).sort().map((name) => join(data, 'JPEGImages', name));
  expect(images.length).toBeGreaterThanOrEqual(8);
  const predict = async (checkpoint: string, output: string) => {
    await lumen('predict', '--checkpoint', checkpoint, '--min-prob', '0', '--no-progress', '--output', output, ...images);
    return readFileSync(output);
  };
  const before = await predict(original, join(work, 'original.jsonl'));
  const after = await predict(copy, join(work, 'imported.jsonl'));
  const lines = before.toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as { objects: unknown[] });
  expect(lines).toHaveLength(images.length);
  expect(lines.every((line) => line.objects.length > 0)).toBe(true);
  expect(after.equals(before)).toBe(true);
});
