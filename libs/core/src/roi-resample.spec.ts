import { roiResampleLevel, roiResampleLevelGrad } from './roi-resample';
import type { RoiResampleLevel } from './kernel-names';

// A 1x2x3x2 map (pixel p holds [p, 10·p]) and two RoIs written to output rows 1 and 0, each
// one cell: the first reads row 0 (weight 0.5) and row 1 (0.25) at column 2 (weight 2); the
// second reads nothing (an empty cell is 0).
const map = Float32Array.from([0, 0, 1, 10, 2, 20, 3, 30, 4, 40, 5, 50]);
const shape = [1, 2, 3, 2];
const level: RoiResampleLevel = {
  rows: Int32Array.from([1, 0]),
  plan: {
    rois: 2,
    image: Int32Array.from([0, 0]),
    outHeight: 1,
    outWidth: 1,
    y: { start: Int32Array.from([0, 2, 2]), index: Int32Array.from([0, 1]), weight: Float64Array.from([0.5, 0.25]) },
    x: { start: Int32Array.from([0, 1, 1]), index: Int32Array.from([2]), weight: Float64Array.from([2]) },
  },
};

describe('RoI resampling in plain loops', () => {
  it('writes each RoI to its row: Σ y weight · x weight · pixel, zero for an empty cell', () => {
    const out = Float32Array.from([7, 7, 7, 7]);
    roiResampleLevel(map, shape, level, out);
    // pixel (0, 2) = 2, (1, 2) = 5: 1·2 + 0.5·5 = 4.5, and ten times that.
    expect(Array.from(out)).toEqual([0, 0, 4.5, 45]);
  });

  it('spreads the gradient back with the same weights, overwriting the map gradient', () => {
    const dmap = new Float32Array(12).fill(9);
    roiResampleLevelGrad(Float32Array.from([100, 100, 1, 2]), shape, level, dmap);
    expect(Array.from(dmap)).toEqual([0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0.5, 1]);
  });
});
