#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LUMEN_X86 1
#endif

namespace lumen {

namespace {

// KC x NR of B (16 KiB) stays in L1 while an MC x KC block of A (~150 KiB) sits in L2.
constexpr long KC = 256;
constexpr long MC = 144;
constexpr long NC = 3072;

using Run = ARun;
constexpr int MAX_RUNS = DirectA::MAX_RUNS;

using Kernel = void (*)(const Run* runs, int count, const float* b, float* c, long ldc, int m, int n, bool accumulate);

// The m x n corner of a register tile (rows `width` floats apart) written into C, or added to it.
void store_tile(const float* tile, int width, float* c, long ldc, int m, int n, bool accumulate) {
  for (int r = 0; r < m; r++) {
    float* row = c + r * ldc;
    const float* t = tile + r * width;
    if (accumulate) {
      for (int j = 0; j < n; j++) row[j] += t[j];
    } else {
      for (int j = 0; j < n; j++) row[j] = t[j];
    }
  }
}

void kernel_generic(const Run* runs, int count, const float* b, float* c, long ldc, int m, int n, bool accumulate) {
  float acc[MR][NR] = {};
  for (int u = 0; u < count; u++) {
    const Run& run = runs[u];
    for (long t = 0; t < run.length; t++, b += NR) {
      for (int r = 0; r < MR; r++) {
        const float ar = run.p[r * run.rs + t * run.ts];
        for (int j = 0; j < NR; j++) acc[r][j] += ar * b[j];
      }
    }
  }
  store_tile(acc[0], NR, c, ldc, m, n, accumulate);
}

#ifdef LUMEN_X86
__attribute__((target("avx2,fma"))) void kernel_avx2(const Run* runs, int count, const float* b, float* c, long ldc, int m, int n,
                                                      bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int u = 0; u < count; u++) {
    const long rs = runs[u].rs, ts = runs[u].ts, length = runs[u].length;
    const float* a0 = runs[u].p;
    const float *a1 = a0 + rs, *a2 = a1 + rs, *a3 = a2 + rs, *a4 = a3 + rs, *a5 = a4 + rs;
    for (long t = 0, q = 0; t < length; t++, q += ts, b += NR) {
      const __m256 b0 = _mm256_load_ps(b);
      const __m256 b1 = _mm256_load_ps(b + 8);
      __m256 ar = _mm256_broadcast_ss(a0 + q);
      c00 = _mm256_fmadd_ps(ar, b0, c00);
      c01 = _mm256_fmadd_ps(ar, b1, c01);
      ar = _mm256_broadcast_ss(a1 + q);
      c10 = _mm256_fmadd_ps(ar, b0, c10);
      c11 = _mm256_fmadd_ps(ar, b1, c11);
      ar = _mm256_broadcast_ss(a2 + q);
      c20 = _mm256_fmadd_ps(ar, b0, c20);
      c21 = _mm256_fmadd_ps(ar, b1, c21);
      ar = _mm256_broadcast_ss(a3 + q);
      c30 = _mm256_fmadd_ps(ar, b0, c30);
      c31 = _mm256_fmadd_ps(ar, b1, c31);
      ar = _mm256_broadcast_ss(a4 + q);
      c40 = _mm256_fmadd_ps(ar, b0, c40);
      c41 = _mm256_fmadd_ps(ar, b1, c41);
      ar = _mm256_broadcast_ss(a5 + q);
      c50 = _mm256_fmadd_ps(ar, b0, c50);
      c51 = _mm256_fmadd_ps(ar, b1, c51);
    }
  }
  const __m256 rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (m == MR && n == NR) {
    for (int r = 0; r < MR; r++) {
      float* row = c + r * ldc;
      if (accumulate) {
        _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), rows[r][0]));
        _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), rows[r][1]));
      } else {
        _mm256_storeu_ps(row, rows[r][0]);
        _mm256_storeu_ps(row + 8, rows[r][1]);
      }
    }
    return;
  }
  alignas(32) float tile[MR][NR];
  for (int r = 0; r < MR; r++) {
    _mm256_store_ps(tile[r], rows[r][0]);
    _mm256_store_ps(tile[r] + 8, rows[r][1]);
  }
  store_tile(tile[0], NR, c, ldc, m, n, accumulate);
}
#endif

// Two adjacent B slivers (NR columns each) at once: a 6x32 tile in twelve 16-wide
// accumulators, twice the work per instruction of the AVX2 tile. `b1` is the second
// sliver; with n <= NR it is the first again and the upper half of the tile is dropped.
using WideKernel = void (*)(const Run* runs, int count, const float* b0, const float* b1, float* c, long ldc, int m, int n, bool accumulate);

