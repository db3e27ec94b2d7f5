import type { TrainConfig } from '@lumen/config';
import type { OptimizerConfig } from './state';

export type ScheduleConfig = TrainConfig['schedule'];

/**
 * Learning rate at `step` (0-based): linear warm-up from lr·warmupFactor to lr over
 * warmupSteps (torchvision's references), times the step or cosine decay.
 */
export function learningRate(optimizer: OptimizerConfig, schedule: ScheduleConfig, step: number, totalSteps: number): number {
  let factor = 1;
  if (schedule.type === 'step') {
    for (const milestone of schedule.milestones) if (step >= milestone) factor *= schedule.gamma;
  } else if (schedule.type === 'cosine') {
    const progress = Math.min(1, step / Math.max(1, totalSteps));
    factor = 0.5 * (1 + Math.cos(Math.PI * progress));
  }
  if (step < schedule.warmupSteps) {
    const alpha = step / schedule.warmupSteps;
    factor *= schedule.warmupFactor * (1 - alpha) + alpha;
  }
  return optimizer.lr * factor;
}
