/**
 * The input gradient of a strided convolution, split by output phase.
 *
 * Forward (one spatial dim): y[o] = Σ_i x[o·s + i − p] · w[i]. Its input gradient is
 * dx[h] = Σ dy[o] · w[i] over o·s + i = h + p. Writing u = h + p = m·s + ρ, only the taps
 * i ≡ ρ (mod s) contribute, and for each phase ρ the sum is a plain stride-1 correlation
 * of dy with the reversed sub-kernel w[ρ], w[ρ+s], …  — so dx is s² small stride-1
 * convolutions interleaved, with exactly the forward pass's FLOPs (no zero insertion).
 */
export interface PhaseAxis {
  /** Forward kernel indices, in the order the phase's stride-1 correlation uses them. */
  taps: number[];
  /** dy rows [cropStart, cropEnd) feed this phase; padBefore/After zeros go around them. */
  cropStart: number;
  cropEnd: number;
  padBefore: number;
  padAfter: number;
}

export interface PhaseLayout {
  /** The phase outputs cover m in [mMin, mMin + count). */
  mMin: number;
  count: number;
  /** One entry per residue ρ in [0, stride); `taps` is empty when no tap has that phase. */
  phases: PhaseAxis[];
}

export function phaseLayout(inSize: number, outSize: number, kernel: number, stride: number, padBefore: number): PhaseLayout {
  const mMin = Math.floor(padBefore / stride);
  const mMax = Math.floor((inSize - 1 + padBefore) / stride);
  const phases: PhaseAxis[] = [];
  for (let rho = 0; rho < stride; rho++) {
    const count = rho < kernel ? Math.ceil((kernel - rho) / stride) : 0;
    // Correlation index t pairs dy[m − count + 1 + t] with w[rho + (count − 1 − t)·stride].
    const taps = Array.from({ length: count }, (_, t) => rho + (count - 1 - t) * stride);
    const first = mMin - count + 1;
    const last = mMax; // inclusive dy row needed
    const cropStart = Math.max(0, first);
    const cropEnd = Math.min(outSize, last + 1);
    if (count === 0 || cropEnd <= cropStart) {
      phases.push({ taps: [], cropStart: 0, cropEnd: 0, padBefore: 0, padAfter: 0 });
      continue;
    }
    phases.push({
      taps,
      cropStart,
      cropEnd,
      padBefore: cropStart - first,
      padAfter: last + 1 - cropEnd,
    });
  }
  return { mMin, count: mMax - mMin + 1, phases };
}

/**
 * Sub-kernel of one phase, `[Ty, Tx, O, C]` for a conv filter `[kh, kw, C, O]` (rotated
 * and with in/out channels swapped), or `[Ty, Tx, C·M, 1]` for a depthwise filter
 * `[kh, kw, C, M]` (rotated only).
 */
export function phaseFilter(
  w: Float32Array,
  filterShape: readonly number[],
  tapsY: number[],
  tapsX: number[],
  depthwise: boolean,
  out: Float32Array,
): void {
  const [, kw, c, o] = filterShape;
  const tapSize = c * o;
  let d = 0;
  for (const iy of tapsY) {
    for (const ix of tapsX) {
      const base = (iy * kw + ix) * tapSize;
      if (depthwise) {
        out.set(w.subarray(base, base + tapSize), d);
        d += tapSize;
      } else {
        for (let oc = 0; oc < o; oc++) {
          for (let ic = 0; ic < c; ic++) out[d++] = w[base + ic * o + oc];
        }
      }
    }
  }
}

/**
 * Writes phase outputs `z[ρy·sx + ρx]` (each `[N, My, Mx, C]`, or null for an all-zero
 * phase) into dx `[N, H, W, C]`.
 */
export function interleavePhases(
  z: (Float32Array | null)[],
  ly: PhaseLayout,
  lx: PhaseLayout,
  strideY: number,
  strideX: number,
  padTop: number,
  padLeft: number,
  dxShape: readonly number[],
  dx: Float32Array,
): void {
  const [n, h, wid, c] = dxShape;
  const my = ly.count;
  const mx = lx.count;
  let d = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const uy = y + padTop;
      const ry = uy % strideY;
      const rowIn = b * my + (Math.floor(uy / strideY) - ly.mMin);
      for (let x = 0; x < wid; x++, d += c) {
        const ux = x + padLeft;
        const src = z[ry * strideX + (ux % strideX)];
        if (src == null) {
          dx.fill(0, d, d + c);
          continue;
        }
        const s = (rowIn * mx + (Math.floor(ux / strideX) - lx.mMin)) * c;
        if (c === 1) dx[d] = src[s];
        else dx.set(src.subarray(s, s + c), d);
      }
    }
  }
}
