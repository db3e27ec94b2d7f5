import { SingleBar } from 'cli-progress';

/**
 * Progress of a prediction run on stderr: a bar with images (or frames) per second, failures
 * and the ETA when stderr is a TTY, nothing otherwise (logs and pipes get only the messages).
 * Messages go above the bar. With videos the unit is 'frames' (an image counts as one).
 */
export class PredictProgress {
  private bar: SingleBar | null = null;
  private readonly started = performance.now();
  private done = 0;
  private failed = 0;

  constructor(
    private total: number,
    tty: boolean,
    private readonly write: (text: string) => void = (text) => process.stderr.write(text),
    unit: 'img' | 'frames' = 'img',
  ) {
    if (tty && total > 0) {
      this.bar = new SingleBar({
        stream: process.stderr,
        format: `predict {value}/{total} |{bar}| {ips} ${unit}/s | {failed} failed | ETA {eta_formatted}`,
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

  /** Corrects the total (a video's frame count was an estimate). */
  addToTotal(delta: number): void {
    if (delta === 0) return;
    this.total = Math.max(this.done, this.total + delta);
    this.bar?.setTotal(this.total);
  }

  tick(failed: boolean): void {
    this.done++;
    if (this.done > this.total) this.addToTotal(this.done - this.total);
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
