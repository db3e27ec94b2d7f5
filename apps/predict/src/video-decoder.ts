// A video's frames, one at a time on demand, from an ffmpeg child writing raw RGB24 to a pipe.
// Nothing reads the pipe between calls, so when the consumer is slow the pipe fills and ffmpeg
// waits: memory holds about two frames whatever the video's length.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { exitReason, StderrTail, type FfmpegPrograms } from './ffmpeg';
import type { VideoInfo } from './video-probe';

/** ffmpeg reads `file` (the file protocol: a ':' in a name is no protocol) at the probed rate, every frame once. */
export function decoderArgs(file: string, info: VideoInfo): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-i', `file:${file}`,
    '-map', '0:V:0', '-an', '-sn', '-dn',
    // A constant rate: frame k is at k / rate seconds, and the drawn video keeps the count and timing.
    '-vsync', 'cfr', '-r', `${info.rate.num}/${info.rate.den}`,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
}

/** ffmpeg names its input "file:<path>"; the message names the file already. */
export const withoutFileName = (line: string, file: string) => (line.startsWith(`file:${file}: `) ? line.slice(`file:${file}: `.length) : line);

export class FrameReader {
  readonly frameBytes: number;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private readonly stderr = new StderrTail();
  private readonly exited: Promise<void>;
  private failure: Error | null = null;
  private ended = false;
  private wake: (() => void) | null = null;
  private alive = true;

  constructor(
    private readonly programs: FfmpegPrograms,
    private readonly file: string,
    info: VideoInfo,
  ) {
    this.frameBytes = info.width * info.height * 3;
    this.child = spawn(programs.ffmpeg, decoderArgs(file, info), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    const stdout = this.child.stdout;
    // Paused mode: 'readable' only says there is something to read; read() takes what is asked.
    stdout.on('readable', () => this.notify());
    stdout.on('end', () => {
      this.ended = true;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.failure ??= error;
        this.alive = false;
        this.notify();
        resolve();
      });
      this.child.once('close', (code, signal) => {
        if (code !== 0 && this.failure == null) this.failure = new Error(withoutFileName(exitReason(programs.ffmpeg, code, signal, this.stderr), file));
        this.alive = false;
        this.ended = true;
        this.notify();
        resolve();
      });
    });
  }

  /** ffmpeg has not exited yet. */
  get running(): boolean {
    return this.alive;
  }

  /** Bytes read from the pipe and not yet taken by read(). */
  get buffered(): number {
    return this.child.stdout.readableLength;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * The next frame (width x height x 3 bytes), or null after the last; throws ffmpeg's last
   * stderr line when it failed.
   */
  async read(): Promise<Buffer | null> {
    const stdout = this.child.stdout;
    for (;;) {
      const frame = stdout.read(this.frameBytes) as Buffer | null;
      if (frame != null && frame.length === this.frameBytes) return frame;
      if (frame != null) {
        // The stream ended in the middle of a frame: ffmpeg's error says why, when it failed.
        await this.exited;
        throw this.failure ?? new Error(`the video ended within a frame (${frame.length} of ${this.frameBytes} bytes)`);
      }
      if (this.ended || stdout.readableEnded) {
        await this.exited;
        if (this.failure != null) throw this.failure;
        return null;
      }
      if (this.failure != null && !this.alive) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Stops ffmpeg (when the run ends early); resolves once it has exited. */
  async close(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    this.child.stdout.destroy();
    await this.exited;
  }
}
