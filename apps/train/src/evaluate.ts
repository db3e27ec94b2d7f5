import type { Config } from '@lumen/config';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalExamples, type Dataset, type DecodedExample } from '@lumen/data';
import { batchImages, detectBatch, type Detector, type DetectorParams } from '@lumen/detector';
import { createEvaluator, type EvalSummary, type MetricName } from '@lumen/eval';

export interface EvaluationResult {
  summary: EvalSummary;
  /** The config's metric as one number: mAP (VOC) or AP@[.5:.95] (COCO); null without ground truth. */
  map: number | null;
  images: number;
  seconds: number;
}

/** The headline number of a summary for the config's metric. */
export function headlineMetric(summary: EvalSummary, metric: Config['eval']['metric']): number | null {
  if (metric === 'coco') {
    const ap = summary.coco?.AP;
    return ap == null || ap < 0 ? null : ap;
  }
  return summary[metric]?.mAP ?? null;
}

/**
 * Runs the detector over a split (decoded ahead with the data lib's bounded prefetch, one
 * image at a time) and scores it with @lumen/eval against the original annotations, in
 * original-image pixels. `maxImages` evaluates only the first images of the split.
 */
export async function evaluateDetector(
  detector: Detector,
  params: DetectorParams,
  dataset: Dataset,
  config: Config,
  options: { maxImages?: number | null; onImage?: (done: number, total: number) => void } = {},
): Promise<EvaluationResult> {
  const started = Date.now();
  const metric = config.eval.metric;
  const metrics: MetricName[] = metric === 'coco' ? ['coco', 'voc'] : [metric];
  const evaluator = createEvaluator({ classes: detector.classes, metrics });
  const total = Math.min(dataset.size, options.maxImages ?? Infinity);
  const examples = evalExamples(dataset, config.data);
  let done = 0;
  try {
    for await (const example of examples as AsyncIterable<DecodedExample>) {
      if (done >= total) break;
      const batch = batchImages([example], config.model.transform);
      let detections;
      try {
        [detections] = await detectBatch(detector, params, batch, [example]);
      } finally {
        batch.images.dispose();
      }
      const truth = dataset.at(example.index);
      const rows = (values: Float32Array) => Array.from({ length: values.length / 4 }, (_, i) => Array.from(values.subarray(4 * i, 4 * i + 4)));
      evaluator.add({
        imageId: truth.id,
        detections,
        groundTruth: {
          boxes: rows(truth.boxes),
          labels: Array.from(truth.labels),
          difficult: Array.from(truth.difficult, (d) => d === 1),
          ...(dataset.type === 'coco' ? { iscrowd: Array.from(truth.difficult, (d) => d === 1) } : {}),
        },
      });
      done += 1;
      options.onImage?.(done, total);
    }
  } finally {
    await (examples as { return?: () => Promise<unknown> }).return?.();
  }
  const summary = evaluator.summarize();
  return { summary, map: headlineMetric(summary, metric), images: done, seconds: (Date.now() - started) / 1000 };
}

/** "voc mAP 0.8865 on 300 test images": the headline of an evaluation, as logs print it. */
export function describeMap(metric: Config['eval']['metric'], result: EvaluationResult, split: string): string {
  return `${metric} mAP ${result.map == null ? '-' : result.map.toFixed(4)} on ${result.images} ${split} images`;
}

/**
 * Scores a checkpoint's weights on a whole split (or its first `maxImages`), logging progress,
 * and writes `eval-<split>.json` beside the checkpoint: `lumen eval`, and a training run's
 * final evaluation (eval.finalSplits).
 */
export async function evaluateToFile(
  detector: Detector,
  params: DetectorParams,
  dataset: Dataset,
  config: Config,
  checkpointDir: string,
  options: { maxImages?: number | null; log: (message: string) => void },
): Promise<EvaluationResult & { split: string; path: string }> {
  const result = await evaluateDetector(detector, params, dataset, config, {
    maxImages: options.maxImages ?? null,
    onImage: (done, total) => {
      if (done % 50 === 0 || done === total) options.log(`evaluated ${done}/${total} ${dataset.split} images`);
    },
  });
  const path = join(checkpointDir, `eval-${dataset.split}.json`);
  const record = { split: dataset.split, images: result.images, metric: config.eval.metric, mAP: result.map, seconds: result.seconds, summary: result.summary };
  writeFileSync(path, JSON.stringify(record, null, 2) + '\n');
  return { ...result, split: dataset.split, path };
}
