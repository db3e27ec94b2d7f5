/**
 * `lumen predict` as users run it (a child process through apps/cli/bin/lumen.js), read back
 * from its summary line on stderr; optionally with the child's peak RSS.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The `lumen` command (the CLI's sources through tsx: no build step). */
export const LUMEN_CLI = resolve(__dirname, '../../../apps/cli/bin/lumen.js');

export interface PredictRun {
  /** Images, or video frames when the inputs are videos. */
  images: number;
  objects: number;
  failed: number;
  /** The summary line's figure (start-up excluded). */
  imagesPerSecond: number;
  /** The process's peak resident set in MB, when asked for (`rss`). */
  peakRssMB: number | null;
}

export interface PredictOptions {
  env?: NodeJS.ProcessEnv;
  /** Polls the child's /proc/<pid>/status every 100 ms for its peak RSS (VmHWM). */
  rss?: boolean;
}

const SUMMARY =
  /lumen predict: (\d+) image\(s\)(?:, \d+ video\(s\) \((\d+) frames\))?, (\d+) object\(s\), (\d+) failed, [\d.]+ s \(([\d.]+) (?:images|frames)\/s\)/;

/** A process's VmHWM (peak RSS) in kB, or null once it is gone. */
function peakRssKb(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m != null ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Runs `lumen predict ARGS` and returns its summary line's figures; rejects with its stderr
 * when it exits non-zero (an image failed) or prints no summary.
 */
export function runLumenPredict(args: readonly string[], options: PredictOptions = {}): Promise<PredictRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [LUMEN_CLI, 'predict', ...args], { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, ...options.env } });
    let stderr = '';
    let peakKb = 0;
    // VmHWM only grows: the last reading before the process ends is its peak, within 100 ms.
    const poll = options.rss && child.pid != null ? setInterval(() => (peakKb = Math.max(peakKb, peakRssKb(child.pid as number) ?? 0)), 100) : undefined;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      clearInterval(poll);
      reject(error);
    });
    child.on('close', (code) => {
      clearInterval(poll);
      const m = SUMMARY.exec(stderr);
      if (code !== 0 || m == null) return reject(new Error(`lumen predict exited with code ${code}:\n${stderr}`));
      resolveRun({
        images: Number(m[1]) + Number(m[2] ?? 0),
        objects: Number(m[3]),
        failed: Number(m[4]),
        imagesPerSecond: Number(m[5]),
        peakRssMB: options.rss ? peakKb / 1024 : null,
      });
    });
  });
}
