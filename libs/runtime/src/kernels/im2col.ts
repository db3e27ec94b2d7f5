/** Geometry of one 2-D convolution, in the terms of the forward pass. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Patch matrix for the filter gradient, laid out `[kh, kw, C, N, Ho, Wo]` so that
 * `dW[kh·kw·C, O] = cols[kh·kw·C, N·Ho·Wo] · dy[N·Ho·Wo, O]` is one plain matmul.
 *
 * `src` is the input transposed to channel-major `[C, N, H, W]`: every row of the patch
 * matrix is then a run of pixels of one input row, copied with `set` when the stride is 1.
 * Taps that fall in the padding are written as zeros (`dst` need not be initialised).
 */
export function im2colChannelMajor(src: Float32Array, dst: Float32Array, g: ConvGeometry): void {
  const { batch: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = g;
  const sh = g.strideHeight;
  const sw = g.strideWidth;
  let d = 0;
  for (let i = 0; i < g.filterHeight; i++) {
    const offY = i * g.dilationHeight - g.padTop;
    for (let j = 0; j < g.filterWidth; j++) {
      const offX = j * g.dilationWidth - g.padLeft;
      // Output columns whose input column ox*sw + offX lies inside [0, W).
      const ox0 = Math.min(Wo, Math.max(0, Math.ceil(-offX / sw)));
      const ox1 = Math.max(ox0, Math.min(Wo, Math.floor((W - 1 - offX) / sw) + 1));
      for (let plane = 0; plane < C * N; plane++) {
        const planeBase = plane * H * W;
        for (let oy = 0; oy < Ho; oy++, d += Wo) {
          const iy = oy * sh + offY;
          if (iy < 0 || iy >= H || ox1 === ox0) {
            dst.fill(0, d, d + Wo);
            continue;
          }
          const row = planeBase + iy * W + offX;
          if (ox0 > 0) dst.fill(0, d, d + ox0);
          if (sw === 1) {
            dst.set(src.subarray(row + ox0, row + ox1), d + ox0);
          } else {
            for (let ox = ox0; ox < ox1; ox++) dst[d + ox] = src[row + ox * sw];
          }
          if (ox1 < Wo) dst.fill(0, d + ox1, d + Wo);
        }
      }
    }
  }
}
