import { UserError } from '@lumen/core';
import { loadCheckpoint } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { Command } from 'commander';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { importCheckpointArchive } from './checkpoint-archive';
import { checkpointCommands } from './checkpoint-cli';
import { runCheckpointImport } from './checkpoint-import';
import { configDifferences } from './checkpoint-info';
import { listCheckpointsUnder } from './checkpoint-list';
import { describeClasses } from './checkpoint-summary';
import { DIGITS_CONFIG, QUIET, readMetrics, tinyOverrides } from './testing/tiny-run';
import { runTraining } from './train';

// `lumen checkpoint list | info | export | import | delete` on a tiny job (4 steps, a
// checkpoint and a val evaluation every 2), run in process through the command tree.

let work: string;
let jobs: string;
let job: string;
const checkpoint = (step: number) => join(job, `checkpoint-${String(step).padStart(7, '0')}`);

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => undefined });
  work = mkdtempSync(join(tmpdir(), 'lumen-checkpoint-tools-'));
  jobs = join(work, 'jobs');
  job = join(jobs, 'tiny-run');
  const overrides = [...tinyOverrides(join(work, 'digits')), 'train.steps=4', 'train.evalEvery=2', 'eval.finalSplits=[]'];
  await runTraining({ config: DIGITS_CONFIG, overrides, jobDir: job, ...QUIET });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `lumen checkpoint …` in process: what it printed on stdout and stderr, and the exit code it set. */
async function lumenCheckpoint(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const program = new Command('lumen').exitOverride();
  checkpointCommands().forEach((c) => program.addCommand(c.exitOverride()));
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const before = process.exitCode;
  try {
    await program.parseAsync(['node', 'lumen', 'checkpoint', ...args]);
    return { stdout, stderr, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = before;
    out.mockRestore();
    err.mockRestore();
  }
}

/** A copy of `buffer` with one bit of its last byte (tensor data) flipped. */
function flipLastByte(buffer: Buffer): Buffer {
  const copy = Buffer.from(buffer);
  copy[copy.length - 1] ^= 0x01;
  return copy;
}

describe('lumen checkpoint list', () => {
  it("lists each checkpoint of the jobs folder with its step, the val mAP logged at that step, backbone, classes and date", async () => {
    const valMaps = new Map(readMetrics(job).filter((r) => r.type === 'eval').map((r) => [r.step as number, r.mAP as number]));
    expect([...valMaps.keys()]).toEqual([2, 4]);
    // A checkpoint folder put in the jobs folder directly is listed too.
    cpSync(checkpoint(2), join(jobs, 'kept'), { recursive: true });
    try {
      const listing = listCheckpointsUnder(jobs);
      expect(listing.checkpoints.map((c) => [c.job, c.step, c.valMap, c.backbone, c.classes.length])).toEqual([
        ['kept', 2, valMaps.get(2) ?? null, 'resnet18+fpn x0.125', 10],
        ['tiny-run', 2, valMaps.get(2), 'resnet18+fpn x0.125', 10],
        ['tiny-run', 4, valMaps.get(4), 'resnet18+fpn x0.125', 10],
      ]);
      const { stdout, exitCode } = await lumenCheckpoint('list', '--jobs', jobs);
      expect(exitCode).toBe(0);
      const lines = stdout.trimEnd().split('\n');
      expect(lines[0].split(/\s{2,}/)).toEqual(['job', 'step', 'val mAP', 'backbone', 'classes', 'date']);
      expect(lines[3].split(/\s{2,}/)).toEqual(['tiny-run', '4', (valMaps.get(4) as number).toFixed(4), 'resnet18+fpn x0.125', '10 (0, 1, 2, 3, 4, 5, 6, …)', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d$/)]);
      expect(lines.at(-1)).toBe(`3 checkpoints in ${jobs}`);
    } finally {
      rmSync(join(jobs, 'kept'), { recursive: true });
    }
  });

  it('says so when the folder holds none, and names a folder that does not exist', async () => {
    mkdirSync(join(work, 'empty'));
    expect((await lumenCheckpoint('list', '--jobs', join(work, 'empty'))).stdout).toBe(
      `no checkpoints in ${join(work, 'empty')} (\`lumen train\` writes them to jobs/<run>/checkpoint-NNNNNNN)\n`,
    );
    await expect(lumenCheckpoint('list', '--jobs', join(work, 'nowhere'))).rejects.toThrow(
      new UserError(`jobs folder ${join(work, 'nowhere')} does not exist: \`lumen train\` writes its jobs there; give another folder with --jobs`),
    );
  });

  it('shortens long class lists to the width given', () => {
    expect(describeClasses(['cat', 'dog'])).toBe('2 (cat, dog)');
    expect(describeClasses(['person', 'bicycle', 'car', 'motorcycle', 'airplane'], 24)).toBe('5 (person, bicycle, …)');
    expect(describeClasses(['a-very-long-class-name'], 10)).toBe('1 (…)');
  });
});

