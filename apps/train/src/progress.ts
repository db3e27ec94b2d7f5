import { SingleBar } from 'cli-progress';

export interface StepReport {
  step: number;
  epoch: number;
  loss: number;
  losses: Record<string, number>;
  lr: number;
  imagesPerSecond: number;
  stepsPerSecond: number;
}

const SHORT: Record<string, string> = {
  loss_objectness: 'obj',
  loss_rpn_box_reg: 'rpn_box',
  loss_classifier: 'cls',
  loss_box_reg: 'box',
};

function formatLosses(losses: Record<string, number>): string {
  return Object.entries(losses)
    .map(([name, value]) => `${SHORT[name] ?? name} ${value.toFixed(3)}`)
    .join(' ');
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Training progress: a bar (step/total, epoch, losses, images/s, ETA) on a TTY, plain log
 * lines every `logEvery` steps otherwise (CI logs, files). Messages go above the bar.
 */
export class Progress {
  private bar: SingleBar | null = null;
  private readonly started = Date.now();
  private readonly startStep: number;

  constructor(
    private readonly total: number,
    startStep: number,
    private readonly logEvery: number,
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {
    this.startStep = startStep;
    if (this.tty) {
      this.bar = new SingleBar({
        stream: process.stderr,
        format: 'step {value}/{total} |{bar}| epoch {epoch} | loss {loss} ({parts}) | {ips} img/s | ETA {etaText}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
      });
      this.bar.start(total, startStep, { epoch: 0, loss: '-', parts: '', ips: '-', etaText: '?' });
    }
  }

  private eta(step: number): number {
    const done = step - this.startStep;
    const elapsed = (Date.now() - this.started) / 1000;
    return done > 0 ? ((this.total - step) * elapsed) / done : Infinity;
  }

  update(report: StepReport): void {
    const parts = formatLosses(report.losses);
    if (this.bar) {
      this.bar.update(report.step, {
        epoch: report.epoch,
        loss: report.loss.toFixed(3),
        parts,
        ips: report.imagesPerSecond.toFixed(2),
        etaText: formatDuration(this.eta(report.step)),
      });
    } else if (report.step % this.logEvery === 0 || report.step === this.total) {
      process.stderr.write(
        `step ${report.step}/${this.total} epoch ${report.epoch} loss ${report.loss.toFixed(4)} (${parts}) lr ${report.lr.toExponential(2)} ` +
          `${report.stepsPerSecond.toFixed(2)} steps/s ${report.imagesPerSecond.toFixed(2)} img/s ETA ${formatDuration(this.eta(report.step))}\n`,
      );
    }
  }

  /** A line above the bar (or a plain line). */
  log(message: string): void {
    if (this.bar) {
      process.stderr.write('\r\x1b[K' + message + '\n');
      this.bar.render();
    } else {
      process.stderr.write(message + '\n');
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
