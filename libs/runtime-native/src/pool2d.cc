#include "pool2d.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "pool.h"

namespace lumen {

// Two passes, both parallel over rows with whole pixels (all channels) per thread: first
// each window's winner per channel (its first maximum: the scan is row-major, so the least
// pixel index holding the max), then each input pixel gathers the dy of the windows it won.
// Gathering writes every dx element once, so threads never share an output, and it adds the
// winners' dy in window order (oy, then ox), the order a scatter over windows would. The
// inner loops are branch-free selects over channels, which the compiler vectorizes.
namespace {

constexpr int32_t kNone = std::numeric_limits<int32_t>::max();

// win[c] = pixel where in[c] is the window's max and no earlier pixel was.
void first_matches(const float* __restrict in, const float* __restrict top, int32_t pixel, int32_t* __restrict win, long C) {
  for (long c = 0; c < C; c++) {
    const int32_t candidate = in[c] == top[c] ? pixel : kNone;
    win[c] = candidate < win[c] ? candidate : win[c];
  }
}

// d[c] += grad[c] for the channels whose window `pixel` won.
void add_won(const int32_t* __restrict win, const float* __restrict grad, int32_t pixel, float* __restrict d, long C) {
  for (long c = 0; c < C; c++) {
    const float g = grad[c];
    d[c] += win[c] == pixel ? g : 0.f;
  }
}

}  // namespace

void max_pool_grad(const PoolGeometry& g, const float* x, const float* y, const float* dy, float* dx) {
  const long C = g.channels;
  std::vector<int32_t> winner(static_cast<size_t>(g.batch * g.out_h * g.out_w * C));

  parallel_for(g.batch * g.out_h, 1, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const long n = r / g.out_h, oy = r % g.out_h;
      const long y0 = oy * g.stride_h - g.pad_top;
      const long y_start = y0 < 0 ? y0 + ((-y0 + g.dilation_h - 1) / g.dilation_h) * g.dilation_h : y0;
      const long y_end = std::min(g.in_h, y0 + g.window_h);
      for (long ox = 0; ox < g.out_w; ox++) {
        const long x0 = ox * g.stride_w - g.pad_left;
        const long x_start = x0 < 0 ? x0 + ((-x0 + g.dilation_w - 1) / g.dilation_w) * g.dilation_w : x0;
        const long x_end = std::min(g.in_w, x0 + g.window_w);
        const long out = (r * g.out_w + ox) * C;
        int32_t* win = winner.data() + out;
        std::fill(win, win + C, kNone);
        for (long yy = y_start; yy < y_end; yy += g.dilation_h) {
          for (long xx = x_start; xx < x_end; xx += g.dilation_w) {
            const int32_t pixel = static_cast<int32_t>(yy * g.in_w + xx);
            first_matches(x + ((n * g.in_h + yy) * g.in_w + xx) * C, y + out, pixel, win, C);
          }
        }
      }
    }
  });

  // The windows holding input row iy: y0 <= iy <= y0 + window_h - 1 with y0 = oy*stride - pad.
  auto first_window = [](long i, long pad, long window, long stride) {
    const long from = i + pad - window + 1;
    return from <= 0 ? 0L : (from + stride - 1) / stride;
  };
  parallel_for(g.batch * g.in_h, 1, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const long n = r / g.in_h, iy = r % g.in_h;
      const long oy_lo = first_window(iy, g.pad_top, g.window_h, g.stride_h);
      const long oy_hi = std::min(g.out_h - 1, (iy + g.pad_top) / g.stride_h);
      float* row = dx + r * g.in_w * C;
      std::fill(row, row + g.in_w * C, 0.f);
      for (long ix = 0; ix < g.in_w; ix++) {
        const int32_t pixel = static_cast<int32_t>(iy * g.in_w + ix);
        const long ox_lo = first_window(ix, g.pad_left, g.window_w, g.stride_w);
        const long ox_hi = std::min(g.out_w - 1, (ix + g.pad_left) / g.stride_w);
        float* d = row + ix * C;
        for (long oy = oy_lo; oy <= oy_hi; oy++) {
          for (long ox = ox_lo; ox <= ox_hi; ox++) {
            const long out = ((n * g.out_h + oy) * g.out_w + ox) * C;
            add_won(winner.data() + out, dy + out, pixel, d, C);
          }
        }
      }
    }
  });
}

}  // namespace lumen