#ifdef LUMEN_X86
__attribute__((target("avx512f"))) void kernel_avx512(const Run* runs, int count, const float* b0, const float* b1, float* c, long ldc, int m,
                                                       int n, bool accumulate) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
  __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
  __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
  __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
  for (int u = 0; u < count; u++) {
    const long rs = runs[u].rs, ts = runs[u].ts, length = runs[u].length;
    const float* a0 = runs[u].p;
    const float *a1 = a0 + rs, *a2 = a1 + rs, *a3 = a2 + rs, *a4 = a3 + rs, *a5 = a4 + rs;
    for (long t = 0, q = 0; t < length; t++, q += ts, b0 += NR, b1 += NR) {
      const __m512 x0 = _mm512_load_ps(b0);
      const __m512 x1 = _mm512_load_ps(b1);
      __m512 ar = _mm512_set1_ps(a0[q]);
      c00 = _mm512_fmadd_ps(ar, x0, c00);
      c01 = _mm512_fmadd_ps(ar, x1, c01);
      ar = _mm512_set1_ps(a1[q]);
      c10 = _mm512_fmadd_ps(ar, x0, c10);
      c11 = _mm512_fmadd_ps(ar, x1, c11);
      ar = _mm512_set1_ps(a2[q]);
      c20 = _mm512_fmadd_ps(ar, x0, c20);
      c21 = _mm512_fmadd_ps(ar, x1, c21);
      ar = _mm512_set1_ps(a3[q]);
      c30 = _mm512_fmadd_ps(ar, x0, c30);
      c31 = _mm512_fmadd_ps(ar, x1, c31);
      ar = _mm512_set1_ps(a4[q]);
      c40 = _mm512_fmadd_ps(ar, x0, c40);
      c41 = _mm512_fmadd_ps(ar, x1, c41);
      ar = _mm512_set1_ps(a5[q]);
      c50 = _mm512_fmadd_ps(ar, x0, c50);
      c51 = _mm512_fmadd_ps(ar, x1, c51);
    }
  }
  const __m512 rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (m == MR && n == 2 * NR) {
    for (int r = 0; r < MR; r++) {
      float* row = c + r * ldc;
      if (accumulate) {
        _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), rows[r][0]));
        _mm512_storeu_ps(row + NR, _mm512_add_ps(_mm512_loadu_ps(row + NR), rows[r][1]));
      } else {
        _mm512_storeu_ps(row, rows[r][0]);
        _mm512_storeu_ps(row + NR, rows[r][1]);
      }
    }
    return;
  }
  alignas(64) float tile[MR][2 * NR];
  for (int r = 0; r < MR; r++) {
    _mm512_store_ps(tile[r], rows[r][0]);
    _mm512_store_ps(tile[r] + NR, rows[r][1]);
  }
  store_tile(tile[0], 2 * NR, c, ldc, m, n, accumulate);
}

// A single sliver (n <= NR) on AVX-512: a 6x16 tile in six 16-wide accumulators. The wide
// tile would compute a 6x32 tile and drop half of it (a 16-channel layer's GEMMs, a 1x1 conv's
// last columns); this one does half its arithmetic. Sums in the same order as the others.
__attribute__((target("avx512f"))) void kernel_avx512_narrow(const Run* runs, int count, const float* b, float* c, long ldc, int m, int n,
                                                              bool accumulate) {
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
  __m512 c3 = _mm512_setzero_ps(), c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
  for (int u = 0; u < count; u++) {
    const long rs = runs[u].rs, ts = runs[u].ts, length = runs[u].length;
    const float* a0 = runs[u].p;
    const float *a1 = a0 + rs, *a2 = a1 + rs, *a3 = a2 + rs, *a4 = a3 + rs, *a5 = a4 + rs;
    for (long t = 0, q = 0; t < length; t++, q += ts, b += NR) {
      const __m512 x = _mm512_load_ps(b);
      c0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[q]), x, c0);
      c1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[q]), x, c1);
      c2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[q]), x, c2);
      c3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[q]), x, c3);
      c4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[q]), x, c4);
      c5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[q]), x, c5);
    }
  }
  const __m512 rows[MR] = {c0, c1, c2, c3, c4, c5};
  if (m == MR && n == NR) {
    for (int r = 0; r < MR; r++) {
      float* row = c + r * ldc;
      _mm512_storeu_ps(row, accumulate ? _mm512_add_ps(_mm512_loadu_ps(row), rows[r]) : rows[r]);
    }
    return;
  }
  alignas(64) float tile[MR][NR];
  for (int r = 0; r < MR; r++) _mm512_store_ps(tile[r], rows[r]);
  store_tile(tile[0], NR, c, ldc, m, n, accumulate);
}
#endif

