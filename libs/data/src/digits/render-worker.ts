/**
 * A worker thread of generateDigits: writes each DigitsImageJob it is sent (writeDigitsImage)
 * and answers with the image's split and digit classes, or with the error's message.
 */
import { parentPort } from 'node:worker_threads';
import { writeDigitsImage, type DigitsImageJob } from './write-image';

export type RenderWorkerReply = { id: string; splitIndex: number; digits: number[] } | { id: string; error: string };

const port = parentPort;
if (port == null) throw new Error('render-worker.ts runs as a worker thread of generateDigits');
port.on('message', (job: DigitsImageJob) => {
  writeDigitsImage(job).then(
    (digits) => port.postMessage({ id: job.id, splitIndex: job.splitIndex, digits } satisfies RenderWorkerReply),
    (e: unknown) => port.postMessage({ id: job.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies RenderWorkerReply),
  );
});
