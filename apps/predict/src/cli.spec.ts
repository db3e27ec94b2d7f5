// The `lumen predict` command end to end, as a user runs it: a child process through the
// workspace's `lumen` bin (tsx, the @lumen/runtime backend), real files, exit codes.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runPredictCommand } from './commands';
import { UsageError } from './objects';
import type { PredictLine } from './predict';
import { makeTinyCheckpoint, testImage, TINY_CLASSES } from './testing/tiny-checkpoint';

const ROOT = resolve(__dirname, '../../..');
const LUMEN = join(ROOT, 'apps/cli/bin/lumen.js');

function lumen(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [LUMEN, ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' }, timeout: 60000 }, (error, stdout, stderr) => {
      done({ code: error == null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

const parse = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as PredictLine);

describe('lumen predict (child process)', () => {
  let dir: string;
  let checkpoint: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-cli-'));
    checkpoint = join(dir, 'checkpoint');
    await makeTinyCheckpoint(checkpoint);
    mkdirSync(join(dir, 'images', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'images', '2.png'), await testImage(120, 90, 'png', 1));
    writeFileSync(join(dir, 'images', '10.png'), await testImage(80, 100, 'png', 2));
    writeFileSync(join(dir, 'images', 'sub', 'c.jpg'), await testImage(150, 100, 'jpeg', 3));
    writeFileSync(join(dir, 'images', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  type Run = Awaited<ReturnType<typeof lumen>>;
  let failing: Run, good: Run, unknown: Run, noCheckpoint: Run;
  let output: string;
  // Four commands at once (each spends most of its time starting up).
  beforeAll(async () => {
    output = join(dir, 'out', 'predictions.jsonl');
    [failing, good, unknown, noCheckpoint] = await Promise.all([
      lumen(['predict', `--checkpoint=${checkpoint}`, `--input=${join(dir, 'images')}`, `--output=${output}`, '--min-prob=0', `--save-media=${join(dir, 'media')}`]),
      lumen(['predict', '--checkpoint', checkpoint, '--input', `${dir}/images/*.png`, join(dir, 'images/sub/c.jpg'), '--min-prob=0.3', '--only-class=cat,dog', '--max-detections=5']),
      lumen(['predict', `--checkpoint=${checkpoint}`, `--input=${join(dir, 'images')}`, '--ignore-class=horse']),
      lumen(['predict', `--checkpoint=${join(dir, 'nope')}`, `--input=${join(dir, 'images')}`]),
    ]);
  }, 120000);

  it('folders, globs and files in order; an unreadable file is an error line and on stderr; exit code 1', () => {
    expect(failing.code).toBe(1);
    expect(failing.stdout).toBe('');
    const lines = parse(readFileSync(output, 'utf8'));
    expect(lines.map((l) => l.file)).toEqual(['2.png', '10.png', 'broken.jpg', 'sub/c.jpg'].map((f) => join(dir, 'images', f)));
    expect(lines[2]).toEqual({ file: join(dir, 'images', 'broken.jpg'), objects: [], error: expect.stringContaining('cannot decode') });
    expect(lines[0].objects.length).toBeGreaterThan(0);
    expect(failing.stderr).toContain(`lumen predict: ${join(dir, 'images', 'broken.jpg')}: cannot decode`);
    expect(failing.stderr).toMatch(/4 image\(s\), \d+ object\(s\), 1 failed/);
    expect(readdirSync(join(dir, 'media')).sort()).toEqual(['10.png', '2.png', 'c.jpg']);
  });

  it('JSON Lines on stdout with the filters applied; exit code 0', () => {
    expect(good.code).toBe(0);
    const lines = parse(good.stdout);
    expect(lines.map((l) => l.file)).toEqual([join(dir, 'images/2.png'), join(dir, 'images/10.png'), join(dir, 'images/sub/c.jpg')]);
    for (const line of lines) {
      expect(line.objects.length).toBeLessThanOrEqual(5);
      for (const o of line.objects) {
        expect(['cat', 'dog']).toContain(o.label);
        expect(o.prob).toBeGreaterThanOrEqual(0.3);
      }
    }
  });

  it("usage errors exit 2: an unknown class (listing the checkpoint's classes), a missing checkpoint", () => {
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain(`lumen: --ignore-class: unknown class 'horse'; the checkpoint's classes are: ${TINY_CLASSES.join(', ')}`);
    expect(noCheckpoint.code).toBe(2);
    expect(noCheckpoint.stderr).toContain(`lumen: checkpoint ${join(dir, 'nope')} does not exist`);
  });

  it('no input is a usage error', async () => {
    const opts = { checkpoint, input: [], minProb: '0.5', maxDetections: '100', onlyClass: [], ignoreClass: [], concurrency: '2', prefetch: '4', progress: false };
    await expect(runPredictCommand([], opts)).rejects.toThrow(new UsageError('no input: give image files, folders or globs with --input=PATH (repeatable)'));
    await expect(runPredictCommand([join(dir, 'images')], { ...opts, minProb: '2' })).rejects.toThrow("--min-prob must be a number from 0 to 1, but got '2'");
  });
});
