import { decodeImage, type DecodedImage } from '@lumen/data';
import type { LoadedDetector } from '@lumen/detector';
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { concatMap, from, lastValueFrom, tap } from 'rxjs';
import { drawObjects, mediaName, type MediaFormat } from './draw';
import { toObjects, type ObjectFilter, type PredictedObject } from './objects';
import { mergeMapInOrder, Slots } from './ordered';
import { PredictProgress } from './progress';

/** What the pipeline needs of a detector (a LoadedDetector, or a stand-in in tests). */
export type Predictor = Pick<LoadedDetector, 'detect' | 'classes' | 'imageSize'>;

export interface PredictOptions extends ObjectFilter {
  predictor: Predictor;
  /** Image files in output order (see expandInputs). */
  files: readonly string[];
  /** Where the JSON Lines go. */
  output: Writable;
  /** Folder for the images with their boxes drawn (created when missing). */
  saveMedia?: string;
  /** Images decoded at once (default 2). */
  concurrency?: number;
  /** Images decoded or decoding ahead of the model, at most (default 4, at least `concurrency`). */
  prefetch?: number;
  /** A progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /** Error messages (default: stderr, above the bar). */
  log?: (message: string) => void;
  /** How a file becomes network input (default @lumen/data's decodeImage; tests count calls). */
  decode?: (file: string, rule: Predictor['imageSize']) => Promise<DecodedImage>;
}

/** One line of output. */
export interface PredictLine {
  file: string;
  objects: PredictedObject[];
  error?: string;
}

export interface PredictSummary {
  images: number;
  failed: number;
  objects: number;
  seconds: number;
  imagesPerSecond: number;
}

interface Item {
  file: string;
  image?: DecodedImage;
  objects?: PredictedObject[];
  media?: { path: string; format: MediaFormat };
  error?: string;
}

/** A library error as a user reads it: "Error in decodeImage: cannot decode 'x'…" -> "cannot decode 'x'…". */
export function plainMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Error in \w+: /, '');
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

/** File names for drawn images, unique within a run ("a.jpg", "a-2.jpg", …), never the input itself. */
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

/**
 * Runs the detector over `files` and writes one JSON line per file, in the order given:
 * `{"file", "objects": [{"bbox", "label", "prob"}]}`, or `{"file", "objects": [], "error"}`
 * for a file that cannot be read or decoded (also reported through `log`; the run goes on).
 *
 * The RxJS pipeline: files -> decode (sharp; `concurrency` at once, in order) -> detect (one
 * image at a time) -> draw (when saving media) -> write. Each image holds one of `prefetch`
 * slots from the start of its decoding until its line is written, so decoding runs ahead of
 * the model by at most `prefetch` images and memory does not grow with the number of files.
 */
export async function predictFiles(options: PredictOptions): Promise<PredictSummary> {
  const { predictor, files, output } = options;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const slots = new Slots(Math.max(concurrency, options.prefetch ?? 4));
  const progress = new PredictProgress(files.length, options.progress ?? Boolean(process.stderr.isTTY));
  const log = options.log ?? ((message: string) => progress.log(message));
  const filter: ObjectFilter = options;
  if (options.saveMedia != null) mkdirSync(options.saveMedia, { recursive: true });
  const nameFor = options.saveMedia != null ? mediaNamer(options.saveMedia) : null;
  let failed = 0;
  let objects = 0;

  const decodeFile = options.decode ?? decodeImage;
  const decode = async (file: string): Promise<Item> => {
    await slots.acquire();
    try {
      return { file, image: await decodeFile(file, predictor.imageSize) };
    } catch (error) {
      return { file, error: plainMessage(error) };
    }
  };
  const detect = async (item: Item): Promise<Item> => {
    if (item.image == null) return item;
    try {
      const [detection] = await predictor.detect([item.image]);
      return { file: item.file, objects: toObjects(detection, predictor.classes, filter), media: nameFor?.(item.file) };
    } catch (error) {
      return { file: item.file, error: `detection failed: ${plainMessage(error)}` };
    }
  };
  const draw = async (item: Item): Promise<Item> => {
    if (item.media == null || item.objects == null) return item;
    try {
      const drawn = await drawObjects(await readFile(item.file), item.objects, predictor.classes, item.media.format);
      await writeFile(item.media.path, drawn);
      return item;
    } catch (error) {
      return { ...item, error: `cannot save the drawn image to ${item.media.path}: ${plainMessage(error)}` };
    }
  };
  const emit = async (item: Item): Promise<void> => {
    const line: PredictLine = { file: item.file, objects: item.objects ?? [] };
    if (item.error != null) {
      line.error = item.error;
      failed++;
      log(`lumen predict: ${item.file}: ${item.error}`);
    }
    objects += line.objects.length;
    await lines.write(JSON.stringify(line) + '\n');
  };

  const lines = lineWriter(output);
  const started = performance.now();
  try {
    await lastValueFrom(
      from(files).pipe(
        mergeMapInOrder(decode, concurrency),
        concatMap(detect),
        mergeMapInOrder(draw, concurrency),
        concatMap(async (item) => {
          try {
            await emit(item);
          } finally {
            slots.release();
          }
          return item;
        }),
        tap((item) => progress.tick(item.error != null)),
      ),
      { defaultValue: null },
    );
  } finally {
    progress.stop();
    lines.release();
  }
  const seconds = (performance.now() - started) / 1000;
  return { images: files.length, failed, objects, seconds, imagesPerSecond: seconds > 0 ? files.length / seconds : 0 };
}
