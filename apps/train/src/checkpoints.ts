import { basename } from 'node:path';
import { pruneCheckpoints, setAsideCheckpoint } from './job';

/** A checkpoint folder and the step it holds. */
export interface SavedCheckpoint {
  dir: string;
  step: number;
}

/**
 * The checkpoints a run has written, and which of them is known good: the one it resumed
 * from, or one whose weights then gave a healthy loss at the next step. Pruning never
 * deletes that one, nor the best by mAP.
 */
export class CheckpointLedger {
  private best: { dir: string; map: number } | null = null;
  private unconfirmed: SavedCheckpoint | null = null;

  constructor(
    private readonly jobDir: string,
    private readonly keep: number,
    /** The last checkpoint known good. */
    public good: SavedCheckpoint | null,
  ) {}

  /** The last checkpoint written (or resumed from). */
  latest(): SavedCheckpoint | null {
    return this.unconfirmed ?? this.good;
  }

  /** Records a checkpoint just written (with its val mAP, if evaluated) and prunes older ones. */
  written(saved: SavedCheckpoint, map: number | null): void {
    if (map != null && (!this.best || map > this.best.map)) this.best = { dir: saved.dir, map };
    pruneCheckpoints(this.jobDir, this.keep, [this.best?.dir ?? null, this.good?.dir ?? null]);
    this.unconfirmed = saved;
  }

  /** A healthy step was computed from the last checkpoint's weights (or later ones). */
  confirm(): void {
    if (this.unconfirmed) [this.good, this.unconfirmed] = [this.unconfirmed, null];
  }

  /**
   * Moves an unconfirmed checkpoint out of --resume's way (its weights gave the first bad loss
   * of a diverged run); returns what was done, for the message, or '' when nothing was.
   */
  setAsideUnconfirmed(): string {
    if (!this.unconfirmed) return '';
    const { dir } = this.unconfirmed;
    this.unconfirmed = null;
    if (this.best?.dir === dir) this.best = null;
    return `moved ${basename(dir)} (its weights gave the first bad loss) to ${basename(setAsideCheckpoint(dir))}`;
  }
}
