/**
 * Direct float64 definitions of 2-D convolution and its gradients, NHWC / HWIO, for specs:
 * an independent reference for both the wasm kernels and tfjs's cpu backend.
 */
export interface RefConv {
  x: Float64Array | Float32Array;
  xShape: [number, number, number, number];
  w: Float64Array | Float32Array;
  /** [kh, kw, C, O] for a conv; [kh, kw, C, M] for a depthwise conv (output channel c·M + m). */
  wShape: [number, number, number, number];
  stride: [number, number];
  dilation: [number, number];
  /** top, bottom, left, right */
  pad: [number, number, number, number];
  depthwise?: boolean;
}

export function refOutShape(c: RefConv): [number, number, number, number] {
  const [n, h, w] = c.xShape;
  const [kh, kw, ci, co] = c.wShape;
  const eh = (kh - 1) * c.dilation[0] + 1;
  const ew = (kw - 1) * c.dilation[1] + 1;
  const oh = Math.floor((h + c.pad[0] + c.pad[1] - eh) / c.stride[0]) + 1;
  const ow = Math.floor((w + c.pad[2] + c.pad[3] - ew) / c.stride[1]) + 1;
  return [n, oh, ow, c.depthwise ? ci * co : co];
}

/** Calls visit(xIndex, wIndex, yIndex) for every multiply of the convolution. */
function forEachTap(c: RefConv, visit: (xi: number, wi: number, yi: number) => void): void {
  const [n, h, w, ci] = c.xShape;
  const [kh, kw, , co] = c.wShape;
  const [, oh, ow, oc] = refOutShape(c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++)
        for (let i = 0; i < kh; i++) {
          const iy = y * c.stride[0] + i * c.dilation[0] - c.pad[0];
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const ix = x * c.stride[1] + j * c.dilation[1] - c.pad[2];
            if (ix < 0 || ix >= w) continue;
            const xBase = ((b * h + iy) * w + ix) * ci;
            const yBase = ((b * oh + y) * ow + x) * oc;
            const wBase = (i * kw + j) * ci * co;
            for (let cin = 0; cin < ci; cin++) {
              for (let o = 0; o < co; o++) {
                if (c.depthwise) visit(xBase + cin, wBase + cin * co + o, yBase + cin * co + o);
                else visit(xBase + cin, wBase + cin * co + o, yBase + o);
              }
            }
          }
        }
}

export function refConv(c: RefConv): Float64Array {
  const y = new Float64Array(refOutShape(c).reduce((a, b) => a * b, 1));
  forEachTap(c, (xi, wi, yi) => (y[yi] += c.x[xi] * c.w[wi]));
  return y;
}

export function refConvGrads(c: RefConv, dy: ArrayLike<number>): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(c.x.length);
  const dw = new Float64Array(c.w.length);
  forEachTap(c, (xi, wi, yi) => {
    dx[xi] += dy[yi] * c.w[wi];
    dw[wi] += dy[yi] * c.x[xi];
  });
  return { dx, dw };
}
