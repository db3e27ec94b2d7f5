// 2-D convolutions in NHWC with HWIO filters (TensorFlow.js layouts), as GEMMs whose A
// operand is packed straight from the image: forward, input gradient and filter gradient.
#pragma once
#include "gemm.h"

namespace lumen {

struct ConvGeometry {
  long batch, in_h, in_w, in_c;
  long out_h, out_w, out_c;
  long k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
  long pixels() const { return batch * out_h * out_w; }
  long taps() const { return k_h * k_w * in_c; }
  bool pointwise() const { return k_h == 1 && k_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_left == 0; }
};

// out[P, O] = patches(x)[P, taps] · w[taps, O], then bias and activation.
void conv2d(const ConvGeometry& g, const float* x, const float* w, float* out, const Epilogue& epilogue);
// dx = col2im(dy[P, O] · wᵀ[O, taps]).
void conv2d_backprop_input(const ConvGeometry& g, const float* dy, const float* w, float* dx);
// dw[taps, O] = patches(x)ᵀ[taps, P] · dy[P, O].
void conv2d_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dw);

}  // namespace lumen