Kernel pick_kernel() {
#ifdef LUMEN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kernel_avx2;
#endif
  return kernel_generic;
}

// LUMEN_NATIVE_ISA=avx2 keeps the AVX2 tile on an AVX-512 machine (to compare them).
WideKernel pick_wide_kernel() {
#ifdef LUMEN_X86
  const char* isa = std::getenv("LUMEN_NATIVE_ISA");
  if (isa != nullptr && std::strcmp(isa, "avx2") == 0) return nullptr;
  if (__builtin_cpu_supports("avx512f")) return kernel_avx512;
#endif
  return nullptr;
}

const Kernel kernel = pick_kernel();
const WideKernel wide_kernel = pick_wide_kernel();
#ifdef LUMEN_X86
const Kernel narrow_kernel = wide_kernel == kernel_avx512 ? kernel_avx512_narrow : nullptr;
#else
const Kernel narrow_kernel = nullptr;
#endif

struct Aligned {
  float* p = nullptr;
  size_t n = 0;
  ~Aligned() { std::free(p); }
  float* get(size_t count) {
    if (count > n) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, ((count * sizeof(float) + 63) / 64) * 64));
      n = count;
    }
    return p;
  }
};

// B rows [k, k+kc) x columns [j, j+nc) into nc/NR slivers of kc x NR (zero-padded).
void pack_b(float* dst, const float* b, long brs, long bcs, long k, long kc, long j, long nc) {
  for (long jr = 0; jr < nc; jr += NR) {
    const int n = static_cast<int>(std::min<long>(NR, nc - jr));
    const float* src = b + k * brs + (j + jr) * bcs;
    if (bcs == 1 && n == NR) {
      for (long p = 0; p < kc; p++, dst += NR) std::memcpy(dst, src + p * brs, NR * sizeof(float));
    } else {
      for (long p = 0; p < kc; p++, dst += NR) {
        const float* s = src + p * brs;
        int q = 0;
        for (; q < n; q++) dst[q] = s[q * bcs];
        for (; q < NR; q++) dst[q] = 0.f;
      }
    }
  }
}

// C[i0:i1, j0:j1] on one thread.
void gemm_block(const PackA& a, const float* b, long brs, long bcs, float* c, long ldc, long i0, long i1, long j0, long j1, long K,
                bool accumulate) {
  thread_local Aligned a_buffer, b_buffer;
  // Per sliver of the MC block: its runs (one packed run, or DirectA's in-place runs).
  thread_local Run runs[(MC / MR) * MAX_RUNS];
  thread_local int run_counts[MC / MR];
  float* bp = b_buffer.get(KC * NC);
  float* ap = a_buffer.get(MC * KC);
  // The portable tile reads packed A only: its time is in the arithmetic, not the packing.
  const bool in_place = kernel != kernel_generic || wide_kernel != nullptr;
  for (long jc = j0; jc < j1; jc += NC) {
    const long nc = std::min(NC, j1 - jc);
    for (long pc = 0; pc < K; pc += KC) {
      const long kc = std::min(KC, K - pc);
      const bool acc = accumulate || pc > 0;
      pack_b(bp, b, brs, bcs, pc, kc, jc, nc);
      for (long ic = i0; ic < i1; ic += MC) {
        const long mc = std::min(MC, i1 - ic);
        for (long ir = 0; ir < mc; ir += MR) {
          const int mr = static_cast<int>(std::min<long>(MR, mc - ir));
          Run* own = runs + (ir / MR) * MAX_RUNS;
          DirectA d;
          if (in_place && mr == MR && a.direct(ic + ir, pc, static_cast<int>(kc), nc, &d)) {
            std::copy(d.run, d.run + d.runs, own);
            run_counts[ir / MR] = d.runs;
          } else {
            a.pack(ap + ir * kc, ic + ir, mr, pc, static_cast<int>(kc));
            own[0] = Run{ap + ir * kc, 1, MR, kc};
            run_counts[ir / MR] = 1;
          }
        }
        if (wide_kernel != nullptr) {
          for (long jr = 0; jr < nc; jr += 2 * NR) {
            const int n = static_cast<int>(std::min<long>(2 * NR, nc - jr));
            const float* b0 = bp + jr * kc;
            const float* b1 = n > NR ? b0 + NR * kc : b0;
            for (long ir = 0; ir < mc; ir += MR) {
              const int m = static_cast<int>(std::min<long>(MR, mc - ir));
              if (n <= NR && narrow_kernel != nullptr) {
                narrow_kernel(runs + (ir / MR) * MAX_RUNS, run_counts[ir / MR], b0, c + (ic + ir) * ldc + jc + jr, ldc, m, n, acc);
              } else {
                wide_kernel(runs + (ir / MR) * MAX_RUNS, run_counts[ir / MR], b0, b1, c + (ic + ir) * ldc + jc + jr, ldc, m, n, acc);
              }
            }
          }
          continue;
        }
        for (long jr = 0; jr < nc; jr += NR) {
          const int n = static_cast<int>(std::min<long>(NR, nc - jr));
          for (long ir = 0; ir < mc; ir += MR) {
            const int m = static_cast<int>(std::min<long>(MR, mc - ir));
            kernel(runs + (ir / MR) * MAX_RUNS, run_counts[ir / MR], bp + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, m, n, acc);
          }
        }
      }
    }
  }
  if (K == 0 && !accumulate) {
    for (long i = i0; i < i1; i++) std::fill(c + i * ldc + j0, c + i * ldc + j1, 0.f);
  }
}

