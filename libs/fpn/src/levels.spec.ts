import { fpnLevelNames, fpnLevelStrides } from './levels';
import type { FpnOptions } from './options';
import { findCase, loadFixture } from './testing/fixtures';

const options: FpnOptions = { inChannels: [256, 512, 1024, 2048], outChannels: 256, norm: 'none', extra: 'maxpool' };

describe('fpnLevelNames', () => {
  it("is torchvision's output names: the return layers '0'…'3', then 'pool'", () => {
    expect(fpnLevelNames(options)).toEqual(findCase('v1').eval.names);
    expect(fpnLevelNames({ ...options, extra: 'none' })).toEqual(['0', '1', '2', '3']);
  });
});

describe('fpnLevelStrides', () => {
  it("appends twice the last stride for 'pool'", () => {
    expect(fpnLevelStrides(loadFixture().strides, options)).toEqual([4, 8, 16, 32, 64]);
    expect(fpnLevelStrides([8, 16], { ...options, inChannels: [4, 4], extra: 'none' })).toEqual([8, 16]);
  });

  it('names bad strides', () => {
    expect(() => fpnLevelStrides([4, 8, 16], options)).toThrow(
      "Error in fpnLevelStrides: 'inputStrides' must hold 4 strides (one per input map), but got an array of length 3.",
    );
    expect(() => fpnLevelStrides([4, 8, 0, 32], options)).toThrow("Error in fpnLevelStrides: 'inputStrides[2]' must be a positive integer, but got 0.");
  });
});
