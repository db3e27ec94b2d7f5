import { UserError } from '@lumen/core';
import { decodeImage, type DecodedImage } from '@lumen/data';
import type { Detection, LoadedDetector } from '@lumen/detector';
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { concatMap, from, lastValueFrom, type OperatorFunction } from 'rxjs';
import sharp from 'sharp';
import { drawObjects, drawObjectsOnFrame, mediaName, type MediaFormat } from './draw';
import { plainMessage } from './errors';
import { locateFfmpeg, type FfmpegPrograms } from './ffmpeg';
import { resizeFrame } from './frames';
import { isVideoPath } from './inputs';
import { toObjects, type ObjectFilter, type PredictedObject } from './objects';
import { mergeMapInOrder, Slots } from './ordered';
import { PredictProgress } from './progress';
import { VideoJob, videoError } from './video-job';
import { probeVideo, type VideoInfo } from './video-probe';

export { plainMessage };

/** What the pipeline needs of a detector (a LoadedDetector, or a stand-in in tests). */
export type Predictor = Pick<LoadedDetector, 'detect' | 'classes' | 'imageSize'>;

/**
 * A detector that runs elsewhere (workers on a queue: see remote-detector.ts): it takes an
 * image file's bytes, and decodes them itself. A UserError it throws ends the whole run (the
 * queue is gone, the workers run another model); any other error is that image's error line.
 */
export interface RemotePredictor {
  classes: readonly string[];
  /** The resize rule the workers decode with. */
  imageSize: Predictor['imageSize'];
  /** Images sent and not yet answered, at most. */
  inFlight: number;
  detectBytes(file: string, bytes: Buffer): Promise<Detection>;
}

export const isRemote = (predictor: Predictor | RemotePredictor): predictor is RemotePredictor => 'detectBytes' in predictor;

export interface PredictOptions extends ObjectFilter {
  predictor: Predictor | RemotePredictor;
  /** Image and video files in output order (see expandInputs); videos go by their extension (isVideoPath). */
  files: readonly string[];
  /** Where the JSON Lines go. */
  output: Writable;
  /** Folder for the images and videos with their boxes drawn (created when missing). */
  saveMedia?: string;
  /** Images (or video frames) decoded and drawn at once (default 2); a remote predictor's are in flight on it. */
  concurrency?: number;
  /** Images or frames decoded or decoding ahead of the model, at most (default 4, at least `concurrency`). */
  prefetch?: number;
  /** A progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /** Error messages (default: stderr, above the bar). */
  log?: (message: string) => void;
  /** How a file becomes network input (default @lumen/data's decodeImage; tests count calls). */
  decode?: (file: string, rule: Predictor['imageSize']) => Promise<DecodedImage>;
  /** The ffmpeg program for videos (default: $LUMEN_FFMPEG, else ffmpeg on the PATH); ffprobe is the one beside it. */
  ffmpeg?: string;
}

/** One line of output: an image's, a video frame's (with `frame` and `time`), or a file's error. */
export interface PredictLine {
  file: string;
  /** A video frame's index, from 0. */
  frame?: number;
  /** A video frame's time in seconds from the start of the video (frame / frame rate). */
  time?: number;
  objects: PredictedObject[];
  error?: string;
}

export interface PredictSummary {
  /** Image inputs. */
  images: number;
  /** Video inputs. */
  videos: number;
  /** Video frames predicted. */
  frames: number;
  /** Lines with an error. */
  failed: number;
  objects: number;
  seconds: number;
  /** Images and video frames per second. */
  imagesPerSecond: number;
}

/** What the pipeline carries: an image, a video frame, or the end of a video (which has a line only when it failed). */
interface Item {
  file: string;
  /** A video frame: its video, index, and its RGB24 bytes while they are still to be drawn. */
  frame?: { job: VideoJob; index: number; pixels?: Buffer };
  /** The end of a video (after its last frame, or instead of its frames when it cannot be read). */
  end?: { job?: VideoJob };
  image?: DecodedImage;
  /** An image file's bytes, or a video frame as PNG, for a remote predictor. */
  bytes?: Buffer;
  objects?: PredictedObject[];
  media?: { path: string; format: MediaFormat };
  /** A drawn video frame, for the drawn video. */
  drawn?: Buffer;
  error?: string;
}

