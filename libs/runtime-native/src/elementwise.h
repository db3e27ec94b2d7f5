// Element-wise arithmetic and sums for the native backend, whose tensors live outside the
// wasm heap and would otherwise run tfjs-cpu's per-element JS closures.
#pragma once

namespace lumen {

enum class BinaryOp { add = 0, sub = 1, mul = 2, div = 3 };
enum class UnaryOp { relu = 0, step = 1, hardswish = 2, hardsigmoid = 3 };

constexpr int kMaxRank = 6;

// A broadcast over an output of `rank` dims: each operand's stride (in floats) along each
// output dim, 0 where the operand repeats.
struct Broadcast {
  int rank;
  long dims[kMaxRank];
  long a_strides[kMaxRank];
  long b_strides[kMaxRank];
};

// out (row-major over dims) = a op b, operands read through their strides; on the pool.
void binary(BinaryOp op, const Broadcast& layout, const float* a, const float* b, float* out);
// relu: x < 0 ? 0 : x; step: x > 0 ? 1 : alpha; hardswish: x·relu6(x + 3)/6; hardsigmoid:
// relu6(x + 3)/6 (torch's, rounded as @lumen/backbone's composition of tensor ops, the fallback
// elsewhere: x·(relu6(x + 3)·float(1/6))). NaN stays NaN, as in tfjs and torch.
void unary(UnaryOp op, long n, const float* x, float alpha, float* out);
// dx = dy·f'(x) for f hardswish or hardsigmoid (other ops: std::invalid_argument), with torch's
// derivatives at the kinks: hardswish' 0 below -3, x/3 + 1/2 up to 3 inclusive, else 1 (NaN
// too); hardsigmoid' 1/6 strictly between -3 and 3, else 0. Fused so that a backward pass
// reads dy and x once instead of running 6-9 element-wise ops.
void unary_grad(UnaryOp op, long n, const float* dy, const float* x, float* dx);
// out[Σ idx·out_strides] += x[idx] over x (row-major over dims; out_strides 0 on the summed
// axes), accumulated in float64; out is overwritten. Single pass, one thread.
void sum_axes(int rank, const long* dims, const long* out_strides, const float* x, float* out, long out_size);

}  // namespace lumen
