import fixtures from '../fixtures/optimizer.json';
import { learningRate } from './schedule';
import type { OptimizerConfig } from './state';

describe('learningRate against torch.optim.lr_scheduler', () => {
  it.each(fixtures.schedules.map((s) => [`${s.schedule.type}, warm-up ${s.schedule.warmupSteps}`, s] as const))('%s', (_, ref) => {
    const optimizer = { type: 'sgd', lr: ref.lr, momentum: 0.9, weightDecay: 0, betas: [0.9, 0.999], epsilon: 1e-8 } as OptimizerConfig;
    ref.lrs.forEach((lr, step) => {
      expect(learningRate(optimizer, ref.schedule as Parameters<typeof learningRate>[1], step, ref.total)).toBeCloseTo(lr, 9);
    });
  });
});
