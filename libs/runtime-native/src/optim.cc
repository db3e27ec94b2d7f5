#include "optim.h"

#include <cmath>
#include <vector>

#include "pool.h"

namespace lumen {

constexpr long kGrain = 1 << 16;

void sgd_update(long n, const float* w, const float* g, const float* buf, float* out_w, float* out_buf, const SgdHyper& h) {
  parallel_for(n, kGrain, [&](long begin, long end) {
    for (long i = begin; i < end; i++) {
      const float scaled = g[i] * h.grad_scale;
      const float decay = w[i] * h.weight_decay;
      float d = scaled + decay;
      if (buf != nullptr) {
        const float kept = buf[i] * h.momentum;
        d = kept + d;
        out_buf[i] = d;
      }
      const float step = d * h.lr;
      out_w[i] = w[i] - step;
    }
  });
}

void adam_update(long n, const float* w, const float* g, const float* m, const float* v, float* out_w, float* out_m, float* out_v,
                 const AdamHyper& h) {
  const float one_minus_b1 = 1.f - h.beta1, one_minus_b2 = 1.f - h.beta2;
  parallel_for(n, kGrain, [&](long begin, long end) {
    for (long i = begin; i < end; i++) {
      const float scaled = g[i] * h.grad_scale;
      const float decay = w[i] * h.weight_decay;
      const float d = scaled + decay;
      const float m1 = m[i] * h.beta1 + d * one_minus_b1;
      const float dd = d * d;
      const float v1 = v[i] * h.beta2 + dd * one_minus_b2;
      const float denom = std::sqrt(v1) / h.bias_correction2_sqrt + h.epsilon;
      const float step = h.step_size * m1;
      out_m[i] = m1;
      out_v[i] = v1;
      out_w[i] = w[i] - step / denom;
    }
  });
}

double sum_squares(long n, const float* x) {
  std::vector<double> partial(pool().size(), 0.0);
  const int parts = parallel_parts(n, kGrain, [&](int part, long begin, long end) {
    double s = 0;
    for (long i = begin; i < end; i++) s += static_cast<double>(x[i]) * x[i];
    partial[part] = s;
  });
  double total = 0;
  for (int p = 0; p < parts; p++) total += partial[p];
  return total;
}

void sum_rows(long rows, long cols, const float* x, float* out) {
  if (cols >= 64) {
    // Column slices per thread: every row is read once, in runs of the slice.
    parallel_for(cols, 32, [&](long c0, long c1) {
      std::vector<double> acc(c1 - c0, 0.0);
      for (long r = 0; r < rows; r++) {
        const float* row = x + r * cols;
        for (long c = c0; c < c1; c++) acc[c - c0] += row[c];
      }
      for (long c = c0; c < c1; c++) out[c] = static_cast<float>(acc[c - c0]);
    });
    return;
  }
  const std::vector<double> total = ordered_column_sums(rows, cols, 4096, [&](long r, double* acc) {
    const float* row = x + r * cols;
    for (long c = 0; c < cols; c++) acc[c] += row[c];
  });
  for (long c = 0; c < cols; c++) out[c] = static_cast<float>(total[c]);
}

}  // namespace lumen
