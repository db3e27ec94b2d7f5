// The machine's arithmetic peak, measured: what the GEMM and conv kernels are judged against.
#pragma once

namespace lumen {

// Single-precision GFLOP/s of `iterations` rounds of independent fused multiply-adds on
// every thread of the pool at once, in the GEMM's own vector width: 16-wide AVX-512 FMAs
// where gemm_isa() is "avx512", 8-wide AVX2 FMAs where it is "avx2-fma", plain
// multiply-adds otherwise. An FMA counts as two flops, as in a GEMM's 2·M·N·K.
double fma_peak_gflops(long iterations);

}  // namespace lumen