describe('lumen checkpoint info', () => {
  it("shows the architecture, classes, step, metrics, config differences, the weights' sha256 verified, and the files", async () => {
    const dir = checkpoint(4);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    const { stdout, exitCode } = await lumenCheckpoint('info', dir);
    expect(exitCode).toBe(0);
    expect(stdout).toContain(`checkpoint    ${dir}\n`);
    expect(stdout).toContain('architecture  backbone resnet18+fpn x0.125 (batch norm trainable, first 0 stage(s) frozen); FPN over layer2, layer3, layer4 (64 channels, + pool level)\n');
    expect(stdout).toContain('RoI pooling align 7x7; box head mlp (two fc of 32)\n');
    expect(stdout).toContain('classes       10: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9\n');
    expect(stdout).toMatch(/\nstep {10}4 \(epoch \d+\), saved \d{4}-\d\d-\d\d \d\d:\d\d\n/);
    expect(stdout).toMatch(/\nmetrics {7}loss_objectness [\d.]+, .*, loss [\d.]+, mAP [\d.e-]+\n/);
    expect(stdout).toMatch(/\nevaluations {3}val: voc mAP \d\.\d{4} on 2 images \(periodic, metrics\.jsonl\)\n/);
    expect(stdout).toContain('  model.backbone.width: 0.125 (default 1)\n');
    expect(stdout).toContain('  train.steps: 4 (default 26000)\n');
    expect(stdout).toContain(`sha256 ${meta.weightsSha256} verified (matches meta.json)\n`);
    expect(stdout).toMatch(/\nfiles {9}config\.yaml [\d.]+ kB\n {14}meta\.json [\d.]+ B\n {14}optimizer\.safetensors [\d.]+ [kM]B\n {14}weights\.safetensors [\d.]+ [kM]B\n {14}total [\d.]+ MB\n/);
  });

  it('says when the weights do not match their sha256 (exit 1), and when none is recorded', async () => {
    const dir = join(work, 'info-copy');
    cpSync(checkpoint(4), dir, { recursive: true });
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    writeFileSync(join(dir, 'weights.safetensors'), flipLastByte(readFileSync(join(dir, 'weights.safetensors'))));
    const damaged = await lumenCheckpoint('info', dir);
    expect(damaged.exitCode).toBe(1);
    expect(damaged.stdout).toMatch(new RegExp(`sha256 [0-9a-f]{64} DOES NOT MATCH meta.json \\(${meta.weightsSha256}\\): the file is damaged or was changed\\n`));
    delete meta.weightsSha256;
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
    const older = await lumenCheckpoint('info', dir);
    expect(older.exitCode).toBe(0);
    expect(older.stdout).toMatch(/sha256 [0-9a-f]{64} not recorded in meta\.json \(an older checkpoint\): not verified\n/);
  });

  it('lists config differences by dotted key, a subtree against null whole, a key the defaults lack as none', () => {
    const base = { a: { b: 1, c: [1, 2] }, fpn: null, splits: { train: 'train' } };
    expect(configDifferences({ a: { b: 1, c: [1, 3] }, fpn: { levels: ['x'] }, splits: { train: 'train', shift: 'shift' } }, base)).toEqual([
      { key: 'a.c', value: [1, 3], default: [1, 2] },
      { key: 'fpn', value: { levels: ['x'] }, default: null },
      { key: 'splits.shift', value: 'shift', default: undefined },
    ]);
  });
});

