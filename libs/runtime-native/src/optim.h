// Optimizer updates (torch.optim's float32 arithmetic, one rounding per operation) and the
// squared gradient norm, element-wise over one variable, on the pool.
#pragma once

namespace lumen {

struct SgdHyper {
  float lr, momentum, weight_decay, grad_scale;
};
struct AdamHyper {
  float step_size, beta1, beta2, bias_correction2_sqrt, epsilon, weight_decay, grad_scale;
};

// out_w = w - lr·d, d = g·scale + wd·w, with momentum: out_buf = mu·buf + d and d = out_buf.
void sgd_update(long n, const float* w, const float* g, const float* buf, float* out_w, float* out_buf, const SgdHyper& h);
void adam_update(long n, const float* w, const float* g, const float* m, const float* v, float* out_w, float* out_m, float* out_v,
                 const AdamHyper& h);
double sum_squares(long n, const float* x);
// out[c] = Σ_r x[r, c] (a bias gradient: the sum over every axis but the last).
void sum_rows(long rows, long cols, const float* x, float* out);

}  // namespace lumen
