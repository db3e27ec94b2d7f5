import type { TrainConfig } from '@lumen/config';
import { UserError } from '@lumen/core';
import type * as tf from '@tensorflow/tfjs-core';

/** How many recent healthy losses the explosion check takes the median of. */
const RECENT_LOSSES = 50;

/**
 * A run stopped because its loss went non-finite or exploded for `train.divergence.maxBadSteps`
 * steps in a row, or its weights became non-finite. The message names the step, the last good
 * checkpoint (kept) and the learning rate to lower.
 */
export class TrainingDiverged extends UserError {
  override name = 'TrainingDiverged';
  constructor(
    message: string,
    readonly step: number,
    /** The last good checkpoint, or null when none was written. */
    readonly checkpoint: string | null,
  ) {
    super(message);
  }
}

/** What a step's loss says about the run. */
export type StepHealth = 'healthy' | 'exploded';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Counts bad steps in a row: a non-finite loss (its update was skipped) or a loss over
 * `explosionFactor` x the median of the recent healthy losses (its update was applied).
 */
export class DivergenceMonitor {
  private readonly recent: number[] = [];
  /** Bad steps since the last healthy one. */
  badInARow = 0;
  /** An update was applied since the last healthy step: the weights are then not to be trusted. */
  private updatedWhileBad = false;

  constructor(private readonly settings: TrainConfig['divergence']) {}

  get maxBadSteps(): number {
    return this.settings.maxBadSteps;
  }

  get diverged(): boolean {
    return this.badInARow >= this.settings.maxBadSteps;
  }

  /** Whether the weights are the result of healthy steps only (a checkpoint may be written). */
  get trusted(): boolean {
    return !this.updatedWhileBad;
  }

  /** The median of the recent healthy losses; NaN before the first. */
  recentMedian(): number {
    return this.recent.length ? median(this.recent) : NaN;
  }

  /** A step whose loss was finite and whose update was applied. */
  afterUpdate(loss: number): StepHealth {
    const factor = this.settings.explosionFactor;
    if (factor != null && this.recent.length > 0 && loss > factor * this.recentMedian()) {
      this.badInARow += 1;
      this.updatedWhileBad = true;
      return 'exploded';
    }
    this.badInARow = 0;
    this.updatedWhileBad = false;
    this.recent.push(loss);
    if (this.recent.length > RECENT_LOSSES) this.recent.shift();
    return 'healthy';
  }

  /** A step whose loss was not finite (nothing was updated). */
  afterNonFinite(): void {
    this.badInARow += 1;
  }
}

/** Whether every value of `variables` is finite (read on the CPU: checkpoints are rare). */
export function allFinite(variables: Iterable<tf.Variable>): boolean {
  for (const variable of variables) {
    const values = variable.dataSync();
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  }
  return true;
}

/** A number as a user would type it: 0.02, 3.26, 1e-5, 1e6, 2.43e28. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value) || value === 0) return String(value);
  const rounded = Number(value.toPrecision(3));
  const magnitude = Math.abs(rounded);
  return magnitude >= 1e4 || magnitude < 1e-3 ? rounded.toExponential().replace('e+', 'e') : String(rounded);
}

/** "lower train.optimizer.lr (now 1e30), e.g. --set train.optimizer.lr=1e29". */
export function lowerLrAdvice(lr: number): string {
  return `lower train.optimizer.lr (now ${formatNumber(lr)}), e.g. --set train.optimizer.lr=${formatNumber(lr / 10)}`;
}