describe('lumen checkpoint export / import', () => {
  it('round-trips a checkpoint through one .tar.gz: the same files, byte for byte (optimizer only when asked)', async () => {
    const archive = join(work, 'exports', 'model.tar.gz');
    const exported = await lumenCheckpoint('export', checkpoint(4), '--out', archive);
    expect(exported.stdout).toMatch(new RegExp(`^exported ${checkpoint(4)} \\(meta.json, config.yaml, weights.safetensors\\) -> ${archive} \\([\\d.]+ [kM]B\\)\\n$`));
    await expect(lumenCheckpoint('export', checkpoint(4), '--out', archive)).rejects.toThrow(`--out ${archive} already exists: pass --force to replace it`);
    const out = join(work, 'imported');
    const imported = await lumenCheckpoint('import', archive, '--out', out);
    expect(imported.stdout).toBe(`imported ${archive} (Lumen checkpoint, step 4, 10 classes, weights sha256 verified) -> ${out}\n`);
    expect(readdirSync(out).sort()).toEqual(['config.yaml', 'meta.json', 'weights.safetensors']);
    const differing = readdirSync(out).filter((file) => !readFileSync(join(out, file)).equals(readFileSync(join(checkpoint(4), file))));
    expect(differing).toEqual([]);
    expect(existsSync(`${out}.partial`)).toBe(false);
    await expect(lumenCheckpoint('import', archive, '--out', out)).rejects.toThrow(`--out ${out} already exists: give a new folder for the checkpoint`);

    await lumenCheckpoint('export', checkpoint(4), '--out', archive, '--force', '--with-optimizer');
    await importCheckpointArchive(archive, join(work, 'imported-with-optimizer'));
    expect(loadCheckpoint(join(work, 'imported-with-optimizer')).optimizer).not.toBeNull();
  });

  it("records the sha256 an older checkpoint lacks in the archive's meta.json; refuses to export damaged weights", async () => {
    const older = join(work, 'older');
    cpSync(checkpoint(2), older, { recursive: true });
    const { weightsSha256, ...meta } = JSON.parse(readFileSync(join(older, 'meta.json'), 'utf8'));
    writeFileSync(join(older, 'meta.json'), JSON.stringify(meta));
    const archive = join(work, 'older.tar.gz');
    expect((await lumenCheckpoint('export', older, '--out', archive)).stdout).toContain("; the weights sha256, not in its meta.json, recorded in the archive) -> ");
    const back = await importCheckpointArchive(archive, join(work, 'older-imported'));
    expect(back).toMatchObject({ verified: true, meta: { weightsSha256 } });

    writeFileSync(join(older, 'meta.json'), JSON.stringify({ ...meta, weightsSha256 }));
    writeFileSync(join(older, 'weights.safetensors'), flipLastByte(readFileSync(join(older, 'weights.safetensors'))));
    await expect(lumenCheckpoint('export', older, '--out', join(work, 'damaged.tar.gz'), '--force')).rejects.toThrow(
      `${join(older, 'weights.safetensors')} does not match the sha256 in meta.json: the file is damaged or was changed`,
    );
    expect(existsSync(join(work, 'damaged.tar.gz'))).toBe(false);
  });

  /** A .tar.gz of `entries` (paths under `root`, as given), written by node-tar as is. */
  async function tarOf(name: string, root: string, entries: string[], options: { preservePaths?: boolean } = {}): Promise<string> {
    const file = join(work, 'archives', name);
    mkdirSync(join(work, 'archives'), { recursive: true });
    await create({ file, cwd: root, gzip: true, portable: true, ...options }, entries);
    return file;
  }

  /** A folder `<name>/` holding a copy of checkpoint 4's files, for hand-made archives. */
  function staged(name: string): string {
    const root = join(work, 'stage', name);
    cpSync(checkpoint(4), join(root, 'ckpt'), { recursive: true, filter: (src) => !src.endsWith('optimizer.safetensors') });
    return root;
  }
  const files = ['ckpt/meta.json', 'ckpt/config.yaml', 'ckpt/weights.safetensors'];

  it("refuses an archive whose weights do not match meta.json's sha256, naming the file; nothing is left behind", async () => {
    const root = staged('flipped');
    writeFileSync(join(root, 'ckpt/weights.safetensors'), flipLastByte(readFileSync(join(root, 'ckpt/weights.safetensors'))));
    const archive = await tarOf('flipped.tar.gz', root, files);
    const out = join(work, 'from-flipped');
    const refused = lumenCheckpoint('import', archive, '--out', out);
    await expect(refused).rejects.toThrow(UserError);
    await expect(refused).rejects.toThrow(new RegExp(`^${archive}: weights.safetensors does not match the sha256 in meta.json: the file is damaged or was changed;`));
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it('refuses entries that would land outside the folder, links and subfolders, before writing anything', async () => {
    const root = staged('hostile');
    writeFileSync(join(work, 'stage', 'escape.txt'), 'outside');
    const dotdot = await tarOf('dotdot.tar.gz', root, [...files, '../escape.txt'], { preservePaths: true });
    const out = join(work, 'from-hostile');
    await expect(runCheckpointImport({ file: dotdot, out })).rejects.toThrow(`${dotdot}: refused: '../escape.txt' points outside the folder it is unpacked into`);
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);

    symlinkSync('/etc/passwd', join(root, 'ckpt', 'passwd'));
    const link = await tarOf('link.tar.gz', root, [...files, 'ckpt/passwd']);
    await expect(runCheckpointImport({ file: link, out })).rejects.toThrow(`${link}: refused: 'ckpt/passwd' is a symbolic link: a checkpoint archive holds only files`);

    mkdirSync(join(root, 'ckpt', 'sub'));
    writeFileSync(join(root, 'ckpt', 'sub', 'x'), '');
    const nested = await tarOf('nested.tar.gz', root, [...files, 'ckpt/sub/x']);
    await expect(runCheckpointImport({ file: nested, out })).rejects.toThrow(`${nested}: refused: 'ckpt/sub/x' is in a subfolder: a checkpoint folder holds only files`);
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);

    // The checkpoint's files at the top of the archive (no folder) are a checkpoint too.
    const flat = await tarOf('flat.tar.gz', join(root, 'ckpt'), ['meta.json', 'config.yaml', 'weights.safetensors']);
    expect(await runCheckpointImport({ file: flat, out })).toMatchObject({ kind: 'archive', verified: true, dir: out });
  });

  it('wants --arch for a state dict, and no torchvision option with an archive', async () => {
    const weights = join(checkpoint(4), 'weights.safetensors');
    await expect(runCheckpointImport({ file: weights, out: join(work, 'x') })).rejects.toThrow(
      `--arch is required to import ${weights} (a torchvision state dict): the builder that made it, one of fasterrcnn_resnet50_fpn, `,
    );
    const archive = await tarOf('plain.tar.gz', staged('plain'), files);
    await expect(runCheckpointImport({ file: archive, out: join(work, 'x'), arch: 'fasterrcnn_resnet50_fpn', overrides: ['a.b=1'] })).rejects.toThrow(
      `${archive} is a checkpoint archive (lumen checkpoint export): it carries its own model, classes and config; leave out --arch, --set`,
    );
    await expect(runCheckpointImport({ file: join(work, 'missing.tar.gz'), out: join(work, 'x') })).rejects.toThrow(`${join(work, 'missing.tar.gz')} does not exist`);
  });
});

