// The `lumen predict` command end to end, as a user runs it: a child process through the
// workspace's `lumen` bin (tsx, the @lumen/runtime backend), real files, exit codes.
import { UserError } from '@lumen/core';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { runPredictCommand, runServerCommand, type ServerCliOptions } from './commands';
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
  let failing: Run, good: Run, unknown: Run, noCheckpoint: Run, diskFull: Run, portTaken: Run;
  let output: string;
  let taken: Server;
  let takenPort: number;
  // Six commands at once (each spends most of its time starting up).
  beforeAll(async () => {
    output = join(dir, 'out', 'predictions.jsonl');
    taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    takenPort = (taken.address() as { port: number }).port;
    [failing, good, unknown, noCheckpoint, diskFull, portTaken] = await Promise.all([
      lumen(['predict', `--checkpoint=${checkpoint}`, `--input=${join(dir, 'images')}`, `--output=${output}`, '--min-prob=0', `--save-media=${join(dir, 'media')}`]),
      lumen(['predict', '--checkpoint', checkpoint, '--input', `${dir}/images/*.png`, join(dir, 'images/sub/c.jpg'), '--min-prob=0.3', '--only-class=cat,dog', '--max-detections=5']),
      lumen(['predict', `--checkpoint=${checkpoint}`, `--input=${join(dir, 'images')}`, '--ignore-class=horse']),
      lumen(['predict', `--checkpoint=${join(dir, 'nope')}`, `--input=${join(dir, 'images')}`]),
      lumen(['predict', `--checkpoint=${checkpoint}`, `--input=${join(dir, 'images')}`, '--output=/dev/full']),
      lumen(['server', `--checkpoint=${checkpoint}`, `--port=${takenPort}`]),
    ]);
  }, 120000);
  afterAll(() => taken?.close());

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

  it('an output that fails mid-run (/dev/full: ENOSPC) ends with one line, exit code 2, no summary', () => {
    expect(diskFull.code).toBe(2);
    expect(diskFull.stderr.trim().split('\n').at(-1)).toBe('lumen: cannot write the predictions to /dev/full: no space left on the device (ENOSPC); the file holds only the lines written before it');
    expect(diskFull.stderr).not.toMatch(/image\(s\)|at \w+ \(/);
  });

  it('lumen server on a port in use: one line naming host:port, before the model loads, exit code 2', () => {
    expect(portTaken.code).toBe(2);
    // One line and nothing else: the backend, which the model needs, was never set up.
    expect(portTaken.stderr).toBe(`lumen: port ${takenPort} on 127.0.0.1 is in use by another program: pick another with --port\n`);
  });

  it('--output and --save-media are checked before the model loads (a missing checkpoint is not reached)', async () => {
    const opts = { checkpoint: join(dir, 'nope'), input: [join(dir, 'images')], minProb: '0.5', maxDetections: '100', onlyClass: [], ignoreClass: [], concurrency: '2', prefetch: '4', progress: false };
    mkdirSync(join(dir, 'a-folder'), { recursive: true });
    writeFileSync(join(dir, 'a-file'), '');
    await expect(runPredictCommand([], { ...opts, output: join(dir, 'a-folder') })).rejects.toStrictEqual(
      new UsageError(`--output ${join(dir, 'a-folder')} is a folder: give a file name, e.g. --output ${join(dir, 'a-folder', 'predictions.jsonl')}`),
    );
    await expect(runPredictCommand([], { ...opts, output: join(dir, 'a-file', 'out.jsonl') })).rejects.toStrictEqual(
      new UsageError(`--output ${join(dir, 'a-file', 'out.jsonl')}: cannot create its folder ${join(dir, 'a-file')}: a file is in the way (EEXIST)`),
    );
    await expect(runPredictCommand([], { ...opts, saveMedia: join(dir, 'a-file') })).rejects.toStrictEqual(
      new UsageError(`--save-media ${join(dir, 'a-file')} is a file: give a folder for the drawn images (it is created when missing)`),
    );
    expect(existsSync(join(dir, 'a-folder', 'predictions.jsonl'))).toBe(false);
  });

  it('lumen server: bad numbers and a taken port are usage errors before the model loads', async () => {
    const opts: ServerCliOptions = { checkpoint: join(dir, 'nope'), port: '0', host: '127.0.0.1', maxBytes: '10mb', queue: '8', timeout: '30', maxConnections: '32', minProb: '0.5', maxDetections: '100' };
    const cases: Array<[Partial<ServerCliOptions>, string]> = [
      [{ timeout: 'abc' }, "--timeout must be a number of seconds greater than 0, but got 'abc'"],
      [{ timeout: '0' }, "--timeout must be a number of seconds greater than 0, but got '0'"],
      [{ maxConnections: '0' }, "--max-connections must be a positive integer, but got '0'"],
      [{ maxConnections: '1.5' }, "--max-connections must be a positive integer, but got '1.5'"],
      [{ port: '' }, "--port must be a port number (0-65535), but got ''"],
      [{ port: '70000' }, "--port must be a port number (0-65535), but got '70000'"],
      [{ queue: '' }, "--queue must be a non-negative integer, but got ''"],
    ];
    for (const [change, message] of cases) await expect(runServerCommand({ ...opts, ...change })).rejects.toStrictEqual(new UsageError(message));
    await expect(runServerCommand({ ...opts, port: String(takenPort) })).rejects.toStrictEqual(
      new UserError(`port ${takenPort} on 127.0.0.1 is in use by another program: pick another with --port`),
    );
  });

  it('no input is a usage error', async () => {
    const opts = { checkpoint, input: [], minProb: '0.5', maxDetections: '100', onlyClass: [], ignoreClass: [], concurrency: '2', prefetch: '4', progress: false };
    await expect(runPredictCommand([], opts)).rejects.toThrow(new UsageError('no input: give image or video files, folders or globs with --input=PATH (repeatable)'));
    await expect(runPredictCommand([join(dir, 'images')], { ...opts, minProb: '2' })).rejects.toThrow("--min-prob must be a number from 0 to 1, but got '2'");
  });
});
