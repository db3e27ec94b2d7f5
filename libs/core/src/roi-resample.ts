import type { RoiResampleLevel } from './kernel-names';

const f = Math.fround;

/** Calls `term` for every term of every RoI cell, in plan order: the map pixel's offset, the cell's offset in the pooled rows, the float32 weight. */
function eachTerm(shape: readonly number[], { plan, rows }: RoiResampleLevel, term: (mapAt: number, pooledAt: number, w: number) => void): void {
  const [, height, width, channels] = shape;
  const { y, x, outHeight, outWidth } = plan;
  for (let r = 0; r < plan.rois; r++) {
    const base = plan.image[r] * height * width * channels;
    for (let i = 0; i < outHeight; i++) {
      const ey = r * outHeight + i;
      for (let j = 0; j < outWidth; j++) {
        const ex = r * outWidth + j;
        const pooledAt = ((rows[r] * outHeight + i) * outWidth + j) * channels;
        for (let a = y.start[ey]; a < y.start[ey + 1]; a++) {
          for (let b = x.start[ex]; b < x.start[ex + 1]; b++) term(base + (y.index[a] * width + x.index[b]) * channels, pooledAt, f(y.weight[a] * x.weight[b]));
        }
      }
    }
  }
}

/**
 * LumenRoiResample's arithmetic for one map in plain loops (the kernels' fallback, and the
 * reference they are checked against): writes the level's rows of `out` from `map` [N, H, W, C].
 */
export function roiResampleLevel(map: Float32Array, shape: readonly number[], level: RoiResampleLevel, out: Float32Array): void {
  const channels = shape[3];
  const rowFloats = level.plan.outHeight * level.plan.outWidth * channels;
  for (const row of level.rows) out.fill(0, row * rowFloats, (row + 1) * rowFloats);
  eachTerm(shape, level, (mapAt, pooledAt, w) => {
    for (let c = 0; c < channels; c++) out[pooledAt + c] += f(w * map[mapAt + c]);
  });
}

/** LumenRoiResampleGrad's for one map: overwrites `dmap` (shape `shape`) with the gradient of the level's rows of `dy`. */
export function roiResampleLevelGrad(dy: Float32Array, shape: readonly number[], level: RoiResampleLevel, dmap: Float32Array): void {
  const channels = shape[3];
  dmap.fill(0);
  eachTerm(shape, level, (mapAt, pooledAt, w) => {
    for (let c = 0; c < channels; c++) dmap[mapAt + c] += f(w * dy[pooledAt + c]);
  });
}