describe('lumen checkpoint delete', () => {
  it('removes a checkpoint folder', async () => {
    const copy = join(work, 'to-delete');
    cpSync(checkpoint(2), copy, { recursive: true });
    expect((await lumenCheckpoint('delete', copy)).stdout).toMatch(new RegExp(`^deleted ${copy} \\([\\d.]+ MB\\)\\n$`));
    expect(existsSync(copy)).toBe(false);
    expect(existsSync(`${copy}.deleting`)).toBe(false);
  });

  it('refuses a folder that is not a Lumen checkpoint, or holds a folder, and leaves it as it was', async () => {
    await expect(lumenCheckpoint('delete', job)).rejects.toThrow(`refusing to delete ${job}: ${job} is not a Lumen checkpoint: meta.json is missing`);
    expect(readdirSync(job)).toContain('metrics.jsonl');
    const other = join(work, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'meta.json'), '{"format": "something-else"}');
    await expect(lumenCheckpoint('delete', other)).rejects.toThrow(`refusing to delete ${other}: ${join(other, 'meta.json')}: not a Lumen checkpoint (format 'something-else')`);
    const nested = join(work, 'nested');
    cpSync(checkpoint(2), nested, { recursive: true });
    mkdirSync(join(nested, 'data'));
    await expect(lumenCheckpoint('delete', nested)).rejects.toThrow(`refusing to delete ${nested}: it holds a folder (data), which a checkpoint never does`);
    expect(existsSync(join(nested, 'weights.safetensors')) && existsSync(join(other, 'meta.json'))).toBe(true);
    await expect(lumenCheckpoint('delete', join(work, 'gone'))).rejects.toThrow(`checkpoint ${join(work, 'gone')} does not exist`);
  });
});
