import type { Config } from '@lumen/config';
import type { Dataset } from '@lumen/data';
import type { Detector, DetectorParams } from '@lumen/detector';
import { formatSummary } from '@lumen/eval';
import { describeMap, evaluateToFile, type EvaluationResult } from './evaluate';
import type { MetricsLog } from './job';
import type { TensorBoardLog } from './tensorboard';

export type FinalEvaluation = EvaluationResult & { split: string; path: string };

/**
 * A run's closing evaluation (eval.finalSplits): the last checkpoint's weights scored on each
 * whole split, with its table, headline and `eval-<split>.json` beside the checkpoint.
 */
export async function evaluateFinalSplits(
  run: { detector: Detector; params: DetectorParams; config: Config; metrics: MetricsLog; events: TensorBoardLog; log: (message: string) => void },
  splits: readonly Dataset[],
  checkpoint: string,
  step: number,
  started: number,
): Promise<FinalEvaluation[]> {
  const { detector, params, config, metrics, events, log } = run;
  const evaluations: FinalEvaluation[] = [];
  for (const dataset of splits) {
    const result = await evaluateToFile(detector, params, dataset, config, checkpoint, { log });
    metrics.write({ type: 'eval', final: true, step, split: dataset.split, metric: config.eval.metric, mAP: result.map, images: result.images, minutes: (Date.now() - started) / 60000 });
    events.evaluation(step, `final/${dataset.split}`, result.summary, result.map, config.eval.metric);
    log(`\n${formatSummary(result.summary)}`);
    log(`${describeMap(config.eval.metric, result, dataset.split)} (checkpoint ${checkpoint}; wrote ${result.path})`);
    evaluations.push(result);
  }
  return evaluations;
}
