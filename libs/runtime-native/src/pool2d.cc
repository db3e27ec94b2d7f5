#include "pool2d.h"

#include <algorithm>
#include <vector>

#include "pool.h"

namespace lumen {

void max_pool_grad(const PoolGeometry& g, const float* x, const float* y, const float* dy, float* dx) {
  const long C = g.channels;
  std::fill(dx, dx + g.batch * g.in_h * g.in_w * C, 0.f);
  // Threads take channel slices: windows overlap, channels never do.
  parallel_for(C, 8, [&](long c0, long c1) {
    std::vector<long> where(c1 - c0);
    for (long n = 0; n < g.batch; n++) {
      for (long oy = 0; oy < g.out_h; oy++) {
        const long y0 = oy * g.stride_h - g.pad_top;
        const long y_start = y0 < 0 ? y0 + ((-y0 + g.dilation_h - 1) / g.dilation_h) * g.dilation_h : y0;
        const long y_end = std::min(g.in_h, y0 + g.window_h);
        for (long ox = 0; ox < g.out_w; ox++) {
          const long x0 = ox * g.stride_w - g.pad_left;
          const long x_start = x0 < 0 ? x0 + ((-x0 + g.dilation_w - 1) / g.dilation_w) * g.dilation_w : x0;
          const long x_end = std::min(g.in_w, x0 + g.window_w);
          const long out = ((n * g.out_h + oy) * g.out_w + ox) * C;
          std::fill(where.begin(), where.end(), -1L);
          for (long yy = y_start; yy < y_end; yy += g.dilation_h) {
            for (long xx = x_start; xx < x_end; xx += g.dilation_w) {
              const long base = ((n * g.in_h + yy) * g.in_w + xx) * C;
              for (long c = c0; c < c1; c++) {
                if (where[c - c0] < 0 && x[base + c] == y[out + c]) where[c - c0] = base + c;
              }
            }
          }
          for (long c = c0; c < c1; c++) {
            if (where[c - c0] >= 0) dx[where[c - c0]] += dy[out + c];
          }
        }
      }
    }
  });
}

}  // namespace lumen
