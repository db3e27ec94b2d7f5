// What `lumen predict` and `lumen server` do, without the argument parsing (cli.ts), so tests
// and embedding programs call them with plain options.
import { loadDetector, type LoadedDetector } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { basename, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { checkAddress } from './address';
import { expandInputs } from './inputs';
import { parseClassNames, parseNonNegativeInt, parsePositiveInt, parseProbability, parseSeconds, UsageError } from './objects';
import { checkOutputFile, closeOutput, fsReason, openOutput, prepareMediaFolder } from './output-paths';
import { OutputError, predictFiles } from './predict';
import { createServer, megabytes } from './server';

/** A byte count: "10485760", "10MB", "512kb", "1.5m" (binary units). */
export function parseBytes(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(value);
  if (match == null) throw new UsageError(`--max-bytes must be a size like 10485760, 512kb or 10mb, but got '${value}'`);
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Math.floor(Number(match[1]) * factor);
  if (bytes < 1) throw new UsageError(`--max-bytes must be at least 1 byte, but got '${value}'`);
  return bytes;
}

/** A TCP port from --port: 0-65535 (0 picks a free one). */
function parsePort(value: string): number {
  const port = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) throw new UsageError(`--port must be a port number (0-65535), but got '${value}'`);
  return port;
}

async function openDetector(checkpoint: string): Promise<LoadedDetector> {
  await initBackend();
  try {
    return loadDetector(checkpoint);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export interface PredictCliOptions {
  checkpoint: string;
  input: string[];
  output?: string;
  saveMedia?: string;
  minProb: string;
  maxDetections: string;
  onlyClass: string[];
  ignoreClass: string[];
  concurrency: string;
  prefetch: string;
  progress: boolean;
}

/** Where the JSON Lines went, for messages. */
const outputName = (opts: PredictCliOptions) => opts.output ?? 'stdout';

/** A failed output stream as one line: what could not be written and what is left. */
function outputFailure(opts: PredictCliOptions, error: unknown): UsageError {
  const left = opts.output != null ? 'the file holds only the lines written before it' : 'the lines before it were written';
  return new UsageError(`cannot write the predictions to ${outputName(opts)}: ${fsReason(error)}; ${left}`);
}

/** `lumen predict`: returns the exit code (0 every image and video read, 1 some failed). */
export async function runPredictCommand(positional: string[], opts: PredictCliOptions): Promise<number> {
  const inputs = [...opts.input, ...positional];
  if (inputs.length === 0) throw new UsageError('no input: give image or video files, folders or globs with --input=PATH (repeatable)');
  const minProb = parseProbability('--min-prob', opts.minProb);
  const maxDetections = parsePositiveInt('--max-detections', opts.maxDetections);
  const concurrency = parsePositiveInt('--concurrency', opts.concurrency);
  const prefetch = parsePositiveInt('--prefetch', opts.prefetch);
  if (opts.output != null) checkOutputFile(opts.output);
  if (opts.saveMedia != null) prepareMediaFolder(opts.saveMedia);
  const files = await expandInputs(inputs, (message) => process.stderr.write(`lumen predict: ${message}\n`));
  if (files.length === 0) throw new UsageError(`no images or videos found in ${inputs.join(', ')}`);

  const detector = await openDetector(opts.checkpoint);
  let output: Writable = process.stdout;
  try {
    const onlyClasses = parseClassNames('--only-class', opts.onlyClass, detector.classes);
    const ignoreClasses = parseClassNames('--ignore-class', opts.ignoreClass, detector.classes);
    if (opts.output != null) output = await openOutput(opts.output);
    const summary = await predictFiles({
      predictor: detector,
      files,
      output,
      saveMedia: opts.saveMedia,
      minProb,
      maxDetections,
      onlyClasses,
      ignoreClasses,
      concurrency,
      prefetch,
      // A bar on the terminal, unless the JSON lines stream to the same terminal.
      progress: opts.progress && Boolean(process.stderr.isTTY) && !(opts.output == null && process.stdout.isTTY),
    });
    if (output !== process.stdout) await closeOutput(output);
    const videos = summary.videos > 0 ? `, ${summary.videos} video(s) (${summary.frames} frames)` : '';
    const rate = summary.videos > 0 ? 'frames/s' : 'images/s';
    process.stderr.write(
      `lumen predict: ${summary.images} image(s)${videos}, ${summary.objects} object(s), ${summary.failed} failed, ` +
        `${summary.seconds.toFixed(1)} s (${summary.imagesPerSecond.toFixed(2)} ${rate})` +
        `${opts.output != null ? ` -> ${opts.output}` : ''}${opts.saveMedia != null ? `, drawn media in ${opts.saveMedia}` : ''}\n`,
    );
    return summary.failed > 0 ? 1 : 0;
  } catch (error) {
    throw error instanceof OutputError ? outputFailure(opts, error.cause) : error;
  } finally {
    if (output !== process.stdout) output.destroy();
    detector.dispose();
  }
}

export interface ServerCliOptions {
  checkpoint: string;
  port: string;
  host: string;
  maxBytes: string;
  queue: string;
  timeout: string;
  maxConnections: string;
  minProb: string;
  maxDetections: string;
}

/** `lumen server`: runs until SIGINT/SIGTERM. */
export async function runServerCommand(opts: ServerCliOptions): Promise<void> {
  const port = parsePort(opts.port);
  const queue = parseNonNegativeInt('--queue', opts.queue);
  const maxBytes = parseBytes(opts.maxBytes);
  const timeoutSeconds = parseSeconds('--timeout', opts.timeout);
  const maxConnections = parsePositiveInt('--max-connections', opts.maxConnections);
  const minProb = parseProbability('--min-prob', opts.minProb);
  const maxDetections = parsePositiveInt('--max-detections', opts.maxDetections);
  await checkAddress(opts.host, port);
  const detector = await openDetector(opts.checkpoint);
  const server = await createServer({
    predictor: detector,
    maxBytes,
    queue,
    timeoutSeconds,
    maxConnections,
    minProb,
    maxDetections,
    title: `Lumen — ${basename(resolve(opts.checkpoint))}`,
  });
  let url: string;
  try {
    url = await server.listen({ port, host: opts.host });
  } catch (error) {
    await server.close();
    detector.dispose();
    throw error;
  }
  const bound = server.memoryBound;
  process.stderr.write(
    `lumen server: ${url} (checkpoint ${opts.checkpoint}, ${detector.classes.length} classes; POST ${url}/api/predict; ` +
      `images up to ${maxBytes} bytes, ${queue} waiting at most)\n` +
      `lumen server: at most ${maxConnections} connections, each with ${timeoutSeconds} s to send its request; ` +
      `request memory at most ${megabytes(bound.total)} (${megabytes(bound.requestBodies)} of bodies being received + ` +
      `${megabytes(bound.queuedRequests)} held by the ${queue + 1} requests in the model queue)\n`,
  );
  const stop = () => {
    process.stderr.write('lumen server: stopping\n');
    void server.close().finally(() => {
      detector.dispose();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
