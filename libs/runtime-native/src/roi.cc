#include "roi.h"

#include <algorithm>
#include <cstring>

#include "pool.h"

namespace lumen {

namespace {

// dst[c] += w·src[c] for c < C: a separate multiply and add (no fused multiply-add), as the
// wasm SIMD kernels of @lumen/roi-pool compute it.
inline void axpy(float w, const float* __restrict src, float* __restrict dst, long C) {
  for (long c = 0; c < C; c++) dst[c] += w * src[c];
}

}  // namespace

void roi_resample(const RoiPlan& p, const float* map, float* out) {
  const long C = p.channels;
  const long cell_floats = C;
  const long roi_floats = p.out_h * p.out_w * C;
  const long image_floats = p.height * p.width * C;
  parallel_for(p.rois, 4, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* base = map + p.image[r] * image_floats;
      float* dst = out + static_cast<long>(p.rows[r]) * roi_floats;
      for (long i = 0; i < p.out_h; i++) {
        const long ey = r * p.out_h + i;
        for (long j = 0; j < p.out_w; j++, dst += cell_floats) {
          const long ex = r * p.out_w + j;
          std::memset(dst, 0, sizeof(float) * C);
          for (long a = p.y_start[ey]; a < p.y_start[ey + 1]; a++) {
            const float* row = base + p.y_index[a] * p.width * C;
            const double wy = p.y_weight[a];
            for (long b = p.x_start[ex]; b < p.x_start[ex + 1]; b++) {
              axpy(static_cast<float>(wy * p.x_weight[b]), row + p.x_index[b] * C, dst, C);
            }
          }
        }
      }
    }
  });
}

void roi_resample_grad(const RoiPlan& p, const float* dy, float* dmap) {
  const long C = p.channels;
  const long roi_floats = p.out_h * p.out_w * C;
  const long image_floats = p.height * p.width * C;
  std::memset(dmap, 0, sizeof(float) * p.batch * image_floats);
  // Channel groups of 16 floats (a cache line): threads never write the same line.
  const long group = 16;
  const long groups = (C + group - 1) / group;
  parallel_for(groups, 1, [&](long g0, long g1) {
    const long c0 = g0 * group, width = std::min(C, g1 * group) - c0;
    for (long r = 0; r < p.rois; r++) {
      float* base = dmap + p.image[r] * image_floats + c0;
      const float* src = dy + static_cast<long>(p.rows[r]) * roi_floats + c0;
      for (long i = 0; i < p.out_h; i++) {
        const long ey = r * p.out_h + i;
        for (long j = 0; j < p.out_w; j++, src += C) {
          const long ex = r * p.out_w + j;
          for (long a = p.y_start[ey]; a < p.y_start[ey + 1]; a++) {
            float* row = base + p.y_index[a] * p.width * C;
            const double wy = p.y_weight[a];
            for (long b = p.x_start[ex]; b < p.x_start[ex + 1]; b++) {
              axpy(static_cast<float>(wy * p.x_weight[b]), src, row + p.x_index[b] * C, width);
            }
          }
        }
      }
    }
  });
}

}  // namespace lumen
