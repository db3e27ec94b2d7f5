// The predict app's subcommands of `lumen` (assembled with the others in apps/cli): predict,
// server. Errors are left to the CLI's one handler.
import { Command, Option } from 'commander';
import { DEFAULT_IN_FLIGHT, runPredictCommand, runServerCommand, runWorkerCommand, type PredictCliOptions, type ServerCliOptions, type WorkerCliOptions } from './commands';
import { DEFAULT_MIN_PROB } from './objects';
import { DEFAULT_QUEUE_NAME } from './redis-connection';
import { DEFAULT_HOST, DEFAULT_MAX_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT, DEFAULT_QUEUE, DEFAULT_TIMEOUT_SECONDS } from './server';
import { DEFAULT_LOCK_SECONDS } from './worker';

const REDIS_HELP = 'run the model on `lumen worker`s through Redis at this URL (redis://host:port)';
const QUEUE_NAME_HELP = 'the queue on Redis (one per checkpoint when several share a Redis)';

const collect = (value: string, previous: string[]) => [...previous, value];

function predictCommand(): Command {
  return new Command('predict')
    .summary('detect objects in images and videos: JSON Lines')
    .description(
      'detect objects in images, videos (ffmpeg: $LUMEN_FFMPEG, else ffmpeg on the PATH), folders (recursive) and globs; ' +
        'one JSON line per image and per video frame, in input order',
    )
    .argument('[inputs...]', 'image or video files, folders or globs (as --input)')
    .requiredOption('--checkpoint <dir>', 'a checkpoint folder (jobs/<run>/checkpoint-NNNNNNN)')
    .option('--input <path>', 'an image or video file, a folder or a glob (repeatable)', collect, [])
    .option('--output <file>', 'write the JSON Lines here instead of stdout')
    .option('--save-media <dir>', 'also save each image (and each video, as H.264 .mp4) with its boxes drawn into this folder')
    .option('--min-prob <p>', 'keep objects with at least this probability', String(DEFAULT_MIN_PROB))
    .option('--max-detections <n>', "keep at most this many objects per image or frame (default: all the model returns, at most its model.rcnn.detectionsPerImage)")
    .option('--only-class <name>', 'keep only this class (repeatable; or comma-separated names)', collect, [])
    .option('--ignore-class <name>', 'drop this class (repeatable; or comma-separated names)', collect, [])
    .option('--concurrency <n>', 'images (or video frames) decoded at once', '2')
    .option('--prefetch <n>', 'images or video frames decoded ahead of the model, at most', '4')
    .option('--redis <url>', `${REDIS_HELP}; image bytes travel in the jobs`)
    .option('--queue-name <name>', QUEUE_NAME_HELP, DEFAULT_QUEUE_NAME)
    .option('--in-flight <n>', 'with --redis: images on the workers at once, at most', DEFAULT_IN_FLIGHT)
    .addOption(new Option('--no-progress', 'no progress bar (there is one only on a TTY anyway)'))
    .action(async (positional: string[], opts: PredictCliOptions) => {
      process.exitCode = await runPredictCommand(positional, opts);
    });
}

function serverCommand(): Command {
  return new Command('server')
    .summary('HTTP API and web page for a checkpoint')
    .description('serve a page and POST /api/predict for a checkpoint')
    .requiredOption('--checkpoint <dir>', 'a checkpoint folder')
    .option('--port <n>', 'port to listen on', String(DEFAULT_PORT))
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', DEFAULT_HOST)
    .option('--max-bytes <size>', 'largest image accepted (bytes, or 512kb, 10mb)', String(DEFAULT_MAX_BYTES))
    .option('--queue <n>', 'requests that may wait for the model; more get 503', String(DEFAULT_QUEUE))
    .option('--timeout <seconds>', 'time a client has to send its whole request (headers and body); then 408', String(DEFAULT_TIMEOUT_SECONDS))
    .option('--max-connections <n>', 'open connections at most; more are closed at once', String(DEFAULT_MAX_CONNECTIONS))
    .option('--min-prob <p>', 'min_prob when a request gives none', String(DEFAULT_MIN_PROB))
    .option('--max-detections <n>', "objects per image, at most (default: the model's model.rcnn.detectionsPerImage)")
    .option('--redis <url>', `${REDIS_HELP}, instead of loading it here`)
    .option('--queue-name <name>', QUEUE_NAME_HELP, DEFAULT_QUEUE_NAME)
    .action(async (opts: ServerCliOptions) => {
      await runServerCommand(opts);
    });
}

function workerCommand(): Command {
  return new Command('worker')
    .summary('run the model for predict/server --redis jobs')
    .description(
      'load a checkpoint once and predict the images that `lumen predict --redis` and `lumen server --redis` queue on Redis (BullMQ); ' +
        'run one per machine; SIGTERM finishes the jobs in hand, and a worker that dies has its job retried by another',
    )
    .requiredOption('--redis <url>', 'the Redis holding the queue (redis://host:port)')
    .requiredOption('--checkpoint <dir>', 'a checkpoint folder: the same weights as the producers name')
    .option('--queue-name <name>', QUEUE_NAME_HELP, DEFAULT_QUEUE_NAME)
    .option('--concurrency <n>', 'jobs held at once (decoding overlaps the model, which takes one image at a time)', '2')
    .option('--lock-seconds <s>', "a job's lock: a dead worker's job is retried within 1.5x of it; the model must not block longer than half", String(DEFAULT_LOCK_SECONDS))
    .action(async (opts: WorkerCliOptions) => {
      await runWorkerCommand(opts);
    });
}

/** `lumen predict`, `lumen server`, `lumen worker`. */
export function predictCommands(): Command[] {
  return [predictCommand(), serverCommand(), workerCommand()];
}