/** The output stream failed (a full disk, a closed pipe); `cause` is the stream's error. */
export class OutputError extends Error {
  override name = 'OutputError';
  constructor(cause: unknown) {
    super(plainMessage(cause), { cause });
  }
}

/**
 * Writes lines to `output`, waiting while its buffer is full. The stream's first error fails
 * the write in progress and every later one as an OutputError; the one listener that catches
 * it (without one Node would also throw it as an uncaught 'error' event) stays until
 * `release`. The error is taken from the event: stdout's `errored` does not keep it, and
 * stdout already has a listener per worker thread piped into it, so no more are added.
 */
function lineWriter(output: Writable) {
  let failure: OutputError | null = null;
  let resume: (() => void) | null = null;
  const onError = (error: unknown) => {
    failure ??= new OutputError(error);
    resume?.();
  };
  output.on('error', onError);
  const check = () => {
    if (failure != null) throw failure;
    if (!output.writable) throw new OutputError(new Error('the output stream is closed'));
  };
  return {
    async write(text: string): Promise<void> {
      check();
      if (output.write(text)) return;
      // Until 'drain', or the error that means there will be none.
      await new Promise<void>((resolve) => {
        resume = resolve;
        output.once('drain', resolve);
      });
      if (resume != null) output.off('drain', resume);
      resume = null;
      check();
    },
    /** Stops listening; throws the stream's error when one came. */
    release(): void {
      output.off('error', onError);
      if (failure != null) throw failure;
    },
  };
}

/** File names for drawn media, unique within a run ("a.jpg", "a-2.jpg", …), never the input itself. */
function mediaNamer(dir: string) {
  const used = new Set<string>();
  return (file: string): { path: string; format: MediaFormat } => {
    const { name, format } = mediaName(file);
    const dot = name.lastIndexOf('.');
    let candidate = name;
    for (let n = 2; used.has(candidate) || resolve(dir, candidate) === resolve(file); n++) candidate = `${name.slice(0, dot)}-${n}${name.slice(dot)}`;
    used.add(candidate);
    return { path: join(dir, candidate), format };
  };
}

/** An image file's bytes for a remote predictor (the error names the file, as a local decode's does). */
async function readImageBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new Error(`cannot read '${file}': ${plainMessage(error)}`);
  }
}

/**
 * A video frame as lossless PNG for a remote predictor: the worker decodes it to what
 * resizeFrame makes of the raw frame locally.
 */
