// The `lumen` command tree: the help of every command, and how errors become exit codes —
// in process through `program()`, and as a user runs it through the workspace's bin.
import { ConfigError } from '@lumen/config';
import { UserError } from '@lumen/core';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { debugEnabled, EXIT_FAILURE, EXIT_USER_ERROR, exitCodeFor, program } from './main';

const ROOT = resolve(__dirname, '../../..');
const LUMEN = join(ROOT, 'apps/cli/bin/lumen.js');

function lumen(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [LUMEN, ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0', LUMEN_DEBUG: '', ...env }, timeout: 60000 }, (error, stdout, stderr) => {
      done({ code: error == null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Every command of the tree with its path of names (`['dataset', 'check']`). */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

/** The help `lumen <path> --help` prints, and its exit code, without leaving the process. */
async function helpOf(path: string[]): Promise<{ text: string; code: number }> {
  const cli = program();
  let text = '';
  const capture = (c: Command) => {
    c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    c.commands.forEach(capture);
  };
  capture(cli);
  try {
    await cli.parseAsync(['node', 'lumen', ...path, '--help']);
    return { text, code: 0 };
  } catch (error) {
    return { text, code: (error as CommanderError).exitCode };
  }
}

const EXPECTED = ['train', 'eval', 'dataset', 'dataset check', 'checkpoint', 'checkpoint list', 'checkpoint info', 'checkpoint export', 'checkpoint import', 'checkpoint delete', 'predict', 'server', 'worker', 'board'];

describe('lumen command tree', () => {
  it('holds every command of the apps', () => {
    expect(commandPaths(program()).map((p) => p.join(' '))).toEqual(EXPECTED);
  });

  it('lists every top-level command on one line of `lumen --help`', async () => {
    const { text, code } = await helpOf([]);
    expect(code).toBe(0);
    const listed = text.slice(text.indexOf('Commands:')).split('\n').slice(1).filter((l) => /^ {2}\S/.test(l));
    expect(listed.map((l) => l.trim().split(/\s+/)[0])).toEqual(['train', 'eval', 'dataset', 'checkpoint', 'predict', 'server', 'worker', 'board', 'help']);
    // One line each: no continuation lines (commander indents a wrapped description).
    const block = text.slice(text.indexOf('Commands:'), text.indexOf('\n\n', text.indexOf('Commands:')));
    expect(block.split('\n').filter((l) => /^ {3,}\S/.test(l))).toEqual([]);
  });

  it.each(EXPECTED.map((p) => [p]))('prints the help of `lumen %s --help`', async (path) => {
    const { text, code } = await helpOf(path.split(' '));
    expect(code).toBe(0);
    expect(text).toContain(`Usage: lumen ${path}`);
    expect(text).toMatch(/-h, --help/);
  });

  it("the README shows every command's help as `lumen … --help` prints it", async () => {
    const check = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(process.execPath, [join(ROOT, 'tools/docs/readme-help.mjs'), '--check'], { cwd: ROOT, timeout: 120000 }, (error, _stdout, stderr) =>
        done({ code: error == null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr }),
      );
    });
    expect(check).toEqual({ code: 0, stderr: '' });
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const leaves = EXPECTED.filter((p) => !EXPECTED.some((other) => other.startsWith(`${p} `)));
    expect(leaves.filter((p) => !readme.includes(`<summary><code>lumen ${p} --help</code></summary>`))).toEqual([]);
  }, 130000);

  it('documents the options users need', async () => {
    expect((await helpOf(['train'])).text).toMatch(/--config <name>[\s\S]*--set <key=value>[\s\S]*--resume/);
    expect((await helpOf(['eval'])).text).toMatch(/--checkpoint <dir>[\s\S]*--split <split>/);
    expect((await helpOf(['predict'])).text).toMatch(/--checkpoint <dir>[\s\S]*--save-media <dir>/);
    expect((await helpOf(['server'])).text).toMatch(/--port <n>[\s\S]*--max-bytes <size>/);
    expect((await helpOf(['board'])).text).toMatch(/--jobs <dir>[\s\S]*--port <n>[\s\S]*--host <host>/);
  });
});

describe('exitCodeFor', () => {
  const lines: string[] = [];
  const output = { error: (line: string) => lines.push(line) };
  beforeEach(() => (lines.length = 0));

  it('prints a user error (ConfigError included) as one line, exit code 2', () => {
    expect(exitCodeFor(new UserError('--port must be a port number (0-65535)'), output)).toBe(EXIT_USER_ERROR);
    expect(exitCodeFor(new ConfigError("model.backbone.name: unknown backbone 'resnet7'"), output)).toBe(EXIT_USER_ERROR);
    expect(lines).toEqual(['lumen: --port must be a port number (0-65535)', "lumen: model.backbone.name: unknown backbone 'resnet7'"]);
  });

  it("keeps commander's exit code (commander printed the message)", () => {
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownCommand', "error: unknown command 'trian'"), output)).toBe(1);
    expect(lines).toEqual([]);
  });

  it('prints anything else as one line, exit code 1, naming LUMEN_DEBUG', () => {
    expect(exitCodeFor(new RangeError('internal\nsecond line'), output, false)).toBe(EXIT_FAILURE);
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/tmp/out.jsonl'"), { code: 'ENOSPC' });
    expect(exitCodeFor(enospc, output, false)).toBe(EXIT_FAILURE);
    expect(lines).toEqual([
      'lumen: RangeError: internal (LUMEN_DEBUG=1 shows where)',
      "lumen: ENOSPC: no space left on device, write '/tmp/out.jsonl' (LUMEN_DEBUG=1 shows where)",
    ]);
  });

  it('adds the stack with LUMEN_DEBUG', () => {
    expect(exitCodeFor(new RangeError('internal'), output, true)).toBe(EXIT_FAILURE);
    expect(exitCodeFor(new UserError('bad --port'), output, true)).toBe(EXIT_USER_ERROR);
    expect(lines[0]).toMatch(/^lumen: RangeError: internal\nRangeError: internal\n\s+at /);
    expect(lines[1]).toMatch(/^lumen: bad --port\nUserError: bad --port\n\s+at /);
  });

  it('reads LUMEN_DEBUG as a flag', () => {
    expect([undefined, '', '0', 'false'].map((v) => debugEnabled({ LUMEN_DEBUG: v }))).toEqual([false, false, false, false]);
    expect(['1', 'true', 'yes'].map((v) => debugEnabled({ LUMEN_DEBUG: v }))).toEqual([true, true, true]);
  });
});

describe('lumen (child process)', () => {
  type Run = Awaited<ReturnType<typeof lumen>>;
  let bare: Run, unknown: Run, badConfig: Run, badBackbone: Run, damaged: Run, damagedDebug: Run;
  // A checkpoint folder whose weights file is cut short.
  const checkpoint = join(mkdtempSync(join(tmpdir(), 'lumen-cli-')), 'checkpoint-0000001');
  mkdirSync(checkpoint);
  copyFileSync(join(ROOT, 'configs/digits.yaml'), join(checkpoint, 'config.yaml'));
  writeFileSync(join(checkpoint, 'meta.json'), JSON.stringify({ format: 'lumen-checkpoint', formatVersion: 1, classes: ['0', '1'], step: 1 }));
  writeFileSync(join(checkpoint, 'weights.safetensors'), Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 123]));
  // Started at once: each spends most of its time starting up.
  beforeAll(async () => {
    [bare, unknown, badConfig, badBackbone, damaged, damagedDebug] = await Promise.all([
      lumen([]),
      lumen(['trian']),
      lumen(['train', '--config', 'no-such-config']),
      lumen(['train', '--set', 'model.backbone.name=resnet7', '--set', 'data.dataset.type=voc', '--set', 'data.dataset.dir=/nowhere']),
      lumen(['eval', '--checkpoint', checkpoint]),
      lumen(['eval', '--checkpoint', checkpoint], { LUMEN_DEBUG: '1' }),
    ]);
  });
  afterAll(() => rmSync(dirname(checkpoint), { recursive: true, force: true }));

  it('prints the help for a bare `lumen`', () => {
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^Usage: lumen \[options\] \[command\]/);
    for (const name of ['train', 'eval', 'dataset', 'predict', 'server', 'worker', 'board']) expect(bare.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('names an unknown command and suggests the near one', () => {
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown command 'trian'[\s\S]*Did you mean train\?/);
  });

  it('reports a user error in one line with exit code 2', () => {
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr.trim().split('\n')).toHaveLength(1);
    expect(badConfig.stderr).toMatch(/^lumen: .*no-such-config/);
  });

  it('checks the model before the data: a bad backbone name fails before the missing dataset', () => {
    expect(badBackbone.code).toBe(2);
    expect(badBackbone.stderr.trim()).toMatch(/^lumen: .* is not valid:\n {2}model\.backbone\.name: "resnet7" is not allowed/);
    // Nothing after the message: no backend started, no dataset looked for.
    expect(badBackbone.stderr.trim().split('\n')).toHaveLength(2);
    expect(badBackbone.stderr).not.toMatch(/backend|does not exist/);
  });

  it('names the damaged checkpoint file in one line; LUMEN_DEBUG=1 adds the stack', () => {
    expect(damaged.code).toBe(2);
    expect(damaged.stderr).toBe(`lumen: ${join(checkpoint, 'weights.safetensors')}: the header length 200 does not fit in the 9 bytes given: not a safetensors file, or truncated.\n`);
    expect(damagedDebug.code).toBe(2);
    expect(damagedDebug.stderr).toMatch(/^lumen: .*weights\.safetensors: the header length 200[^\n]*\nUserError: [^\n]*\n\s+at /);
  });
});
