import type { Config } from '@lumen/config';
import type { EvalSummary } from '@lumen/eval';
import { EventFileWriter, type EventFileOptions } from './event-file';

/** What a log step reports: the numbers of metrics.jsonl's `train` record. */
export interface TrainScalars {
  losses: Readonly<Record<string, number>>;
  loss: number;
  lr: number;
  gradNorm: number;
  stepsPerSecond: number;
  imagesPerSecond: number;
}

/**
 * A run's TensorBoard event file (`<jobDir>/events.out.tfevents.<seconds>.<host>`): the scalars
 * of each log step and evaluation, at the training step. A run marks where it starts (a
 * resumed run: the step after its checkpoint), so TensorBoard drops what an earlier run of the
 * job logged from there on and shows each step once.
 */
export class TensorBoardLog {
  readonly file: EventFileWriter;

  constructor(jobDir: string, firstStep: number, options: EventFileOptions = {}) {
    this.file = new EventFileWriter(jobDir, options);
    this.file.sessionStart(firstStep);
  }

  /** `loss/<term>` (torchvision's loss names without `loss_`), `loss/total`, `lr`, `grad_norm`, `steps_per_second`, `images_per_second`. */
  train(step: number, record: TrainScalars): void {
    const losses = Object.fromEntries(Object.entries(record.losses).map(([name, value]) => [`loss/${name.replace(/^loss_/, '')}`, value]));
    this.file.scalars(step, {
      ...losses,
      'loss/total': record.loss,
      lr: record.lr,
      grad_norm: record.gradNorm,
      steps_per_second: record.stepsPerSecond,
      images_per_second: record.imagesPerSecond,
    });
  }

  /**
   * `<group>/mAP` (the config's metric, when there is one) and `<group>/AP/<class>` for the
   * classes with ground truth: `eval/…` for the periodic val evaluation, `final/<split>/…` for
   * the closing ones.
   */
  evaluation(step: number, group: string, summary: EvalSummary, map: number | null, metric: Config['eval']['metric']): void {
    const perClass = (metric === 'coco' ? summary.coco : summary[metric])?.perClass ?? {};
    const values: Record<string, number> = map == null ? {} : { [`${group}/mAP`]: map };
    for (const [name, ap] of Object.entries(perClass)) if (ap != null) values[`${group}/AP/${name}`] = ap;
    this.file.scalars(step, values);
  }
}
