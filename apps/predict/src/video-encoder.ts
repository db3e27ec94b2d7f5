// The drawn video: raw RGB24 frames written to an ffmpeg child's stdin, encoded to H.264 MP4.
// The file is written beside its name and renamed when whole, so a failed or stopped run never
// leaves a video that looks complete.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { rmSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { exitReason, StderrTail, type FfmpegPrograms } from './ffmpeg';
import type { FrameRate } from './video-probe';

/**
 * libx264 in yuv420p, which players expect; its 2x2 chroma needs even sides, so an odd width
 * or height gets one black column or row (boxes keep their pixels).
 */
export function encoderArgs(width: number, height: number, rate: FrameRate, path: string): string[] {
  const pad = width % 2 === 1 || height % 2 === 1 ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : [];
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', `${rate.num}/${rate.den}`, '-i', 'pipe:0',
    ...pad,
    '-c:v', 'libx264', '-preset', 'fast', '-crf', '20', '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
    '-f', 'mp4', '-y', `file:${path}`,
  ];
}

export class FrameWriter {
  private readonly partial: string;
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;
  private readonly stderr = new StderrTail();
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  private running = true;
  private stdinError: Error | null = null;

  constructor(
    private readonly programs: FfmpegPrograms,
    readonly path: string,
    private readonly frameBytes: number,
    width: number,
    height: number,
    rate: FrameRate,
  ) {
    this.partial = `${path}.partial`;
    this.child = spawn(programs.ffmpeg, encoderArgs(width, height, rate, this.partial), { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    // EPIPE when ffmpeg has gone: its exit says why.
    this.child.stdin.on('error', (error) => (this.stdinError ??= error));
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.running = false;
        resolve({ code: null, signal: null, error });
      });
      this.child.once('close', (code, signal) => {
        this.running = false;
        resolve({ code, signal });
      });
    });
  }

  /** Writes a frame, waiting while the pipe is full; does nothing once ffmpeg has stopped (finish reports it). */
  async write(frame: Buffer): Promise<void> {
    if (frame.length !== this.frameBytes) throw new Error(`a frame of ${frame.length} bytes, not ${this.frameBytes}`);
    const stdin = this.child.stdin;
    if (!this.running || this.stdinError != null || !stdin.writable) return;
    if (stdin.write(frame)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        stdin.off('drain', done);
        stdin.off('close', done);
        resolve();
      };
      stdin.on('drain', done);
      stdin.on('close', done);
    });
  }

  /** Ends the input and waits for the file; throws ffmpeg's last stderr line when it failed. */
  async finish(): Promise<void> {
    if (this.child.stdin.writable) this.child.stdin.end();
    const { code, signal, error } = await this.exited;
    if (error != null || code !== 0) {
      this.remove();
      throw error ?? new Error(exitReason(this.programs.ffmpeg, code, signal, this.stderr));
    }
    await rename(this.partial, this.path);
  }

  /** Stops ffmpeg and removes the unfinished file. */
  async abort(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    this.child.stdin.destroy();
    await this.exited;
    this.remove();
  }

  private remove(): void {
    rmSync(this.partial, { force: true });
  }
}
