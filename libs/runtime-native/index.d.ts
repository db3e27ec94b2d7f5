/** Conv geometry: [batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft]. */
export type ConvGeometryArray = readonly number[];

/** 0 linear, 1 relu, 2 relu6. */
export type NativeActivation = 0 | 1 | 2;

export interface NativeKernels {
  /** c[batch, M, N] = a · b per batch; dims [batch, M, N, K, transposeA, transposeB, aBatchStride, bBatchStride] (strides in floats, 0 broadcasts). */
  matMul(a: Float32Array, b: Float32Array, c: Float32Array, dims: readonly number[], bias: Float32Array | null, activation: NativeActivation): void;
  conv2d(x: Float32Array, filter: Float32Array, out: Float32Array, geometry: ConvGeometryArray, bias: Float32Array | null, activation: NativeActivation): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: ConvGeometryArray): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: ConvGeometryArray): void;
  /** Depthwise conv, channel multiplier 1 (geometry's inC == outC; filter [kH, kW, C, 1]), then bias and activation. */
  depthwiseConv2d(x: Float32Array, filter: Float32Array, out: Float32Array, geometry: ConvGeometryArray, bias: Float32Array | null, activation: NativeActivation): void;
  depthwiseConv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: ConvGeometryArray): void;
  /** Its filter gradient, summed in float64 across output rows. */
  depthwiseConv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: ConvGeometryArray): void;
  /** torch.optim.SGD's update of one variable into outW/outBuffer; hyper [lr, momentum, weightDecay, gradScale]. */
  sgdUpdate(w: Float32Array, g: Float32Array, momentumBuffer: Float32Array | null, outW: Float32Array, outBuffer: Float32Array | null, hyper: readonly number[]): void;
  /** torch.optim.Adam's update; hyper [stepSize, beta1, beta2, sqrt(1 - beta2^t), epsilon, weightDecay, gradScale]. */
  adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, outW: Float32Array, outM: Float32Array, outV: Float32Array, hyper: readonly number[]): void;
  /** Σ x² in double precision. */
  sumSquares(x: Float32Array): number;
  /** out[c] = Σ_r x[r·cols + c] (float64 accumulation). */
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** out = a op b over a broadcast, layout [rank ≤ 6, ...outShape, ...aStrides, ...bStrides] (strides in floats per output dim, 0 where an operand repeats); op 0 add, 1 sub, 2 mul, 3 div. */
  binary(op: 0 | 1 | 2 | 3, a: Float32Array, b: Float32Array, out: Float32Array, layout: readonly number[]): void;
  /** out[Σ i·outStrides] = Σ x[i] over x, layout [rank ≤ 6, ...xShape, ...outStrides] (0 on summed axes), float64 accumulation; out's length is the output size. */
  sumAxes(x: Float32Array, out: Float32Array, layout: readonly number[]): void;
  /** Over all of x: op 0 relu (x < 0 ? 0 : x), 1 step (x > 0 ? 1 : alpha), 2 hardswish (x·relu6(x + 3)/6), 3 hardsigmoid (relu6(x + 3)/6); NaN stays NaN. */
  unary(op: 0 | 1 | 2 | 3, x: Float32Array, out: Float32Array, alpha: number): void;
  /** dx = dy·f'(x) for unary's op 2 hardswish (0 below -3, x/3 + 1/2 up to 3, else 1) or 3 hardsigmoid (1/6 strictly inside ±3, else 0): torch's derivatives at the kinks. */
  unaryGrad(op: 2 | 3, dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** Max-pool dx (first maximum of each window gets dy); geometry [N, H, W, C, outH, outW, strideH, strideW, dilationH, dilationW, windowH, windowW (effective), padTop, padLeft]. */
  maxPoolGrad(x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array, geometry: readonly number[]): void;
  /** BatchNorm over all axes but the last (channels): y, x̂, mean, biased variance, invstd; with `relu`, y = max(y, 0) (NaN kept). */
  batchNormTraining(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, xhat: Float32Array, mean: Float32Array, variance: Float32Array, invstd: Float32Array, channels: number, epsilon: number, relu: boolean): void;
  /** Its gradient: dx, dγ = Σ dy·x̂, dβ = Σ dy; with a relu BatchNorm's output `y`, dy counts only where y > 0. */
  batchNormGrad(dy: Float32Array, xhat: Float32Array, gamma: Float32Array, invstd: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, channels: number, y: Float32Array | null): void;
  /**
   * RoI resampling, NHWC: out[rows[r], i, j, :] = Σ yWeight[a]·xWeight[b]·map[image[r], yIndex[a], xIndex[b], :] over entries
   * r·outH + i of the y plan and r·outW + j of the x plan (compressed rows: start, index, weight); dims [N, H, W, C, rois, outH, outW].
   * Each term a float32 product (weights multiplied in float64, rounded) added in plan order; every index is checked.
   */
  roiResample(map: Float32Array, out: Float32Array, dims: readonly number[], image: Int32Array, rows: Int32Array,
    yStart: Int32Array, yIndex: Int32Array, yWeight: Float64Array, xStart: Int32Array, xIndex: Int32Array, xWeight: Float64Array): void;
  /** Its transpose into dmap (overwritten): RoI by RoI in plan order, threads over channels. */
  roiResampleGrad(dy: Float32Array, dmap: Float32Array, dims: readonly number[], image: Int32Array, rows: Int32Array,
    yStart: Int32Array, yIndex: Int32Array, yWeight: Float64Array, xStart: Int32Array, xIndex: Int32Array, xWeight: Float64Array): void;
  /** The GEMM micro-kernel in use: "avx512", "avx2-fma" or "generic". */
  isa(): string;
  /** Single-precision GFLOP/s of `iterations` rounds of 12 independent 8-wide FMAs on every pool thread at once (an FMA = 2 flops): the peak the GEMM is judged against. */
  fmaPeak(iterations: number): number;
  threads(): number;
  setThreads(threads: number): void;
}

export declare const native: NativeKernels | null;
/** Why `native` is null. */
export declare const reason: string | null;