void apply_epilogue(const Epilogue& e, float* c, long ldc, long i0, long i1, long j0, long j1) {
  if (e.bias == nullptr && e.activation == 0) return;
  for (long i = i0; i < i1; i++) {
    float* row = c + i * ldc;
    if (e.bias != nullptr) {
      for (long j = j0; j < j1; j++) row[j] += e.bias[j];
    }
    if (e.activation == 1) {
      for (long j = j0; j < j1; j++) row[j] = std::max(row[j], 0.f);
    } else if (e.activation == 2) {
      for (long j = j0; j < j1; j++) row[j] = std::min(std::max(row[j], 0.f), 6.f);
    }
  }
}

}  // namespace

bool StridedA::direct(long i, long k, int kc, long /*columns*/, DirectA* d) const {
  if (cs != 1) return false;
  d->runs = 1;
  d->run[0] = ARun{p + i * rs + k, rs, 1, kc};
  return true;
}

void StridedA::pack(float* dst, long i, int mr, long k, int kc) const {
  const float* src = p + i * rs + k * cs;
  if (cs == 1) {
    for (int r = 0; r < mr; r++) {
      const float* s = src + r * rs;
      for (int q = 0; q < kc; q++) dst[q * MR + r] = s[q];
    }
  } else {
    for (int q = 0; q < kc; q++) {
      const float* s = src + q * cs;
      for (int r = 0; r < mr; r++) dst[q * MR + r] = s[r * rs];
    }
  }
  for (int r = mr; r < MR; r++) {
    for (int q = 0; q < kc; q++) dst[q * MR + r] = 0.f;
  }
}

void gemm(const PackA& a, const float* b, long brs, long bcs, float* c, long ldc, long M, long N, long K, bool accumulate,
          const Epilogue& epilogue) {
  if (M <= 0 || N <= 0) return;
  const int threads = pool().size();
  // Split C into one block per thread along its longer side (in whole register tiles), so
  // that no two threads write the same element; each packs the operands it reads.
  const long m_tiles = (M + MR - 1) / MR, n_tiles = (N + NR - 1) / NR;
  const bool by_rows = m_tiles * MR >= n_tiles * NR || n_tiles < threads;
  const long tiles = by_rows ? m_tiles : n_tiles;
  const long work = M * N * std::max<long>(K, 1);
  const int parts = static_cast<int>(std::min<long>({threads, tiles, std::max<long>(1, work / (1L << 18))}));
  pool().run(parts, [&](int part) {
    const long t0 = tiles * part / parts, t1 = tiles * (part + 1) / parts;
    long i0 = 0, i1 = M, j0 = 0, j1 = N;
    if (by_rows) {
      i0 = t0 * MR;
      i1 = std::min(M, t1 * MR);
    } else {
      j0 = t0 * NR;
      j1 = std::min(N, t1 * NR);
    }
    if (i0 >= i1 || j0 >= j1) return;
    gemm_block(a, b, brs, bcs, c, ldc, i0, i1, j0, j1, K, accumulate);
    apply_epilogue(epilogue, c, ldc, i0, i1, j0, j1);
  });
}

void gemm_serial(const PackA& a, const float* b, long brs, long bcs, float* c, long ldc, long M, long N, long K, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  gemm_block(a, b, brs, bcs, c, ldc, 0, M, 0, N, K, accumulate);
}

const char* gemm_isa() {
#ifdef LUMEN_X86
  if (wide_kernel == kernel_avx512) return "avx512";
  if (kernel == kernel_avx2) return "avx2-fma";
#endif
  return "generic";
}

}  // namespace lumen
