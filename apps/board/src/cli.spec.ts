// `lumen board` as a user runs it: a child process through the workspace's bin; what it
// prints, its exit codes, and SIGINT / SIGTERM stopping it cleanly.
import { UserError } from '@lumen/core';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBoardCommand, type BoardCliOptions } from './commands';
import type { JobSummary } from './server';
import { copyJobs, LUMEN_BIN, WORKSPACE } from './testing/tiny-jobs';

/** `lumen board …` started; `url` resolves once it says where it listens. */
function board(args: string[]) {
  const child = spawn(process.execPath, [LUMEN_BIN, 'board', ...args], { cwd: WORKSPACE, env: { ...process.env, FORCE_COLOR: '0', LUMEN_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const url = new Promise<string>((done, fail) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /lumen board: (http:\/\/\S+) /.exec(stderr);
      if (match) done(match[1]);
    });
    child.once('exit', () => fail(new Error(`lumen board ended before listening: ${stderr}`)));
  });
  url.catch(() => undefined);
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, stdout, stderr }));
  return { child, url, exited };
}

describe('lumen board (child process)', () => {
  let root: string;
  let runs: Record<'SIGINT' | 'SIGTERM' | 'missing', ReturnType<typeof board>>;
  // Started at once: each spends most of its time starting up.
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'lumen-board-cli-'));
    copyJobs(join(root, 'jobs'));
    runs = {
      SIGINT: board(['--jobs', join(root, 'jobs'), '--port', '0']),
      SIGTERM: board(['--jobs', join(root, 'jobs'), '--port', '0']),
      missing: board(['--jobs', join(root, 'nowhere')]),
    };
  });
  afterAll(() => {
    for (const run of Object.values(runs ?? {})) run.child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it.each([['SIGINT'], ['SIGTERM']] as const)('serves the jobs folder until %s, then stops cleanly (exit 0)', async (signal) => {
    const run = runs[signal];
    const url = await run.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const listed = (await (await fetch(`${url}/api/jobs`)).json()) as { jobs: JobSummary[] };
    expect(listed.jobs.map((job) => job.name)).toEqual(['digits-lr1', 'digits-lr3']);
    run.child.kill(signal);
    const result = await run.exited;
    expect(result).toEqual({
      code: 0,
      signal: null,
      stdout: '',
      stderr: `lumen board: ${url} (2 job(s) in ${join(root, 'jobs')}; new ones appear as they start; Ctrl-C stops)\nlumen board: ${signal}: stopping\n`,
    });
    await expect(fetch(`${url}/api/jobs`)).rejects.toThrow();
  });

  it('a missing jobs folder: one line saying how jobs are made, exit 2', async () => {
    expect(await runs.missing.exited).toEqual({
      code: 2,
      signal: null,
      stdout: '',
      stderr: `lumen: no jobs folder at ${join(root, 'nowhere')}: train a model first (lumen train writes jobs/<config>-<time>/metrics.jsonl (or --job-dir DIR/metrics.jsonl)), or point --jobs at the folder that holds your job folders\n`,
    });
  });
});

describe('runBoardCommand', () => {
  let root: string;
  beforeAll(() => (root = mkdtempSync(join(tmpdir(), 'lumen-board-run-'))));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a jobs folder that is a file, a bad port, a taken port: user errors, nothing left listening', async () => {
    const taken = createNetServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    writeFileSync(join(root, 'file'), 'x');
    const signalHandlers = () => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
    const before = signalHandlers();
    const log: string[] = [];
    const run = (change: Partial<BoardCliOptions>) => runBoardCommand({ jobs: root, port: '0', host: '127.0.0.1', ...change }, (line) => log.push(line));
    try {
      await expect(run({ jobs: join(root, 'file') })).rejects.toStrictEqual(
        new UserError(`--jobs ${join(root, 'file')} is a file: give the folder that holds the job folders (lumen train writes jobs/<config>-<time>/metrics.jsonl (or --job-dir DIR/metrics.jsonl))`),
      );
      await expect(run({ port: 'http' })).rejects.toStrictEqual(new UserError("--port must be a port number (0-65535), but got 'http'"));
      await expect(run({ port: '65536' })).rejects.toStrictEqual(new UserError("--port must be a port number (0-65535), but got '65536'"));
      await expect(run({ port: String(port) })).rejects.toStrictEqual(new UserError(`port ${port} on 127.0.0.1 is in use by another program: pick another with --port`));
    } finally {
      taken.close();
    }
    expect(log).toEqual([]);
    expect(signalHandlers()).toBe(before);
  });

});
