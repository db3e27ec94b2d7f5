// One video input of a prediction run: its frames read from one ffmpeg, and (with --save-media)
// its drawn frames written to another.
import { plainMessage } from './errors';
import type { FfmpegPrograms } from './ffmpeg';
import { FrameReader, withoutFileName } from './video-decoder';
import { FrameWriter } from './video-encoder';
import { probeVideo, type VideoInfo } from './video-probe';

/** A video's error as its line says it, like an image's "cannot decode '<file>': …". */
export const videoError = (file: string, reason: string) => `cannot decode video '${file}': ${reason}`;

export class VideoJob {
  /** Frames read so far. */
  frames = 0;
  private reader: FrameReader | null = null;
  private writer: FrameWriter | null = null;

  private constructor(
    readonly file: string,
    readonly info: VideoInfo,
    private readonly programs: FfmpegPrograms,
    /** Where the drawn video goes (with --save-media). */
    readonly mediaPath: string | undefined,
  ) {}

  /** Probes `file` (unless it was: `probed`) and starts ffmpeg on it; throws the line's error message. */
  static async open(programs: FfmpegPrograms, file: string, mediaPath: string | undefined, probed?: VideoInfo | Error): Promise<VideoJob> {
    let info: VideoInfo;
    try {
      if (probed instanceof Error) throw probed;
      info = probed ?? (await probeVideo(programs, file));
    } catch (error) {
      throw new Error(videoError(file, withoutFileName(plainMessage(error), file)));
    }
    const job = new VideoJob(file, info, programs, mediaPath);
    job.reader = new FrameReader(programs, file, info);
    return job;
  }

  /** Seconds from the start of the video to frame `index`. */
  time(index: number): number {
    return (index * this.info.rate.den) / this.info.rate.num;
  }

  /** The next frame's RGB24 bytes, or null after the last; throws the line's error message when ffmpeg failed. */
  async read(): Promise<Buffer | null> {
    try {
      const frame = (await this.reader?.read()) ?? null;
      if (frame != null) this.frames++;
      else if (this.frames === 0) throw new Error('it has no frames');
      return frame;
    } catch (error) {
      const read = this.frames > 0 ? ` (after ${this.frames} frame(s))` : '';
      throw new Error(videoError(this.file, `${plainMessage(error)}${read}`));
    }
  }

  /** Adds a drawn frame to the drawn video (ffmpeg starts with the first). */
  async writeDrawn(frame: Buffer): Promise<void> {
    if (this.mediaPath == null) return;
    const { width, height, rate } = this.info;
    this.writer ??= new FrameWriter(this.programs, this.mediaPath, width * height * 3, width, height, rate);
    await this.writer.write(frame);
  }

  /**
   * After the last frame: the drawn video finished (when there is one). `failed` (the video
   * could not be read to its end) drops it instead. Returns an error for the line, if any.
   */
  async finish(failed: boolean): Promise<string | undefined> {
    this.reader = null;
    const writer = this.writer;
    this.writer = null;
    if (writer == null) return undefined;
    if (failed) {
      await writer.abort();
      return undefined;
    }
    try {
      await writer.finish();
      return undefined;
    } catch (error) {
      return `cannot save the drawn video to ${writer.path}: ${plainMessage(error)}`;
    }
  }

  /** Stops both ffmpegs and removes an unfinished drawn video (a run that ends early). */
  async close(): Promise<void> {
    await this.reader?.close();
    this.reader = null;
    await this.writer?.abort();
    this.writer = null;
  }
}
