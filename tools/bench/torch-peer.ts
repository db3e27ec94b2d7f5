/**
 * Runs runtime_torch.py (the PyTorch peer) in a child process and reads its JSON. PyTorch
 * is optional: without Debian's python3-torchvision the benchmark reports Lumen alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface TorchRow {
  id: string;
  outputShape: number[];
  trainableParams: number;
  fwdMs: number;
  fwdBwdMs: number;
  fwdSamples: number[];
  fwdBwdSamples: number[];
}

export interface TorchResult {
  torch: string;
  torchvision: string;
  threads: number;
  mkldnn: boolean;
  rows: TorchRow[];
}

export interface TorchOptions {
  python: string;
  rows: string[];
  warmup: number;
  runs: number;
  threads: number;
}

const SCRIPT = join(__dirname, 'runtime_torch.py');

/** Why PyTorch cannot run, or null when `python` imports torch and torchvision. */
export function torchUnavailable(python: string): string | null {
  const probe = spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.error != null) return `${python}: ${probe.error.message}`;
  if (probe.status !== 0) return `${python} cannot import torch/torchvision: ${probe.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

/** Runs the peer; its progress lines pass through on stderr, its stdout is the result. */
export function runTorch(options: TorchOptions): Promise<TorchResult> {
  const args = [
    SCRIPT,
    `--rows=${options.rows.join(',')}`,
    `--warmup=${options.warmup}`,
    `--runs=${options.runs}`,
    `--threads=${options.threads}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(options.python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`${options.python} ${SCRIPT} exited with ${signal ?? `code ${code}`}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as TorchResult);
      } catch (e) {
        reject(new Error(`runtime_torch.py printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}
