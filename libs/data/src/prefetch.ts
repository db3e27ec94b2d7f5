/** What a prefetching source holds right now. */
export interface PrefetchStats {
  /** Loads running. */
  inFlight: number;
  /** Loaded items waiting for the consumer (skipped ones hold nothing and are not counted). */
  ready: number;
  /** Items handed to the consumer. */
  delivered: number;
  /** Positions whose load has started. */
  started: number;
}

/** A pull source: items in position order, loaded ahead within the bounds. */
export interface PrefetchSource<T> extends AsyncIterableIterator<T> {
  stats(): PrefetchStats;
  /** True once every position has been handed out or skipped (as far as loads have finished). */
  exhausted(): boolean;
  /** Stops loading ahead; next() then reports done. Loads already running finish and are dropped. */
  close(): void;
}

export interface PrefetchBounds {
  /** Loads running at once. */
  concurrency: number;
  /** Items loaded or loading ahead of the consumer: `inFlight + ready <= prefetch` always. */
  prefetch: number;
}

type Slot<T> = { value: T | null } | { error: unknown };

/**
 * Loads positions 0..count-1 with `load` ahead of the consumer and hands them out in
 * position order (a slow load holds back later ones, which count against `prefetch`).
 * A load resolving to null is a skipped item. Loading starts at creation; a load is
 * started only while `inFlight < concurrency` and `inFlight + ready < prefetch`, so a slow
 * consumer makes the source hold at most `prefetch` items.
 */
export function prefetching<T>(count: number, load: (position: number) => Promise<T | null>, bounds: PrefetchBounds): PrefetchSource<T> {
  const slots = new Map<number, Slot<T>>();
  let started = 0;
  let delivered = 0;
  let position = 0; // next position to hand out (skipped ones included)
  let inFlight = 0;
  let ready = 0;
  let closed = false;
  let wake: (() => void) | null = null;
  let chain: Promise<unknown> = Promise.resolve();

  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const pump = () => {
    while (!closed && started < count && inFlight < bounds.concurrency && inFlight + ready < bounds.prefetch) {
      const at = started++;
      inFlight++;
      load(at).then(
        (value) => {
          inFlight--;
          if (closed) return;
          slots.set(at, { value });
          if (value != null) ready++;
          pump();
          notify();
        },
        (error: unknown) => {
          inFlight--;
          if (closed) return;
          slots.set(at, { error });
          notify();
        },
      );
    }
  };

  const take = async (): Promise<IteratorResult<T>> => {
    for (;;) {
      if (closed || position >= count) return { done: true, value: undefined };
      const slot = slots.get(position);
      if (slot == null) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      slots.delete(position);
      position++;
      if ('error' in slot) {
        closed = true;
        throw slot.error;
      }
      if (slot.value == null) {
        pump();
        continue;
      }
      ready--;
      delivered++;
      // Step over positions already known to be skipped, so exhausted() sees the end early.
      for (let next = slots.get(position); next != null && 'value' in next && next.value == null; next = slots.get(position)) {
        slots.delete(position);
        position++;
      }
      pump();
      return { done: false, value: slot.value };
    }
  };

  const source: PrefetchSource<T> = {
    next() {
      // One consumer at a time: calls are served in order.
      const result = chain.then(take);
      chain = result.catch(() => undefined);
      return result;
    },
    async return() {
      source.close();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return source;
    },
    stats: () => ({ inFlight, ready, delivered, started }),
    exhausted: () => closed || position >= count,
    close() {
      closed = true;
      slots.clear();
      ready = 0;
      notify();
    },
  };
  pump();
  return source;
}
