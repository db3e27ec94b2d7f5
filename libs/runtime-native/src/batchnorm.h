// BatchNorm2d in training mode over every axis but the last (channels), as torch computes
// it: biased batch variance for the normalisation, and its closed-form gradient.
#pragma once

namespace lumen {

// y = x̂·γ + β (then max(y, 0), NaN kept, when `relu`), x̂ = (x - mean)·invstd, invstd =
// 1/sqrt(var + eps); also returns mean, var (biased), invstd.
void batch_norm_training(long rows, long channels, const float* x, const float* gamma, const float* beta, float eps, bool relu, float* y,
                         float* xhat, float* mean, float* var, float* invstd);
// dx = γ·invstd/n · (n·dy - Σdy - x̂·Σ(dy·x̂)), dγ = Σ(dy·x̂), dβ = Σdy; with `relu_out` (a relu
// BatchNorm's y, else null) dy is taken as 0 where relu_out <= 0, as ReLU's gradient.
void batch_norm_grad(long rows, long channels, const float* dy, const float* xhat, const float* gamma, const float* invstd,
                     const float* relu_out, float* dx, float* dgamma, float* dbeta);

}  // namespace lumen