async function framePng(frame: NonNullable<Item['frame']>): Promise<Buffer> {
  const { width, height } = frame.job.info;
  return sharp(frame.pixels as Buffer, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}

/** Each distinct video probed (4 at a time), for the progress bar's total; a failure is kept for its line. */
async function probeAll(programs: FfmpegPrograms, files: readonly string[]): Promise<Map<string, VideoInfo | Error>> {
  const probed = new Map<string, VideoInfo | Error>();
  const queue = [...new Set(files)];
  const worker = async () => {
    for (let file = queue.shift(); file != null; file = queue.shift()) probed.set(file, await probeVideo(programs, file).catch((error: Error) => error));
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return probed;
}

/**
 * Runs the detector over `files` and writes one JSON line per image and per video frame, in
 * the order given: `{"file", "objects": [{"bbox", "label", "prob"}]}` for an image,
 * `{"file", "frame", "time", "objects"}` for each frame of a video, or
 * `{"file", "objects": [], "error"}` for a file that cannot be read or decoded (also reported
 * through `log`; the run goes on).
 *
 * The RxJS pipeline: files -> images and video frames (ffmpeg, read one frame at a time) ->
 * decode or resize (sharp; `concurrency` at once, in order) -> detect (one at a time) -> draw
 * (when saving media) -> write (drawn frames into the video's encoding ffmpeg). Each image or
 * frame holds one of `prefetch` slots from before it is read until its line is written, so
 * reading runs ahead of the model by at most `prefetch` images or frames and memory does not
 * grow with the number of files or the length of a video.
 */
export async function predictFiles(options: PredictOptions): Promise<PredictSummary> {
  const { predictor, files, output } = options;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const remote = isRemote(predictor) ? predictor : null;
  const slots = new Slots(Math.max(concurrency, options.prefetch ?? 4, remote?.inFlight ?? 0));
  const showProgress = options.progress ?? Boolean(process.stderr.isTTY);
  const filter: ObjectFilter = options;
  if (options.saveMedia != null) mkdirSync(options.saveMedia, { recursive: true });
  const nameFor = options.saveMedia != null ? mediaNamer(options.saveMedia) : null;

  const videoFiles = files.filter(isVideoPath);
  let programs: FfmpegPrograms | null = null;
  let noFfmpeg: string | null = null;
  if (videoFiles.length > 0) {
    try {
      programs = locateFfmpeg(options.ffmpeg);
    } catch (error) {
      noFfmpeg = plainMessage(error);
    }
  }
  // Probed ahead only for the bar's total and ETA; otherwise each video when its turn comes.
  const probed = programs != null && showProgress ? await probeAll(programs, videoFiles) : new Map<string, VideoInfo | Error>();
  const expected = (file: string) => {
    const info = probed.get(file);
    return info == null || info instanceof Error ? 1 : (info.frames ?? 1);
  };
  const total = files.length - videoFiles.length + videoFiles.reduce((sum, file) => sum + expected(file), 0);
  const progress = new PredictProgress(total, showProgress, undefined, videoFiles.length > 0 ? 'frames' : 'img');
  const log = options.log ?? ((message: string) => progress.log(message));
  let failed = 0;
  let objects = 0;
  let frames = 0;
  const open = new Set<VideoJob>();

  const openVideo = async (file: string): Promise<VideoJob> => {
    if (programs == null) throw new Error(videoError(file, noFfmpeg as string));
    return VideoJob.open(programs, file, nameFor?.(file).path, probed.get(file));
  };
  // Starting ffprobe and ffmpeg takes a while (about 0.2 s each on an idle machine, more
  // under load), so each video is opened while the inputs before it are predicted: the
  // first at once, the next when its predecessor starts (two decoders at most; the one
  // ahead waits on its full pipe).
  const videoAt = files.flatMap((file, index) => (isVideoPath(file) ? [index] : []));
  const opening = new Map<number, Promise<VideoJob | Error>>();
  const openAhead = (index: number | undefined) => {
    if (index == null || opening.has(index)) return;
    const opened = openVideo(files[index]).then(
      (job) => {
        open.add(job);
        return job;
      },
      (error: unknown) => new Error(plainMessage(error)),
    );
    opening.set(index, opened);
  };
  openAhead(videoAt[0]);

  /** Images and video frames in output order, each holding a slot (taken before it is read). */
  async function* items(): AsyncGenerator<Item> {
    for (const [at, file] of files.entries()) {
      await slots.acquire();
      if (!isVideoPath(file)) {
        yield { file };
        continue;
      }
      openAhead(at);
      const job = await opening.get(at);
      opening.delete(at);
      openAhead(videoAt.find((index) => index > at));
      if (job instanceof Error || job == null) {
        yield { file, end: {}, error: job?.message };
        continue;
      }
      for (let index = 0; ; index++) {
        if (index > 0) await slots.acquire();
        let pixels: Buffer | null;
        try {
          pixels = await job.read();
        } catch (error) {
          yield { file, end: { job }, error: plainMessage(error) };
          break;
        }
        if (pixels == null) {
          yield { file, end: { job } };
          break;
        }
        yield { file, frame: { job, index, pixels } };
      }
    }
  }

  const decodeFile = options.decode ?? decodeImage;
  const decode = async (item: Item): Promise<Item> => {
    if (item.end != null) return item;
    try {
      if (remote != null) {
        if (item.frame == null) return { file: item.file, bytes: await readImageBytes(item.file) };
        const bytes = await framePng(item.frame);
        return { ...item, frame: { ...item.frame, pixels: item.frame.job.mediaPath != null ? item.frame.pixels : undefined }, bytes };
      }
      const local = predictor as Predictor;
      if (item.frame == null) return { file: item.file, image: await decodeFile(item.file, local.imageSize) };
      const { job, pixels } = item.frame;
      const image = await resizeFrame(pixels as Buffer, job.info.width, job.info.height, local.imageSize);
      // The frame's own pixels stay only while they are to be drawn.
      return { ...item, frame: { ...item.frame, pixels: job.mediaPath != null ? pixels : undefined }, image };
    } catch (error) {
      return { file: item.file, frame: item.frame, error: plainMessage(error) };
    }
  };
  const detect = async (item: Item): Promise<Item> => {
    if (item.image == null && item.bytes == null) return item;
    try {
      const [detection] = remote != null ? [await remote.detectBytes(item.file, item.bytes as Buffer)] : await (predictor as Predictor).detect([item.image as DecodedImage]);
      const media = item.frame == null ? nameFor?.(item.file) : undefined;
      return { file: item.file, frame: item.frame, objects: toObjects(detection, predictor.classes, filter), media };
    } catch (error) {
      if (remote != null && error instanceof UserError) throw error;
      // A remote worker reports the image's own error (it could not decode it); locally the model failed.
      return { file: item.file, frame: item.frame, error: remote != null ? plainMessage(error) : `detection failed: ${plainMessage(error)}` };
    }
  };
  // The local model takes one image at a time; remote workers take up to inFlight.
  const detectStage: OperatorFunction<Item, Item> = remote != null ? mergeMapInOrder(detect, remote.inFlight) : concatMap(detect);
  const draw = async (item: Item): Promise<Item> => {
    const pixels = item.frame?.pixels;
    if (item.frame != null && pixels != null) {
      const { width, height } = item.frame.job.info;
      // A frame that failed is written as it came, so the drawn video keeps every frame.
      const drawn = item.objects != null ? await drawObjectsOnFrame(pixels, width, height, item.objects, predictor.classes) : pixels;
      return { ...item, frame: { ...item.frame, pixels: undefined }, drawn };
    }
    if (item.media == null || item.objects == null || item.media.format === 'mp4') return item;
    try {
      const drawn = await drawObjects(await readFile(item.file), item.objects, predictor.classes, item.media.format);
      await writeFile(item.media.path, drawn);
      return item;
    } catch (error) {
      return { ...item, error: `cannot save the drawn image to ${item.media.path}: ${plainMessage(error)}` };
    }
  };
  const writeLine = async (line: PredictLine): Promise<void> => {
    if (line.error != null) {
      failed++;
      log(`lumen predict: ${line.file}${line.frame != null ? ` frame ${line.frame}` : ''}: ${line.error}`);
    }
    objects += line.objects.length;
    await lines.write(JSON.stringify(line) + '\n');
    progress.tick(line.error != null);
  };
  const emit = async (item: Item): Promise<void> => {
    if (item.end != null) {
      const job = item.end.job;
      let error = item.error;
      if (job != null) {
        open.delete(job);
        frames += job.frames;
        // A video that could not be read to its end gets no drawn video.
        const saveError = await job.finish(error != null);
        error ??= saveError;
      }
      // The bar's total had the probe's estimate for this video: now its lines are known.
      progress.addToTotal((job?.frames ?? 0) + (error != null ? 1 : 0) - expected(item.file));
      if (error != null) await writeLine({ file: item.file, objects: [], error });
      return;
    }
    if (item.frame == null) {
      await writeLine({ file: item.file, objects: item.objects ?? [], ...(item.error != null ? { error: item.error } : {}) });
      return;
    }
    const { job, index } = item.frame;
    if (item.drawn != null) await job.writeDrawn(item.drawn);
    const line: PredictLine = { file: item.file, frame: index, time: Math.round(job.time(index) * 1e4) / 1e4, objects: item.objects ?? [] };
    if (item.error != null) line.error = item.error;
    await writeLine(line);
  };

  const lines = lineWriter(output);
  const started = performance.now();
  try {
    await lastValueFrom(
      from(items()).pipe(
        mergeMapInOrder(decode, concurrency),
        detectStage,
        mergeMapInOrder(draw, concurrency),
        concatMap(async (item) => {
          try {
            await emit(item);
          } finally {
            slots.release();
          }
          return item;
        }),
      ),
      { defaultValue: null },
    );
  } finally {
    progress.stop();
    // A run that stopped early: no ffmpeg left running (a video still opening ahead included), no half-written video.
    await Promise.all(opening.values());
    await Promise.all([...open].map((job) => job.close()));
    lines.release();
  }
  const seconds = (performance.now() - started) / 1000;
  const images = files.length - videoFiles.length;
  return { images, videos: videoFiles.length, frames, failed, objects, seconds, imagesPerSecond: seconds > 0 ? (images + frames) / seconds : 0 };
}
