import { SingleBar } from 'cli-progress';

/**
 * Progress of a prediction run on stderr: a bar with images/s and failures when stderr is a
 * TTY, nothing otherwise (logs and pipes get only the messages). Messages go above the bar.
 */
export class PredictProgress {
  private bar: SingleBar | null = null;
  private readonly started = performance.now();
  private done = 0;
  private failed = 0;

  constructor(
    total: number,
    tty: boolean,
    private readonly write: (text: string) => void = (text) => process.stderr.write(text),
  ) {
    if (tty && total > 0) {
      this.bar = new SingleBar({
        stream: process.stderr,
        format: 'predict {value}/{total} |{bar}| {ips} img/s | {failed} failed | ETA {eta_formatted}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 20,
      });
      this.bar.start(total, 0, { ips: '-', failed: 0 });
    }
  }

  /** Images per second since the start. */
  imagesPerSecond(): number {
    const seconds = (performance.now() - this.started) / 1000;
    return seconds > 0 ? this.done / seconds : 0;
  }

  tick(failed: boolean): void {
    this.done++;
    if (failed) this.failed++;
    this.bar?.update(this.done, { ips: this.imagesPerSecond().toFixed(2), failed: this.failed });
  }

  log(message: string): void {
    if (this.bar) {
      this.write('\r\x1b[K' + message + '\n');
      this.bar.render();
    } else {
      this.write(message + '\n');
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
