// Single-precision GEMM, C[M,N] (+)= A[M,K] · B[K,N], in the Goto/BLIS arrangement: B is
// packed in KC x NC panels of 16-column slivers, A in MC x KC blocks of 6-row slivers, and a
// register-tile micro-kernel does the arithmetic: 6x32 over two slivers with AVX-512 where the
// CPU has it, else 6x16 with AVX2+FMA, else portable C++ (every path sums in the same order).
// A is read through an accessor so that convolutions can pack their patches straight from
// the image (no im2col buffer); B and C are strided matrices.
#pragma once
#include <cstddef>

namespace lumen {

constexpr int MR = 6;
constexpr int NR = 16;

// A's values for one micro-tile as a run: row r's value t at p[r * rs + t * ts], t < length
// (a packed sliver is one run with rs = 1, ts = MR; a run of zeros has rs = ts = 0).
struct ARun {
  const float* p;
  long rs, ts, length;
};

// Where the values of a whole row sliver (MR rows from i) for columns [k, k+kc) already lie
// in memory, run after run, when the micro-kernel can read them in place. A convolution's
// windows are such runs (a window row, or a row of output pixels for one tap), so the
// kernel reads the image and nothing is packed.
struct DirectA {
  static constexpr int MAX_RUNS = 32;
  int runs;
  ARun run[MAX_RUNS];
};

// Packs rows [i, i+mr) x columns [k, k+kc) of A into dst as kc groups of MR floats (rows
// past mr zero).
struct PackA {
  virtual ~PackA() = default;
  virtual void pack(float* dst, long i, int mr, long k, int kc) const = 0;
  // For a full sliver (MR rows) that the micro-kernel will read once per tile of `columns`
  // columns of C: fills `out` and returns true when its values can be read in place; the
  // GEMM packs the slivers for which it returns false.
  virtual bool direct(long /*i*/, long /*k*/, int /*kc*/, long /*columns*/, DirectA* /*out*/) const { return false; }
};

// A(i, k) = p[i*rs + k*cs]. Rows along k (cs = 1) are read in place: MR sequential streams
// the prefetcher follows, where packing cost up to a third of a GEMM with few columns. A
// transposed A is packed: in place, each k would touch a cache line cs floats from the last.
struct StridedA final : PackA {
  const float* p;
  long rs, cs;
  StridedA(const float* p, long rs, long cs) : p(p), rs(rs), cs(cs) {}
  void pack(float* dst, long i, int mr, long k, int kc) const override;
  bool direct(long i, long k, int kc, long columns, DirectA* out) const override;
};

struct Epilogue {
  const float* bias = nullptr;  // per column of C, added once
  int activation = 0;           // 0 linear, 1 relu, 2 relu6
};

// C(i, j) = p[i*ldc + j]. With accumulate, C += A·B, else C = A·B. Runs on the pool.
void gemm(const PackA& a, const float* b, long brs, long bcs, float* c, long ldc, long M, long N, long K, bool accumulate,
          const Epilogue& epilogue = Epilogue());

// The same on the calling thread only: for work already split across the pool.
void gemm_serial(const PackA& a, const float* b, long brs, long bcs, float* c, long ldc, long M, long N, long K, bool accumulate);

// Which micro-kernel runs: "avx512", "avx2-fma" or "generic".
const char* gemm_isa();

}  // namespace lumen
