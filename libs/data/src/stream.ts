import { Observable } from 'rxjs';
import type { Dataset } from './dataset';
import { decodeOrReport } from './pipeline';
import { prefetching, type PrefetchSource } from './prefetch';
import { assertNumber, fail, isNonNegativeInteger, seededRandom } from '@lumen/core';
import { mixSeed, shuffleInPlace } from './random';
import type { DataConfig, DecodedExample } from './types';
import { assertStreamConfig } from './validate';

export interface TrainingStreamOptions {
  /** The run's seed: with `epoch` it fixes the order and every augmentation. */
  seed: number;
  epoch: number;
  /** Position in the epoch's order to start at (a run resumed mid-epoch); default 0. */
  start?: number;
  /**
   * Pull signal: each emission requests that many more examples (a number) or one (anything
   * else); nothing is emitted beyond what was requested. Without it the stream emits as
   * fast as examples are decoded, which bounds memory only for a synchronous consumer.
   */
  demand?: Observable<unknown>;
}

export interface EvalStreamOptions {
  demand?: Observable<unknown>;
}

/** A pull iterator over decoded examples, with what it holds. */
export type ExampleIterator = PrefetchSource<DecodedExample>;

/**
 * The epoch's order of dataset positions: a Fisher–Yates shuffle seeded by (seed, epoch)
 * when `shuffle`, else 0..size-1. A resumed run recomputes the same order.
 */
export function epochOrder(size: number, seed: number, epoch: number, shuffle = true): Int32Array {
  const order = Int32Array.from({ length: size }, (_, i) => i);
  if (shuffle) shuffleInPlace(order, seededRandom(mixSeed(seed, epoch, 0x6f72646572)));
  return order;
}

function checkDataset(fn: string, dataset: Dataset): void {
  if (dataset == null || typeof dataset.at !== 'function' || typeof dataset.size !== 'number') fail(fn, `'dataset' must be a Dataset from openDataset, but got ${typeof dataset}.`);
  if (dataset.size === 0) {
    const fatal = dataset.report().fatal;
    fail(fn, `the ${dataset.split} split (${dataset.name}) of ${dataset.dir} has no usable example${fatal != null ? `: ${fatal}` : ''}; see dataset.report().`);
  }
}

/**
 * Training examples of one epoch as a pull iterator: shuffled by (seed, epoch) when
 * `config.loader.shuffle`, decoded with at most `loader.concurrency` images at once and at
 * most `loader.prefetch` examples decoded or decoding ahead of the consumer, augmented as
 * `config.augment` says with a generator seeded by (seed, epoch, example index) — the same
 * whatever the concurrency. Undecodable images are skipped and reported to the dataset.
 */
export function trainingExamples(dataset: Dataset, config: DataConfig, options: Omit<TrainingStreamOptions, 'demand'>): ExampleIterator {
  const start = checkTraining('trainingExamples', dataset, config, options);
  return createTraining(dataset, config, options, start);
}

function checkTraining(fn: string, dataset: Dataset, config: DataConfig, options: Omit<TrainingStreamOptions, 'demand'>): number {
  checkDataset(fn, dataset);
  assertStreamConfig(fn, config);
  assertNumber(fn, 'options.seed', options?.seed, 'an integer', Number.isInteger);
  assertNumber(fn, 'options.epoch', options.epoch, 'a non-negative integer', isNonNegativeInteger);
  const start = options.start ?? 0;
  assertNumber(fn, 'options.start', start, `an integer in [0, ${dataset.size}]`, (v) => isNonNegativeInteger(v) && v <= dataset.size);
  return start;
}

function createTraining(dataset: Dataset, config: DataConfig, options: Omit<TrainingStreamOptions, 'demand'>, start: number): ExampleIterator {
  const order = epochOrder(dataset.size, options.seed, options.epoch, config.loader.shuffle).subarray(start);
  const { image, augment, loader } = config;
  return prefetching(
    order.length,
    (position) => {
      const index = order[position];
      const random = seededRandom(mixSeed(options.seed, options.epoch, index, 0x617567));
      return decodeOrReport(dataset.at(index), index, image, augment, random, dataset.collector);
    },
    loader,
  );
}

/** Evaluation examples as a pull iterator: dataset order, no augmentation, `config.image` resize. */
export function evalExamples(dataset: Dataset, config: DataConfig): ExampleIterator {
  checkDataset('evalExamples', dataset);
  assertStreamConfig('evalExamples', config);
  return createEval(dataset, config);
}

function createEval(dataset: Dataset, config: DataConfig): ExampleIterator {
  return prefetching(dataset.size, (index) => decodeOrReport(dataset.at(index), index, config.image, null, null, dataset.collector), config.loader);
}

/** An Observable over a pull source, emitting only what `demand` requested (all, without it). */
export function pullObservable<T>(create: () => PrefetchSource<T>, demand?: Observable<unknown>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const source = create();
    let requested = demand == null ? Infinity : 0;
    let running = false;
    const drain = async () => {
      if (running) return;
      running = true;
      try {
        while (requested > 0 && !subscriber.closed) {
          const result = await source.next();
          if (subscriber.closed) return;
          if (result.done) {
            subscriber.complete();
            return;
          }
          requested--;
          subscriber.next(result.value);
          if (source.exhausted() && !subscriber.closed) {
            subscriber.complete();
            return;
          }
        }
      } catch (error) {
        subscriber.error(error);
      } finally {
        running = false;
      }
    };
    const requests = demand?.subscribe({
      next: (n) => {
        requested += typeof n === 'number' && n > 0 ? n : 1;
        void drain();
      },
      error: (error: unknown) => subscriber.error(error),
    });
    void drain();
    return () => {
      requests?.unsubscribe();
      source.close();
    };
  });
}

/**
 * trainingExamples as an Observable: each subscription decodes the epoch afresh. With
 * `options.demand` the consumer pulls (see README); the decoded examples held by the
 * stream never exceed `config.loader.prefetch`.
 *
 * ```ts
 * const demand = new BehaviorSubject<number>(batchSize);
 * trainingStream(dataset, config, { seed, epoch, demand }).pipe(
 *   bufferCount(batchSize),
 *   concatMap(async (batch) => { await trainStep(batch); demand.next(batchSize); }),
 * );
 * ```
 */
export function trainingStream(dataset: Dataset, config: DataConfig, options: TrainingStreamOptions): Observable<DecodedExample> {
  // Arguments are checked now, not at subscription.
  const start = checkTraining('trainingStream', dataset, config, options);
  const { demand, ...rest } = options;
  return pullObservable(() => createTraining(dataset, config, rest, start), demand);
}

/** evalExamples as an Observable (dataset order, no augmentation), pulled through `demand` when given. */
export function evalStream(dataset: Dataset, config: DataConfig, options: EvalStreamOptions = {}): Observable<DecodedExample> {
  checkDataset('evalStream', dataset);
  assertStreamConfig('evalStream', config);
  return pullObservable(() => createEval(dataset, config), options.demand);
}
