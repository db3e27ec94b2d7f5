#include "elementwise.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LUMEN_X86 1
#endif

namespace lumen {
namespace {

constexpr long kGrain = 1 << 15;

// float(1/6): the fallback composition multiplies by it (tfjs's scalar 1/6), so results agree
// to the bit with it rather than with torch's division by 6 (at most an ulp apart).
constexpr float kSixth = 1.f / 6.f;

// relu6(x + 3); NaN compares false both times and stays NaN.
inline float relu6_shifted(float x) {
  const float t = x + 3.f;
  const float lower = t < 0.f ? 0.f : t;
  return lower > 6.f ? 6.f : lower;
}

// Hard activations written out in AVX2 beside their scalar form (other CPUs, and the last
// n % 8 values): GCC keeps float selects as branches under its default -ftrapping-math, so
// the scalar loops do not vectorise the way relu's does. 8 lanes are enough: the kernels wait
// on memory, not arithmetic.
#ifdef LUMEN_X86
#define AVX2 __attribute__((target("avx2")))

// relu6(x + 3), 8 at a time: max/min return their second operand when either is NaN, here t.
AVX2 inline __m256 relu6_shifted8(__m256 x) {
  const __m256 t = _mm256_add_ps(x, _mm256_set1_ps(3.f));
  return _mm256_min_ps(_mm256_set1_ps(6.f), _mm256_max_ps(_mm256_setzero_ps(), t));
}
#endif

// x·relu6(x + 3)/6; slope 0 below -3, x/3 + 1/2 up to 3 inclusive, else 1 (NaN too: it fails
// both tests, as in torch's hardswish_backward).
struct HardSwish {
  static float forward(float x) { return x * (relu6_shifted(x) * kSixth); }
  // x / 3, not x·(1/3): torch's rounding.
  static float slope(float x) { return x < -3.f ? 0.f : x <= 3.f ? x / 3.f + 0.5f : 1.f; }
#ifdef LUMEN_X86
  AVX2 static __m256 forward8(__m256 x) { return _mm256_mul_ps(x, _mm256_mul_ps(relu6_shifted8(x), _mm256_set1_ps(kSixth))); }
  AVX2 static __m256 slope8(__m256 x) {
    __m256 s = _mm256_add_ps(_mm256_div_ps(x, _mm256_set1_ps(3.f)), _mm256_set1_ps(0.5f));
    // Not x <= 3, unordered included: NaN gets 1 as above.
    s = _mm256_blendv_ps(s, _mm256_set1_ps(1.f), _mm256_cmp_ps(x, _mm256_set1_ps(3.f), _CMP_NLE_UQ));
    return _mm256_blendv_ps(s, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-3.f), _CMP_LT_OQ));
  }
#endif
};

// relu6(x + 3)/6; slope 1/6 strictly between -3 and 3, else 0.
struct HardSigmoid {
  static float forward(float x) { return relu6_shifted(x) * kSixth; }
  static float slope(float x) { return x > -3.f && x < 3.f ? kSixth : 0.f; }
#ifdef LUMEN_X86
  AVX2 static __m256 forward8(__m256 x) { return _mm256_mul_ps(relu6_shifted8(x), _mm256_set1_ps(kSixth)); }
  AVX2 static __m256 slope8(__m256 x) {
    const __m256 inside = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-3.f), _CMP_GT_OQ), _mm256_cmp_ps(x, _mm256_set1_ps(3.f), _CMP_LT_OQ));
    return _mm256_and_ps(inside, _mm256_set1_ps(kSixth));
  }
#endif
};

#ifdef LUMEN_X86
bool pick_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
const bool avx2 = pick_avx2();

// The AVX2 part of [begin, end) (whole vectors); returns where the scalar tail starts.
template <typename Op>
AVX2 long forward_avx2(long begin, long end, const float* x, float* out) {
  long i = begin;
  for (; i + 8 <= end; i += 8) _mm256_storeu_ps(out + i, Op::forward8(_mm256_loadu_ps(x + i)));
  return i;
}

template <typename Op>
AVX2 long gradient_avx2(long begin, long end, const float* dy, const float* x, float* dx) {
  long i = begin;
  for (; i + 8 <= end; i += 8) _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), Op::slope8(_mm256_loadu_ps(x + i))));
  return i;
}
#undef AVX2
#endif

template <typename Op>
void run_forward(long n, const float* x, float* out) {
  parallel_for(n, kGrain, [&](long begin, long end) {
    long i = begin;
#ifdef LUMEN_X86
    if (avx2) i = forward_avx2<Op>(begin, end, x, out);
#endif
    for (; i < end; i++) out[i] = Op::forward(x[i]);
  });
}

template <typename Op>
void run_gradient(long n, const float* dy, const float* x, float* dx) {
  parallel_for(n, kGrain, [&](long begin, long end) {
    long i = begin;
#ifdef LUMEN_X86
    if (avx2) i = gradient_avx2<Op>(begin, end, dy, x, dx);
#endif
    for (; i < end; i++) dx[i] = dy[i] * Op::slope(x[i]);
  });
}

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
  if (op == UnaryOp::hardswish) return run_forward<HardSwish>(n, x, out);
  if (op == UnaryOp::hardsigmoid) return run_forward<HardSigmoid>(n, x, out);
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

void unary_grad(UnaryOp op, long n, const float* dy, const float* x, float* dx) {
  if (op == UnaryOp::hardswish) return run_gradient<HardSwish>(n, dy, x, dx);
  if (op == UnaryOp::hardsigmoid) return run_gradient<HardSigmoid>(n, dy, x, dx);
  throw std::invalid_argument("unary_grad: only hardswish and hardsigmoid have a fused gradient");
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
