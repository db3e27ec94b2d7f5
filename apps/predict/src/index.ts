// @lumen/predict: what the `lumen predict` / `lumen server` commands are made of, for programs
// that embed them, and the commands themselves (apps/cli assembles them into `lumen`).
export { predictCommands } from './cli';
export { parseBytes, runPredictCommand, runServerCommand, runWorkerCommand } from './commands';
export type { PredictCliOptions, QueueCliOptions, ServerCliOptions, WorkerCliOptions } from './commands';
export { colourFor, drawObjects, drawObjectsOnFrame, mediaName, overlaySvg, PALETTE } from './draw';
export type { MediaFormat } from './draw';
export { compareNatural, expandInputs, isImagePath, isVideoPath, VIDEO_EXTENSIONS } from './inputs';
export { locateFfmpeg } from './ffmpeg';
export type { FfmpegPrograms } from './ffmpeg';
export { probeVideo } from './video-probe';
export type { FrameRate, VideoInfo } from './video-probe';
export { IMAGE_EXTENSIONS } from '@lumen/data';
export { DEFAULT_MIN_PROB, parseClassNames, parseProbability, toObjects, UsageError } from './objects';
export type { ObjectFilter, PredictedObject } from './objects';
export { inIndexOrder, mergeMapInOrder, Slots } from './ordered';
export { pageHtml } from './page';
export { predictFiles } from './predict';
export type { PredictLine, PredictOptions, PredictSummary, Predictor, RemotePredictor } from './predict';
export { connectRedis, DEFAULT_QUEUE_NAME, parseRedisUrl } from './redis-connection';
export { JOB_ATTEMPTS, RemoteDetector } from './remote-detector';
export type { PredictJobData, PredictJobResult, RemoteDetectorOptions } from './remote-detector';
export { DEFAULT_LOCK_SECONDS, startWorker } from './worker';
export type { PredictionWorker, WorkerOptions } from './worker';
export { ModelQueue } from './queue';
export type { QueueStats, QueueTicket } from './queue';
export { createServer, DEFAULT_HOST, DEFAULT_MAX_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT, DEFAULT_QUEUE, DEFAULT_TIMEOUT_SECONDS, memoryBound } from './server';
export type { LumenServer, MemoryBound, ServerOptions } from './server';
