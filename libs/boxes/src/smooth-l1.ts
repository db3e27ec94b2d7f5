import {
  abs,
  clipByValue,
  customGrad,
  div,
  less,
  mean,
  mul,
  neg,
  sign,
  square,
  sub,
  sum,
  where,
  type GradSaveFunc,
  type Tensor,
} from '@tensorflow/tfjs-core';
import { assertDtype, assertNumber, fail } from '@lumen/core';

export type Reduction = 'none' | 'sum' | 'mean';

export interface SmoothL1Options {
  /** Where the loss turns from quadratic to linear (torch default 1; Faster R-CNN 1/9). */
  beta?: number;
  /** 'mean' (torch's default), 'sum' (what torchvision's detection losses use), 'none'. */
  reduction?: Reduction;
}

const REDUCTIONS: readonly Reduction[] = ['none', 'sum', 'mean'];

/**
 * Smooth-L1 (Huber) loss of `input` against `target`, torch `F.smooth_l1_loss`:
 * `0.5·d²/beta` where |d| < beta, else `|d| - 0.5·beta`; beta 0 is plain L1.
 *
 * The gradient is written out — `clip(d/beta, -1, 1)` (`sign(d)` for beta 0) for the
 * input, its negation for the target — so it is torch's exactly (including 0 at d = 0
 * for L1) and needs no registered gradients for `where`, `abs` or `less`.
 */
export function smoothL1(input: Tensor, target: Tensor, options: SmoothL1Options = {}): Tensor {
  const fn = 'smoothL1';
  assertDtype(fn, 'input', input);
  assertDtype(fn, 'target', target);
  if (input.shape.join(',') !== target.shape.join(',')) {
    fail(fn, `'input' and 'target' must have the same shape, but got [${input.shape.join(',')}] and [${target.shape.join(',')}].`);
  }
  const { beta = 1, reduction = 'mean' } = options;
  assertNumber(fn, 'beta', beta, 'a finite number >= 0', (v) => Number.isFinite(v) && v >= 0);
  if (!REDUCTIONS.includes(reduction)) fail(fn, `'reduction' must be one of ${REDUCTIONS.join(', ')}, but got ${String(reduction)}.`);

  // customGrad passes (input, target, save) as one variadic list.
  const loss = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const [x, y, save] = args as [Tensor, Tensor, GradSaveFunc];
    const diff = sub(x, y);
    save([diff]);
    const absDiff = abs(diff);
    const elementwise = beta === 0 ? absDiff : where(less(absDiff, beta), div(mul(0.5, square(diff)), beta), sub(absDiff, 0.5 * beta));
    const value = reduction === 'sum' ? sum(elementwise) : reduction === 'mean' ? mean(elementwise) : elementwise;
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const d = saved[0];
        const slope = beta === 0 ? sign(d) : clipByValue(div(d, beta), -1, 1);
        const scaled = reduction === 'mean' ? div(mul(dy, slope), d.size) : mul(dy, slope);
        return [scaled, neg(scaled)];
      },
    };
  });
  return loss(input, target);
}
