#include "batchnorm.h"

#include <cmath>
#include <vector>

#include "pool.h"

namespace lumen {

namespace {

constexpr long kRowGrain = 1024;

}  // namespace

void batch_norm_training(long rows, long channels, const float* x, const float* gamma, const float* beta, float eps, float* y,
                         float* xhat, float* mean, float* var, float* invstd) {
  const long C = channels;
  std::vector<double> sums = ordered_column_sums(rows, C, kRowGrain, [&](long r, double* acc) {
    const float* row = x + r * C;
    for (long c = 0; c < C; c++) acc[c] += row[c];
  });
  for (long c = 0; c < C; c++) mean[c] = static_cast<float>(sums[c] / rows);
  // Two passes (centred squares), as torch: no cancellation when |mean| >> std.
  sums = ordered_column_sums(rows, C, kRowGrain, [&](long r, double* acc) {
    const float* row = x + r * C;
    for (long c = 0; c < C; c++) {
      const double d = static_cast<double>(row[c]) - mean[c];
      acc[c] += d * d;
    }
  });
  for (long c = 0; c < C; c++) {
    var[c] = static_cast<float>(sums[c] / rows);
    invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
  }
  parallel_for(rows, kRowGrain, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* in = x + r * C;
      float* h = xhat + r * C;
      float* out = y + r * C;
      for (long c = 0; c < C; c++) {
        const float n = (in[c] - mean[c]) * invstd[c];
        h[c] = n;
        out[c] = n * gamma[c] + beta[c];
      }
    }
  });
}

void batch_norm_grad(long rows, long channels, const float* dy, const float* xhat, const float* gamma, const float* invstd, float* dx,
                     float* dgamma, float* dbeta) {
  const long C = channels;
  // [Σdy | Σdy·x̂] per channel.
  const std::vector<double> sums = ordered_column_sums(rows, 2 * C, kRowGrain, [&](long r, double* acc) {
    const float* g = dy + r * C;
    const float* h = xhat + r * C;
    for (long c = 0; c < C; c++) {
      acc[c] += g[c];
      acc[C + c] += static_cast<double>(g[c]) * h[c];
    }
  });
  std::vector<float> sum_dy(C), sum_dy_xhat(C), scale(C);
  const float n = static_cast<float>(rows);
  for (long c = 0; c < C; c++) {
    sum_dy[c] = static_cast<float>(sums[c]);
    sum_dy_xhat[c] = static_cast<float>(sums[C + c]);
    dbeta[c] = sum_dy[c];
    dgamma[c] = sum_dy_xhat[c];
    scale[c] = gamma[c] * invstd[c] / n;
  }
  parallel_for(rows, kRowGrain, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* g = dy + r * C;
      const float* h = xhat + r * C;
      float* out = dx + r * C;
      for (long c = 0; c < C; c++) out[c] = scale[c] * (n * g[c] - sum_dy[c] - h[c] * sum_dy_xhat[c]);
    }
  });
}

}  // namespace lumen
