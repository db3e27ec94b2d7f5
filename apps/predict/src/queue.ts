/** A place in the model queue: run one job on the model (after the ones before it), then leave. */
export interface QueueTicket {
  /** Runs `job` once the model is free; jobs run one at a time, in the order they were queued. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Gives the place back (always call it, in a finally). */
  leave(): void;
}

export interface QueueStats {
  /** Requests holding a place: preparing their input, waiting for the model or on it. */
  admitted: number;
  /** Jobs on the model right now (0 or 1). */
  running: number;
  /** The most requests that may wait besides the one on the model. */
  size: number;
}

/**
 * The bounded queue in front of the single model. A request takes a place with `enter()`
 * before it decodes its image; at most `size + 1` places exist (one on the model, `size`
 * waiting), and `enter()` returns null when they are all taken — the server answers 503
 * at once instead of letting requests and their images pile up. Jobs run strictly one at a
 * time, first come first served.
 */
export class ModelQueue {
  private admitted = 0;
  private running = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 0) throw new Error(`Error in ModelQueue: 'size' must be a non-negative integer, but got ${size}.`);
  }

  stats(): QueueStats {
    return { admitted: this.admitted, running: this.running, size: this.size };
  }

  enter(): QueueTicket | null {
    if (this.admitted >= this.size + 1) return null;
    this.admitted++;
    let left = false;
    return {
      run: <T>(job: () => Promise<T>): Promise<T> => {
        const result = this.tail.then(async () => {
          this.running++;
          try {
            return await job();
          } finally {
            this.running--;
          }
        });
        this.tail = result.catch(() => undefined);
        return result;
      },
      leave: () => {
        if (left) return;
        left = true;
        this.admitted--;
      },
    };
  }
}
