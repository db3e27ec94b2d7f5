// Depthwise 2-D convolutions with channel multiplier 1 in NHWC, filters [kH, kW, C, 1]
// (TensorFlow.js layouts): forward (with bias and activation), input gradient and filter
// gradient. Direct loops, vectorised over channels; geometry as conv.h's with in_c == out_c.
#pragma once
#include "conv.h"

namespace lumen {

// out[n, oy, ox, c] = Σ_{i,j} x[n, oy·sh + i·dh − pt, ox·sw + j·dw − pl, c] · w[i, j, c], then bias and activation.
void depthwise_conv2d(const ConvGeometry& g, const float* x, const float* w, float* out, const Epilogue& epilogue);
// dx[n, y, x, c] = Σ over the (i, j, oy, ox) with y = oy·sh + i·dh − pt, x = ox·sw + j·dw − pl of dy[n, oy, ox, c] · w[i, j, c].
void depthwise_conv2d_backprop_input(const ConvGeometry& g, const float* dy, const float* w, float* dx);
// dw[i, j, c] = Σ_{n, oy, ox} x[n, oy·sh + i·dh − pt, ox·sw + j·dw − pl, c] · dy[n, oy, ox, c] (float64 across rows).
void depthwise_conv2d_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dw);

}  // namespace lumen
