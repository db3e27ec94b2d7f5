#include "peak.h"

#include <chrono>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LUMEN_X86 1
#endif

namespace lumen {

namespace {

// Enough independent chains to cover an FMA's latency on two ports (2 x 5 cycles).
constexpr int CHAINS = 12;

#ifdef LUMEN_X86
__attribute__((target("avx2,fma"))) float chains_avx2(long iterations) {
  __m256 acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iterations; it++) {
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < CHAINS; i++) sum = _mm256_add_ps(sum, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

__attribute__((target("avx512f"))) float chains_avx512(long iterations) {
  __m512 acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iterations; it++) {
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}
#endif

float chains_generic(long iterations) {
  float acc[CHAINS][8];
  for (int i = 0; i < CHAINS; i++)
    for (int l = 0; l < 8; l++) acc[i][l] = static_cast<float>(i + l);
  for (long it = 0; it < iterations; it++)
    for (int i = 0; i < CHAINS; i++)
      for (int l = 0; l < 8; l++) acc[i][l] = acc[i][l] * 0.9999999f + 1e-7f;
  return acc[0][0] + acc[CHAINS - 1][7];
}

}  // namespace

double fma_peak_gflops(long iterations) {
  const bool avx512 = std::strcmp(gemm_isa(), "avx512") == 0;
  const bool avx2 = std::strcmp(gemm_isa(), "avx2-fma") == 0;
  const int lanes = avx512 ? 16 : 8;
  const int threads = pool().size();
  std::vector<float> sink(threads);
  const auto start = std::chrono::steady_clock::now();
  pool().run(threads, [&](int part) {
#ifdef LUMEN_X86
    sink[part] = avx512 ? chains_avx512(iterations) : avx2 ? chains_avx2(iterations) : chains_generic(iterations);
#else
    sink[part] = chains_generic(iterations);
#endif
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  volatile float keep = sink[0];
  (void)keep;
  return 2.0 * lanes * CHAINS * static_cast<double>(iterations) * threads / seconds / 1e9;
}

}  // namespace lumen
