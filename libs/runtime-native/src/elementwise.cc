#include "elementwise.h"

#include <cmath>
#include <vector>

#include "pool.h"

namespace lumen {
namespace {

constexpr long kGrain = 1 << 15;

template <typename Op>
void run_binary(const Broadcast& l, const float* a, const float* b, float* out, Op op) {
  const int last = l.rank - 1;
  const long inner = l.dims[last];
  long rows = 1;
  for (int d = 0; d < last; d++) rows *= l.dims[d];
  const long sa = l.a_strides[last], sb = l.b_strides[last];
  parallel_for(rows, inner >= kGrain ? 1 : kGrain / inner + 1, [&](long r0, long r1) {
    // The row's index in the outer dims, stepped like an odometer.
    long index[kMaxRank] = {0};
    long rest = r0;
    for (int d = last - 1; d >= 0; d--) {
      index[d] = rest % l.dims[d];
      rest /= l.dims[d];
    }
    for (long r = r0; r < r1; r++) {
      long oa = 0, ob = 0;
      for (int d = 0; d < last; d++) {
        oa += index[d] * l.a_strides[d];
        ob += index[d] * l.b_strides[d];
      }
      const float* pa = a + oa;
      const float* pb = b + ob;
      float* po = out + r * inner;
      if (sa == 1 && sb == 1) {
        for (long k = 0; k < inner; k++) po[k] = op(pa[k], pb[k]);
      } else if (sa == 1) {
        const float s = pb[0];
        for (long k = 0; k < inner; k++) po[k] = op(pa[k], s);
      } else if (sb == 1) {
        const float s = pa[0];
        for (long k = 0; k < inner; k++) po[k] = op(s, pb[k]);
      } else {
        for (long k = 0; k < inner; k++) po[k] = op(pa[k * sa], pb[k * sb]);
      }
      for (int d = last - 1; d >= 0 && ++index[d] == l.dims[d]; d--) index[d] = 0;
    }
  });
}

}  // namespace

void binary(BinaryOp op, const Broadcast& l, const float* a, const float* b, float* out) {
  switch (op) {
    case BinaryOp::add: return run_binary(l, a, b, out, [](float x, float y) { return x + y; });
    case BinaryOp::sub: return run_binary(l, a, b, out, [](float x, float y) { return x - y; });
    case BinaryOp::mul: return run_binary(l, a, b, out, [](float x, float y) { return x * y; });
    case BinaryOp::div: return run_binary(l, a, b, out, [](float x, float y) { return x / y; });
  }
}

void unary(UnaryOp op, long n, const float* x, float alpha, float* out) {
  if (op == UnaryOp::relu) {
    parallel_for(n, kGrain, [&](long begin, long end) {
      for (long i = begin; i < end; i++) out[i] = x[i] < 0.f ? 0.f : x[i];
    });
    return;
  }
  parallel_for(n, kGrain, [&](long begin, long end) {
    for (long i = begin; i < end; i++) out[i] = std::isnan(x[i]) ? x[i] : x[i] > 0.f ? 1.f : alpha;
  });
}

void sum_axes(int rank, const long* dims, const long* out_strides, const float* x, float* out, long out_size) {
  std::vector<double> acc(out_size, 0.0);
  const int last = rank - 1;
  const long inner = dims[last], so = out_strides[last];
  long rows = 1;
  for (int d = 0; d < last; d++) rows *= dims[d];
  long index[kMaxRank] = {0};
  for (long r = 0; r < rows; r++) {
    long o = 0;
    for (int d = 0; d < last; d++) o += index[d] * out_strides[d];
    const float* px = x + r * inner;
    double* pa = acc.data() + o;
    if (so == 0) {
      double s = 0;
      for (long k = 0; k < inner; k++) s += px[k];
      pa[0] += s;
    } else {
      for (long k = 0; k < inner; k++) pa[k * so] += px[k];
    }
    for (int d = last - 1; d >= 0 && ++index[d] == dims[d]; d--) index[d] = 0;
  }
  for (long i = 0; i < out_size; i++) out[i] = static_cast<float>(acc[i]);
}

}  // namespace lumen
