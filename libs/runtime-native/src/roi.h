// RoI resampling in NHWC: each output cell (r, i, j) of a RoI is a weighted sum of feature
// map pixels, with weights that factor into a row weight and a column weight (RoIAlign's
// bilinear samples averaged over a bin, crop_and_resize's samples). The plan holds them as
// compressed rows: for output row e = r·outH + i, map rows yIndex[yStart[e]..yStart[e+1])
// with weights yWeight; the same for columns.
#pragma once

#include <cstdint>

namespace lumen {

struct RoiPlan {
  long batch, height, width, channels;  // the map [N, H, W, C]
  long rois, out_h, out_w;
  const int32_t* image;    // [rois]: the map image of each RoI
  const int32_t* rows;     // [rois]: the output row (RoI slot) each RoI is written to
  const int32_t* y_start;  // [rois·out_h + 1]
  const int32_t* y_index;
  const double* y_weight;
  const int32_t* x_start;  // [rois·out_w + 1]
  const int32_t* x_index;
  const double* x_weight;
};

// out[rows[r], i, j, :] = Σ_a Σ_b yWeight[a]·xWeight[b]·map[image[r], yIndex[a], xIndex[b], :].
// Each term is one float32 product (the weight product rounded to float32) added in plan order.
void roi_resample(const RoiPlan& p, const float* map, float* out);

// The transpose, into a zeroed-by-this-call dmap: dmap[image[r], yIndex[a], xIndex[b], :] +=
// yWeight[a]·xWeight[b]·dy[rows[r], i, j, :], RoI by RoI in plan order (threads split the
// channels, so the sums do not depend on the thread count).
void roi_resample_grad(const RoiPlan& p, const float* dy, float* dmap);

}  // namespace lumen
