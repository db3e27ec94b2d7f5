/**
 * The PyTorch peer of a bench: a `*_torch.py` script beside it that times the same work
 * on torch's CPU backend in a child process and prints one JSON object. PyTorch is
 * optional: without Debian's python3-torchvision a bench reports Lumen alone and says why.
 */
import { spawn, spawnSync } from 'node:child_process';
import { basename } from 'node:path';

export interface PeerOptions {
  /** False with --no-torch. */
  torch: boolean;
  python: string;
}

const INSTALL_HINT = 'apt-get install -y python3-torchvision libopenblas0-pthread';

/** Why `python` cannot run a peer that imports `modules`, or null when it can. */
function importFailure(python: string, modules: readonly string[]): string | null {
  const probe = spawnSync(python, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  if (probe.error != null) return `${python}: ${probe.error.message}`;
  if (probe.status !== 0) return `${python} cannot import ${modules.join('/')}: ${probe.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

/**
 * Why the peer will not run (said on stderr, with how to install PyTorch when it is
 * missing), or null when it can: --no-torch was not given and `python` imports torch,
 * torchvision and `extraModules`.
 */
export function peerUnavailable(options: PeerOptions, extraModules: readonly string[] = []): string | null {
  if (!options.torch) {
    console.error('[torch] PyTorch peer skipped (--no-torch): no ratio columns');
    return '--no-torch';
  }
  const why = importFailure(options.python, ['torch', 'torchvision', ...extraModules]);
  if (why != null) {
    console.error(`[torch] PyTorch peer skipped, no ratio columns: ${why}`);
    console.error(`[torch] install it with: ${INSTALL_HINT}`);
  }
  return why;
}

/** Runs `script` with `args`: its progress lines pass through on stderr, its stdout is the result. */
export function runPeer<T>(python: string, script: string, args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${python} ${script} exited with ${signal ?? `code ${code}`}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch (e) {
        reject(new Error(`${basename(script)} printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}
