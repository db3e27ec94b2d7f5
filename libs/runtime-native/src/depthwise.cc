#include "depthwise.h"

#include <algorithm>
#include <vector>

#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LUMEN_X86 1
#endif

namespace lumen {

namespace {

// Forward and input gradient are the same loop: each value of one row of the result is a
// sum over taps of (source value · weight), channel by channel. A tap names its source
// value at q = 0; value q reads `step` source pixels further along the source row.
struct Tap {
  long src;  // offset of the tap's source value for q = 0, channel 0 (off the row when col < 0)
  long col;  // its source column for q = 0
  long w;    // offset of the tap's C weights
};

// out[q·out_step + c] = bias[c] + Σ_t src[taps[t].src + q·step·C + c] · w[taps[t].w + c] for q
// in [0, Q), leaving out taps whose column q·step + col is off the source row; then the
// activation. For q in [qa, qb) every tap's column is on the row.
struct Row {
  const float* src;
  const float* w;
  const Tap* taps;
  int ntaps;
  long step;
  long src_w;
  long Q;
  float* out;
  long out_step;
  long C;
  const float* bias;
  int activation;
  long qa, qb;
};

// One row of the filter gradient for tap row i: acc[j·C + c] += Σ_ox x[(ox·sw + j·dw − pl)·C + c] · dy[ox·C + c],
// over the ox whose column is on the row.
struct FilterRow {
  const float* x;   // the input row y = oy·sh + i·dh − pt
  const float* dy;  // the output row oy
  long Wo, W, C, sw, dw, pl, kw;
  double* acc;      // kw x C
  float* scratch;   // kw x C floats for the portable path
};

// The ox in [0, Wo) for which ox·step + col lies in [0, width).
void column_range(long col, long step, long width, long count, long* lo, long* hi) {
  const long l = col >= 0 ? 0 : (-col + step - 1) / step;
  const long h = width - 1 - col < 0 ? 0 : (width - 1 - col) / step + 1;
  *lo = std::min(l, count);
  *hi = std::max(*lo, std::min(h, count));
}

inline float activate(float v, int activation) {
  if (activation == 1) return std::max(v, 0.f);
  if (activation == 2) return std::min(std::max(v, 0.f), 6.f);
  return v;
}

void row_generic(const Row& r) {
  const long C = r.C;
  for (long q = 0; q < r.Q; q++) {
    float* o = r.out + q * r.out_step;
    for (long c = 0; c < C; c++) o[c] = r.bias != nullptr ? r.bias[c] : 0.f;
    const bool inside = q >= r.qa && q < r.qb;
    for (int t = 0; t < r.ntaps; t++) {
      const Tap& tap = r.taps[t];
      if (!inside) {
        const long col = q * r.step + tap.col;
        if (col < 0 || col >= r.src_w) continue;
      }
      const float* s = r.src + (tap.src + q * r.step * C);
      const float* wv = r.w + tap.w;
      for (long c = 0; c < C; c++) o[c] += s[c] * wv[c];
    }
    if (r.activation != 0) {
      for (long c = 0; c < C; c++) o[c] = activate(o[c], r.activation);
    }
  }
}

void filter_row_generic(const FilterRow& f) {
  const long C = f.C;
  std::fill(f.scratch, f.scratch + f.kw * C, 0.f);
  for (long j = 0; j < f.kw; j++) {
    long lo, hi;
    column_range(j * f.dw - f.pl, f.sw, f.W, f.Wo, &lo, &hi);
    float* s = f.scratch + j * C;
    for (long ox = lo; ox < hi; ox++) {
      const float* xs = f.x + (ox * f.sw + j * f.dw - f.pl) * C;
      const float* ds = f.dy + ox * C;
      for (long c = 0; c < C; c++) s[c] += xs[c] * ds[c];
    }
  }
  for (long k = 0; k < f.kw * C; k++) f.acc[k] += f.scratch[k];
}

#ifdef LUMEN_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 inline __m256i tail_mask(long n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Loads and stores of 8 channels, the last block of a row masked to its `n` channels.
template <bool Tail>
AVX2 inline __m256 load8(const float* p, __m256i mask) {
  return Tail ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

template <bool Tail>
AVX2 inline void store8(float* p, __m256 v, __m256i mask) {
  if (Tail) {
    _mm256_maskstore_ps(p, mask, v);
  } else {
    _mm256_storeu_ps(p, v);
  }
}

AVX2 inline __m256 activate8(__m256 v, int activation) {
  if (activation == 0) return v;
  v = _mm256_max_ps(v, _mm256_setzero_ps());
  return activation == 2 ? _mm256_min_ps(v, _mm256_set1_ps(6.f)) : v;
}

// Values q..q+3 (every tap on the row) at channels c..c+7: four accumulators share each
// weight load.
template <bool Tail>
AVX2 void quad_avx2(const Row& r, long q, long c, __m256i mask) {
  const long sc = r.step * r.C;
  const long base = q * sc + c;
  const __m256 b = r.bias != nullptr ? load8<Tail>(r.bias + c, mask) : _mm256_setzero_ps();
  __m256 a0 = b, a1 = b, a2 = b, a3 = b;
  for (int t = 0; t < r.ntaps; t++) {
    const float* s = r.src + (r.taps[t].src + base);
    const __m256 wv = load8<Tail>(r.w + r.taps[t].w + c, mask);
    a0 = _mm256_fmadd_ps(load8<Tail>(s, mask), wv, a0);
    a1 = _mm256_fmadd_ps(load8<Tail>(s + sc, mask), wv, a1);
    a2 = _mm256_fmadd_ps(load8<Tail>(s + 2 * sc, mask), wv, a2);
    a3 = _mm256_fmadd_ps(load8<Tail>(s + 3 * sc, mask), wv, a3);
  }
  float* o = r.out + q * r.out_step + c;
  store8<Tail>(o, activate8(a0, r.activation), mask);
  store8<Tail>(o + r.out_step, activate8(a1, r.activation), mask);
  store8<Tail>(o + 2 * r.out_step, activate8(a2, r.activation), mask);
  store8<Tail>(o + 3 * r.out_step, activate8(a3, r.activation), mask);
}

// Value q at channels c..c+7; `checked` leaves out taps off the source row.
template <bool Tail>
AVX2 void single_avx2(const Row& r, long q, long c, bool checked, __m256i mask) {
  const long base = q * r.step * r.C + c;
  __m256 a = r.bias != nullptr ? load8<Tail>(r.bias + c, mask) : _mm256_setzero_ps();
  for (int t = 0; t < r.ntaps; t++) {
    const Tap& tap = r.taps[t];
    if (checked) {
      const long col = q * r.step + tap.col;
      if (col < 0 || col >= r.src_w) continue;
    }
    a = _mm256_fmadd_ps(load8<Tail>(r.src + (tap.src + base), mask), load8<Tail>(r.w + tap.w + c, mask), a);
  }
  store8<Tail>(r.out + q * r.out_step + c, activate8(a, r.activation), mask);
}

AVX2 void single_all_avx2(const Row& r, long q, bool checked, long c8, __m256i mask) {
  for (long c = 0; c < c8; c += 8) single_avx2<false>(r, q, c, checked, mask);
  if (c8 < r.C) single_avx2<true>(r, q, c8, checked, mask);
}

AVX2 void row_avx2(const Row& r) {
  const long c8 = r.C & ~7L;
  const __m256i mask = tail_mask(r.C - c8);
  for (long q = 0; q < r.qa; q++) single_all_avx2(r, q, true, c8, mask);
  long q = r.qa;
  for (; q + 4 <= r.qb; q += 4) {
    for (long c = 0; c < c8; c += 8) quad_avx2<false>(r, q, c, mask);
    if (c8 < r.C) quad_avx2<true>(r, q, c8, mask);
  }
  for (; q < r.qb; q++) single_all_avx2(r, q, false, c8, mask);
  for (q = std::max(q, r.qa); q < r.Q; q++) single_all_avx2(r, q, true, c8, mask);
}

// Adds 8 float sums (n of them when Tail) to doubles.
template <bool Tail>
AVX2 inline void add_to_doubles(double* d, __m256 v, long n) {
  if (Tail) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    for (long l = 0; l < n; l++) d[l] += t[l];
    return;
  }
  _mm256_storeu_pd(d, _mm256_add_pd(_mm256_loadu_pd(d), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
  _mm256_storeu_pd(d + 4, _mm256_add_pd(_mm256_loadu_pd(d + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

// Taps j0..j0+J−1 of a filter row at channels c..c+7: each dy load feeds J accumulators.
template <int J, bool Tail>
AVX2 void filter_group_avx2(const FilterRow& f, long j0, long c, __m256i mask) {
  const long C = f.C;
  long lo[J], hi[J];
  long a = 0, b = f.Wo;
  for (int k = 0; k < J; k++) {
    column_range((j0 + k) * f.dw - f.pl, f.sw, f.W, f.Wo, &lo[k], &hi[k]);
    a = std::max(a, lo[k]);
    b = std::min(b, hi[k]);
  }
  if (b < a) b = a;
  __m256 acc[J];
  long xo[J];  // offset of tap k's x value at ox = 0 (off the row when its column is)
  for (int k = 0; k < J; k++) {
    acc[k] = _mm256_setzero_ps();
    xo[k] = ((j0 + k) * f.dw - f.pl) * C + c;
  }
  const long xstep = f.sw * C;
  for (long ox = a; ox < b; ox++) {
    const __m256 d = load8<Tail>(f.dy + ox * C + c, mask);
    for (int k = 0; k < J; k++) acc[k] = _mm256_fmadd_ps(load8<Tail>(f.x + (xo[k] + ox * xstep), mask), d, acc[k]);
  }
  for (int k = 0; k < J; k++) {
    const long edges[2][2] = {{lo[k], std::min(a, hi[k])}, {std::max(b, lo[k]), hi[k]}};
    for (const auto& e : edges) {
      for (long ox = e[0]; ox < e[1]; ox++) {
        acc[k] = _mm256_fmadd_ps(load8<Tail>(f.x + (xo[k] + ox * xstep), mask), load8<Tail>(f.dy + ox * C + c, mask), acc[k]);
      }
    }
    add_to_doubles<Tail>(f.acc + (j0 + k) * C + c, acc[k], C - c);
  }
}

template <bool Tail>
AVX2 void filter_block_avx2(const FilterRow& f, long c, __m256i mask) {
  for (long j0 = 0; j0 < f.kw; j0 += 5) {
    switch (std::min<long>(5, f.kw - j0)) {
      case 1: filter_group_avx2<1, Tail>(f, j0, c, mask); break;
      case 2: filter_group_avx2<2, Tail>(f, j0, c, mask); break;
      case 3: filter_group_avx2<3, Tail>(f, j0, c, mask); break;
      case 4: filter_group_avx2<4, Tail>(f, j0, c, mask); break;
      default: filter_group_avx2<5, Tail>(f, j0, c, mask); break;
    }
  }
}

AVX2 void filter_row_avx2(const FilterRow& f) {
  const long c8 = f.C & ~7L;
  const __m256i mask = tail_mask(f.C - c8);
  for (long c = 0; c < c8; c += 8) filter_block_avx2<false>(f, c, mask);
  if (c8 < f.C) filter_block_avx2<true>(f, c8, mask);
}
#undef AVX2
#endif

struct Kernels {
  void (*row)(const Row&);
  void (*filter_row)(const FilterRow&);
};

Kernels pick_kernels() {
#ifdef LUMEN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {row_avx2, filter_row_avx2};
#endif
  return {row_generic, filter_row_generic};
}

const Kernels kernels = pick_kernels();

// Rows per part so that a part has at least ~64k multiply-adds: waking threads costs more
// than smaller parts save.
long grain_for(long work_per_row) {
  return std::max<long>(1, (1L << 16) / std::max<long>(1, work_per_row));
}

// Fills r.qa and r.qb from the taps.
void interior(Row& r) {
  long a = 0, b = r.Q;
  for (int t = 0; t < r.ntaps; t++) {
    long lo, hi;
    column_range(r.taps[t].col, r.step, r.src_w, r.Q, &lo, &hi);
    a = std::max(a, lo);
    b = std::min(b, hi);
  }
  r.qa = std::min(a, r.Q);
  r.qb = std::max(r.qa, b);
}

}  // namespace

void depthwise_conv2d(const ConvGeometry& g, const float* x, const float* w, float* out, const Epilogue& epilogue) {
  const long C = g.in_c, rows = g.batch * g.out_h;
  parallel_for(rows, grain_for(g.out_w * C * g.k_h * g.k_w), [&](long r0, long r1) {
    std::vector<Tap> taps;
    taps.reserve(g.k_h * g.k_w);
    for (long row = r0; row < r1; row++) {
      const long n = row / g.out_h, oy = row % g.out_h;
      taps.clear();
      for (long i = 0; i < g.k_h; i++) {
        const long y = oy * g.stride_h + i * g.dilation_h - g.pad_top;
        if (y < 0 || y >= g.in_h) continue;
        for (long j = 0; j < g.k_w; j++) {
          const long col = j * g.dilation_w - g.pad_left;
          taps.push_back({((n * g.in_h + y) * g.in_w + col) * C, col, (i * g.k_w + j) * C});
        }
      }
      Row r{x, w, taps.data(), static_cast<int>(taps.size()), g.stride_w, g.in_w, g.out_w, out + row * g.out_w * C, C, C,
            epilogue.bias, epilogue.activation, 0, 0};
      interior(r);
      kernels.row(r);
    }
  });
}

void depthwise_conv2d_backprop_input(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  const long C = g.in_c, rows = g.batch * g.in_h, sw = g.stride_w;
  // Input column x = r + q·sw (phase r) meets output column ox = q + (r + pl − j·dw)/sw
  // through the taps j that make the division exact: one Row per phase.
  const long row_work = g.in_w * C * std::max<long>(1, g.k_h / g.stride_h) * std::max<long>(1, g.k_w / sw);
  parallel_for(rows, grain_for(row_work), [&](long r0, long r1) {
    std::vector<Tap> taps;
    taps.reserve(g.k_h * g.k_w);
    for (long row = r0; row < r1; row++) {
      const long n = row / g.in_h, y = row % g.in_h;
      for (long phase = 0; phase < std::min(sw, g.in_w); phase++) {
        taps.clear();
        for (long i = 0; i < g.k_h; i++) {
          const long t = y + g.pad_top - i * g.dilation_h;
          if (t < 0 || t % g.stride_h != 0 || t / g.stride_h >= g.out_h) continue;
          const long oy = t / g.stride_h;
          for (long j = 0; j < g.k_w; j++) {
            const long u = phase + g.pad_left - j * g.dilation_w;
            if (u % sw != 0) continue;
            const long col = u / sw;
            taps.push_back({((n * g.out_h + oy) * g.out_w + col) * C, col, (i * g.k_w + j) * C});
          }
        }
        Row r{dy, w, taps.data(), static_cast<int>(taps.size()), 1, g.out_w, (g.in_w - phase + sw - 1) / sw,
              dx + (row * g.in_w + phase) * C, sw * C, C, nullptr, 0, 0, 0};
        interior(r);
        kernels.row(r);
      }
    }
  });
}

void depthwise_conv2d_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const long C = g.in_c, rows = g.batch * g.out_h, size = g.k_h * g.k_w * C;
  // Each part sums its rows in float64; parts are added in part order (deterministic).
  std::vector<std::vector<double>> partial(pool().size());
  const int parts = parallel_parts(rows, grain_for(g.out_w * size), [&](int part, long r0, long r1) {
    std::vector<double>& acc = partial[part];
    acc.assign(size, 0.0);
    std::vector<float> scratch(g.k_w * C);
    for (long row = r0; row < r1; row++) {
      const long n = row / g.out_h, oy = row % g.out_h;
      for (long i = 0; i < g.k_h; i++) {
        const long y = oy * g.stride_h + i * g.dilation_h - g.pad_top;
        if (y < 0 || y >= g.in_h) continue;
        const FilterRow f{x + (n * g.in_h + y) * g.in_w * C, dy + row * g.out_w * C, g.out_w, g.in_w, C, g.stride_w, g.dilation_w,
                          g.pad_left, g.k_w, acc.data() + i * g.k_w * C, scratch.data()};
        kernels.filter_row(f);
      }
    }
  });
  for (long k = 0; k < size; k++) {
    double total = 0.0;
    for (int p = 0; p < parts; p++) total += partial[p].empty() ? 0.0 : partial[p][k];
    dw[k] = static_cast<float>(total);
  }
}

}  // namespace lumen
