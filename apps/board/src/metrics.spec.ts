import { parseMetrics } from './metrics';

const line = (record: Record<string, unknown>) => JSON.stringify({ time: '2026-01-01T00:00:00.000Z', ...record }) + '\n';
const train = (step: number, loss: number, extra: Record<string, unknown> = {}) =>
  line({ type: 'train', step, epoch: 0, loss_objectness: loss / 4, loss_classifier: loss / 2, loss, lr: 0.01 * step, gradNorm: 1, stepsPerSecond: 2, imagesPerSecond: 4, minutes: step / 60, ...extra });

describe('parseMetrics', () => {
  it('columns of the train records by step, the periodic evaluations, the final ones and the counts', () => {
    const text =
      train(1, 4) +
      train(2, 3) +
      line({ type: 'eval', step: 2, split: 'val', metric: 'voc', mAP: 0.25, images: 2, minutes: 0.1 }) +
      line({ type: 'checkpoint', step: 2, dir: '/jobs/a/checkpoint-0000002' }) +
      line({ type: 'warning', step: 3, kind: 'non-finite-loss', message: 'step 3: …' }) +
      line({ type: 'skipped', step: 3, ids: ['x'], error: 'bad' }) +
      train(3, 2) +
      line({ type: 'eval', step: 3, split: 'val', metric: 'voc', mAP: null, images: 0, minutes: 0.2 }) +
      line({ type: 'eval', final: true, step: 3, split: 'test', metric: 'voc', mAP: 0.5, images: 2 }) +
      line({ type: 'eval', final: true, step: 3, split: 'shift', metric: 'voc', mAP: 0.125, images: 2 });
    const series = parseMetrics(text);
    expect(series.train.step).toEqual([1, 2, 3]);
    expect(series.train.loss).toEqual([4, 3, 2]);
    expect(series.train.loss_classifier).toEqual([2, 1.5, 1]);
    expect(series.train.lr).toEqual([0.01, 0.02, 0.03]);
    expect(Object.keys(series.train).sort()).toEqual(['epoch', 'gradNorm', 'imagesPerSecond', 'loss', 'loss_classifier', 'loss_objectness', 'lr', 'minutes', 'step', 'stepsPerSecond']);
    expect(series.evals).toEqual({ step: [2, 3], mAP: [0.25, null], split: 'val', metric: 'voc' });
    expect(series.finals).toEqual([
      { step: 3, split: 'test', metric: 'voc', mAP: 0.5 },
      { step: 3, split: 'shift', metric: 'voc', mAP: 0.125 },
    ]);
    expect([series.warnings, series.skipped, series.damaged, series.partial]).toEqual([1, 1, 0, false]);
  });

  it('a last line still being written is left for the next read; a damaged line is counted and skipped', () => {
    const whole = train(1, 4) + '{"type":"train","step":oops}\n' + '[1,2]\n' + '\n' + train(2, 3);
    const halfWritten = train(3, 2).slice(0, 40);
    const series = parseMetrics(whole + halfWritten);
    expect(series.train.step).toEqual([1, 2]);
    expect([series.damaged, series.partial]).toEqual([2, true]);
    // Once its newline is written, the record counts.
    expect(parseMetrics(whole + train(3, 2)).train.step).toEqual([1, 2, 3]);
    expect(parseMetrics(whole + train(3, 2)).partial).toBe(false);
  });

  it('steps in order, a step logged again (a resumed run) keeps its last record, missing fields are null', () => {
    const text = train(2, 3) + train(1, 4, { loss_extra: 7 }) + train(2, 2.5) + train(3, Number.NaN);
    const series = parseMetrics(text);
    expect(series.train.step).toEqual([1, 2, 3]);
    // NaN is written as null by JSON.stringify: a gap.
    expect(series.train.loss).toEqual([4, 2.5, null]);
    expect(series.train.loss_extra).toEqual([7, null, null]);
  });

  it('an empty file, and records without a step, give empty series', () => {
    for (const text of ['', line({ type: 'train', loss: 1 }), line({ type: 'eval', mAP: 1 })]) {
      const series = parseMetrics(text);
      expect(series.train).toEqual({ step: [] });
      expect(series.evals.step).toEqual([]);
      expect(series.partial).toBe(false);
    }
  });
});
