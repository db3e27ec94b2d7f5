// Max-pool input gradient in NHWC: each window's dy goes to the window's first maximum
// (row-major scan, padding excluded), as tfjs's cpu backend does.
#pragma once

namespace lumen {

struct PoolGeometry {
  long batch, in_h, in_w, channels, out_h, out_w, stride_h, stride_w, dilation_h, dilation_w, window_h, window_w, pad_top, pad_left;
};

void max_pool_grad(const PoolGeometry& g, const float* x, const float* y, const float* dy, float* dx);

}  // namespace lumen
