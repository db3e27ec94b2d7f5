import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenForStopSignals, signalExitCode, StopRequest } from './stop';
import { checkpointFolders, DIGITS_CONFIG, LUMEN_BIN, tinyOverrides, trainSteps, WORKSPACE } from './testing/tiny-run';

describe('stop signals', () => {
  it('exit with 128 + the signal number, as a shell reports a process the signal ended', () => {
    expect([signalExitCode('SIGINT'), signalExitCode('SIGTERM')]).toEqual([130, 143]);
  });

  it('request a stop on the first signal, quit at once on the second, and are removed after', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as () => never);
    const stop = new StopRequest();
    const lines: string[] = [];
    const listeners = process.listenerCount('SIGTERM');
    const stopListening = listenForStopSignals(stop, (line) => lines.push(line));
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect([stop.requested, stop.signal, exit.mock.calls.length]).toEqual([true, 'SIGTERM', 0]);
      expect(lines).toEqual(['SIGTERM: saving a checkpoint after this step (SIGTERM again to quit without saving)']);
      process.emit('SIGINT', 'SIGINT');
      expect(exit.mock.calls).toEqual([[130]]);
    } finally {
      stopListening();
      exit.mockRestore();
    }
    expect(process.listenerCount('SIGTERM')).toBe(listeners);
  });

  it("record a signal after a program's own request, which a second signal then ends", () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as () => never);
    const stop = new StopRequest();
    stop.request();
    expect([stop.requested, stop.signal, stop.describe()]).toEqual([true, null, 'a stop request']);
    const stopListening = listenForStopSignals(stop, () => undefined);
    try {
      process.emit('SIGINT', 'SIGINT');
      expect([stop.signal, exit.mock.calls.length]).toEqual(['SIGINT', 0]);
      process.emit('SIGTERM', 'SIGTERM');
      expect(exit.mock.calls).toEqual([[143]]);
    } finally {
      stopListening();
      exit.mockRestore();
    }
  });
});

interface Finished {
  code: number | null;
  output: string;
}

/** Runs `lumen` in a child process; `onLine` sees each line it writes to stderr, with the child. */
function lumen(args: string[], onLine: (line: string, kill: (signal: NodeJS.Signals) => void) => void = () => undefined): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LUMEN_BIN, ...args], { cwd: WORKSPACE, stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    let partial = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      output += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line, (signal) => child.kill(signal));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('lumen train, stopped by SIGTERM', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-sigterm-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const STEPS = 24;
  const trainArgs = (jobDir: string) => [
    'train',
    '--config',
    DIGITS_CONFIG,
    ...[...tinyOverrides(join(dir, 'digits')), `train.steps=${STEPS}`, 'train.checkpointEvery=100', 'eval.finalSplits=[]'].flatMap((o) => ['--set', o]),
    '--job-dir',
    jobDir,
    '--plain',
  ];
  const weightsAt = (jobDir: string, step: number) => readFileSync(join(jobDir, `checkpoint-${String(step).padStart(7, '0')}`, 'weights.safetensors'));

  it('saves the step it reached, exits 143, and --resume ends with the weights of an uninterrupted run', async () => {
    const straight = await lumen(trainArgs(join(dir, 'straight')));
    expect(straight).toMatchObject({ code: 0 });

    const jobDir = join(dir, 'stopped');
    let signalled = false;
    const stopped = await lumen(trainArgs(jobDir), (line, kill) => {
      if (!signalled && line.startsWith(`step 3/${STEPS} `)) {
        signalled = true;
        kill('SIGTERM');
      }
    });
    expect(stopped.code).toBe(143);
    expect(stopped.output).toContain('SIGTERM: saving a checkpoint after this step (SIGTERM again to quit without saving)');
    const [, step, checkpoint] = /stopped by SIGTERM at step (\d+); checkpoint (\S+); continue with --resume/.exec(stopped.output) ?? [];
    expect(Number(step)).toBeGreaterThanOrEqual(3);
    expect(Number(step)).toBeLessThan(STEPS);
    expect(checkpoint).toBe(join(jobDir, `checkpoint-${step.padStart(7, '0')}`));
    expect(JSON.parse(readFileSync(join(checkpoint, 'meta.json'), 'utf8')).step).toBe(Number(step));
    expect(checkpointFolders(jobDir)).toEqual([`checkpoint-${step.padStart(7, '0')}`]);

    const resumed = await lumen(['train', '--resume', '--job-dir', jobDir, '--plain']);
    expect(resumed.output).toContain(`resumed from ${checkpoint} at step ${step}`);
    expect(resumed.code).toBe(0);
    expect(weightsAt(jobDir, STEPS).equals(weightsAt(join(dir, 'straight'), STEPS))).toBe(true);
    // Each step logged once, across the two runs.
    expect(trainSteps(jobDir)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  });
});
