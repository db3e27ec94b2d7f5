// RxJS pieces of the prediction pipeline: concurrent work whose results come out in input
// order, and a FIFO semaphore that bounds how far decoding runs ahead of the consumer.
import { from, map, mergeMap, Observable, type ObservableInput, type OperatorFunction } from 'rxjs';

/**
 * A counting semaphore with FIFO hand-over: `acquire` resolves in call order once a slot
 * is free. Used to hold an image's slot from the start of its decoding until its line is
 * written, so at most `size` images are in memory however slow the model is.
 */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`Error in Slots: 'size' must be a positive integer, but got ${size}.`);
    this.free = size;
  }

  acquire(): Promise<void> {
    if (this.free > 0 && this.waiting.length === 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next != null) next();
    else this.free = Math.min(this.size, this.free + 1);
  }

  /** Slots taken right now. */
  get taken(): number {
    return this.size - this.free;
  }
}

/** Re-emits `{ index, value }` items in index order 0, 1, 2… (every index must arrive once). */
export function inIndexOrder<R>(): OperatorFunction<{ index: number; value: R }, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const pending = new Map<number, R>();
      let next = 0;
      return source.subscribe({
        next: ({ index, value }) => {
          pending.set(index, value);
          while (pending.has(next)) {
            const ready = pending.get(next) as R;
            pending.delete(next);
            next++;
            subscriber.next(ready);
          }
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          if (pending.size > 0) subscriber.error(new Error(`inIndexOrder: ${pending.size} item(s) left waiting for index ${next}`));
          else subscriber.complete();
        },
      });
    });
}

/**
 * `mergeMap` with at most `concurrency` projects running, whose results are emitted in
 * source order (a slow item holds back the ones after it). Each project must produce
 * exactly one value (a Promise, typically).
 */
export function mergeMapInOrder<T, R>(project: (value: T, index: number) => ObservableInput<R>, concurrency: number): OperatorFunction<T, R> {
  return (source) =>
    source.pipe(
      mergeMap((value, index) => from(project(value, index)).pipe(map((result) => ({ index, value: result }))), concurrency),
      inIndexOrder<R>(),
    );
}
