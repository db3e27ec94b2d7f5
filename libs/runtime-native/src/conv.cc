#include "conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "pool.h"

namespace lumen {

namespace {

// A(i, k) = patch value k = (kh, kw, c) of output pixel i. Each row copies runs of
// contiguous channels, stepping (kh, kw, c) along instead of dividing per run: with a
// stem's 3 channels a run is 3 floats, and divisions would cost more than the copy.
struct PatchesA final : PackA {
  const ConvGeometry& g;
  const float* x;
  PatchesA(const ConvGeometry& g, const float* x) : g(g), x(x) {}
  bool direct(long i, long k, int kc, long columns, DirectA* d) const override;
  void pack(float* dst, long i, int mr, long k, int kc) const override {
    const long C = g.in_c, rowTaps = g.k_w * C;
    const long kh0 = k / rowTaps, kw0 = (k % rowTaps) / C, c0 = k % C;
    for (int r = 0; r < MR; r++) {
      if (r >= mr) {
        for (int q = 0; q < kc; q++) dst[q * MR + r] = 0.f;
        continue;
      }
      const long pixel = i + r;
      const long n = pixel / (g.out_h * g.out_w), rest = pixel % (g.out_h * g.out_w);
      const long y0 = (rest / g.out_w) * g.stride_h - g.pad_top, x0 = (rest % g.out_w) * g.stride_w - g.pad_left;
      const float* image = x + n * g.in_h * g.in_w * C;
      // Undilated and wholly inside along x, a window row's k_w * C taps are one run.
      const bool whole_rows = g.dilation_w == 1 && x0 >= 0 && x0 + g.k_w <= g.in_w;
      long q = 0, kh = kh0, kw = kw0, c = c0;
      while (q < kc) {
        const long run = std::min<long>(whole_rows ? rowTaps - kw * C - c : C - c, kc - q);
        const long y = y0 + kh * g.dilation_h, xx = x0 + kw * g.dilation_w;
        float* d = dst + q * MR + r;
        if (y < 0 || y >= g.in_h || xx < 0 || xx >= g.in_w) {
          for (long t = 0; t < run; t++) d[t * MR] = 0.f;
        } else {
          const float* s = image + (y * g.in_w + xx) * C + c;
          for (long t = 0; t < run; t++) d[t * MR] = s[t];
        }
        q += run;
        c = 0;
        if (whole_rows || ++kw == g.k_w) {
          kw = 0;
          kh++;
        }
      }
    }
  }
};

// Six output pixels in one row whose windows lie inside the image along x need no
// packing: each window row's k_w * C taps are consecutive floats, and pixel r's are
// r * stride_w * C floats further on (DirectA). Windows that reach into the padding, or
// slivers that wrap to the next output row, are packed.
bool PatchesA::direct(long i, long k, int kc, long /*columns*/, DirectA* d) const {
  if (g.dilation_w != 1) return false;
  const long plane = g.out_h * g.out_w;
  const long n = i / plane, rest = i % plane, oy = rest / g.out_w, ox = rest % g.out_w;
  if (ox + MR > g.out_w) return false;
  const long x0 = ox * g.stride_w - g.pad_left;
  if (x0 < 0 || x0 + (MR - 1) * g.stride_w + g.k_w > g.in_w) return false;
  const long C = g.in_c, rowTaps = g.k_w * C, y0 = oy * g.stride_h - g.pad_top;
  const float* image = x + n * g.in_h * g.in_w * C;
  d->runs = 0;
  for (long t = k, end = k + kc; t < end;) {
    const long kh = t / rowTaps, within = t % rowTaps, y = y0 + kh * g.dilation_h;
    if (d->runs == DirectA::MAX_RUNS || y < 0 || y >= g.in_h) return false;
    const long length = std::min(rowTaps - within, end - t);
    d->run[d->runs++] = ARun{image + (y * g.in_w + x0) * C + within, g.stride_w * C, 1, length};
    t += length;
  }
  return true;
}

const float kZero = 0.f;

// Appends a run, merging zeros with zeros before it; false when runs are used up.
bool append(DirectA* d, const ARun& run) {
  if (run.length == 0) return true;
  if (run.rs == 0 && d->runs > 0 && d->run[d->runs - 1].rs == 0) {
    d->run[d->runs - 1].length += run.length;
    return true;
  }
  if (d->runs == DirectA::MAX_RUNS) return false;
  d->run[d->runs++] = run;
  return true;
}

// A(i, k) = patch value i = (kh, kw, c) of output pixel k: the transposed patch matrix.
// Packing is most of a filter gradient's time when channels are few (a stem's 3, 16), so
// pixels whose whole window lies inside the image read each tap at a fixed offset from
// the window's corner; only windows over the border check every tap.
struct PatchesTransposedA final : PackA {
  const ConvGeometry& g;
  const float* x;
  PatchesTransposedA(const ConvGeometry& g, const float* x) : g(g), x(x) {}
  bool direct(long i, long k, int kc, long columns, DirectA* d) const override;
  void pack(float* dst, long i, int mr, long k, int kc) const override {
    const long C = g.in_c, rowTaps = g.k_w * C;
    long dy_[MR], dx_[MR], dc[MR], offset[MR];
    long reach_y = 0, reach_x = 0;
    for (int r = 0; r < mr; r++) {
      const long tap = i + r;
      dy_[r] = (tap / rowTaps) * g.dilation_h;
      dx_[r] = ((tap % rowTaps) / C) * g.dilation_w;
      dc[r] = tap % C;
      offset[r] = (dy_[r] * g.in_w + dx_[r]) * C + dc[r];
      reach_y = std::max(reach_y, dy_[r]);
      reach_x = std::max(reach_x, dx_[r]);
    }
    const long plane = g.out_h * g.out_w;
    long n = k / plane, oy = (k % plane) / g.out_w, ox = k % g.out_w;
    for (int q = 0; q < kc; q++, dst += MR) {
      const long y0 = oy * g.stride_h - g.pad_top, x0 = ox * g.stride_w - g.pad_left;
      const float* image = x + n * g.in_h * g.in_w * C;
      int r = 0;
      if (y0 >= 0 && x0 >= 0 && y0 + reach_y < g.in_h && x0 + reach_x < g.in_w) {
        const float* corner = image + (y0 * g.in_w + x0) * C;
        for (; r < mr; r++) dst[r] = corner[offset[r]];
      } else {
        for (; r < mr; r++) {
          const long y = y0 + dy_[r], xx = x0 + dx_[r];
          dst[r] = (y < 0 || y >= g.in_h || xx < 0 || xx >= g.in_w) ? 0.f : image[(y * g.in_w + xx) * C + dc[r]];
        }
      }
      for (; r < MR; r++) dst[r] = 0.f;
      if (++ox == g.out_w) {
        ox = 0;
        if (++oy == g.out_h) {
          oy = 0;
          n++;
        }
      }
    }
  }
};

// Six taps that are consecutive channels of one window position need no packing either:
// along the output pixels of a row their values are stride_w * C floats apart, and pixels
// whose tap falls in the padding read zeros. Those reads are gathers, repeated for every
// tile of columns: past 256 columns (a 1x1 conv to 1024 channels, say) packing once is cheaper.
bool PatchesTransposedA::direct(long i, long k, int kc, long columns, DirectA* d) const {
  const long C = g.in_c, rowTaps = g.k_w * C;
  if (columns > 256 || i % C + MR > C) return false;
  const long dy = (i / rowTaps) * g.dilation_h, dx = ((i % rowTaps) / C) * g.dilation_w, c = i % C;
  // Output columns whose tap column x = ox * stride_w - pad_left + dx is inside the image.
  const long shift = g.pad_left - dx;
  const long lo = std::min(g.out_w, shift <= 0 ? 0 : (shift + g.stride_w - 1) / g.stride_w);
  const long hi = std::max(lo, std::min(g.out_w, g.in_w - 1 + shift < 0 ? 0 : (g.in_w - 1 + shift) / g.stride_w + 1));
  const long plane = g.out_h * g.out_w;
  d->runs = 0;
  for (long p = k, end = k + kc; p < end;) {
    const long n = p / plane, oy = (p % plane) / g.out_w, ox = p % g.out_w;
    const long row_end = std::min(end, p + g.out_w - ox);
    const long y = oy * g.stride_h - g.pad_top + dy;
    if (y < 0 || y >= g.in_h) {
      if (!append(d, ARun{&kZero, 0, 0, row_end - p})) return false;
    } else {
      const long last = ox + (row_end - p);
      const long a = std::min(std::max(ox, lo), last), b = std::max(a, std::min(last, hi));
      const float* first = x + ((n * g.in_h + y) * g.in_w + (a * g.stride_w - shift)) * C + c;
      if (!append(d, ARun{&kZero, 0, 0, a - ox}) || !append(d, ARun{first, 1, g.stride_w * C, b - a}) ||
          !append(d, ARun{&kZero, 0, 0, last - b}))
        return false;
    }
    p = row_end;
  }
  return true;
}

}  // namespace

void conv2d(const ConvGeometry& g, const float* x, const float* w, float* out, const Epilogue& epilogue) {
  const long O = g.out_c;
  if (g.pointwise()) {
    gemm(StridedA(x, g.in_c, 1), w, O, 1, out, O, g.pixels(), O, g.in_c, false, epilogue);
  } else {
    gemm(PatchesA(g, x), w, O, 1, out, O, g.pixels(), O, g.taps(), false, epilogue);
  }
}

void conv2d_backprop_input(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  const long O = g.out_c, taps = g.taps(), P = g.pixels();
  if (g.pointwise()) {
    gemm(StridedA(dy, O, 1), w, 1, O, dx, g.in_c, P, g.in_c, O, false);
    return;
  }
  if (g.stride_h == 1 && g.stride_w == 1) {
    // With stride 1, dx is the forward convolution of dy (padded by the filter's reach
    // minus the forward's padding) with the filter turned 180 degrees and its channels
    // swapped: the same arithmetic as the column route below without the fold back into
    // dx, which costs as much as the GEMM when channels are few.
    std::vector<float> flipped(taps * O);
    for (long kh = 0; kh < g.k_h; kh++)
      for (long kw = 0; kw < g.k_w; kw++)
        for (long c = 0; c < g.in_c; c++)
          for (long o = 0; o < O; o++)
            flipped[((kh * g.k_w + kw) * O + o) * g.in_c + c] = w[(((g.k_h - 1 - kh) * g.k_w + (g.k_w - 1 - kw)) * g.in_c + c) * O + o];
    ConvGeometry t = g;
    t.in_h = g.out_h;
    t.in_w = g.out_w;
    t.in_c = O;
    t.out_h = g.in_h;
    t.out_w = g.in_w;
    t.out_c = g.in_c;
    t.pad_top = (g.k_h - 1) * g.dilation_h - g.pad_top;
    t.pad_left = (g.k_w - 1) * g.dilation_w - g.pad_left;
    conv2d(t, dy, flipped.data(), dx, Epilogue());
    return;
  }
  // Column gradients of a bounded number of output rows at a time, each folded back into
  // dx (a gather per input pixel, so threads never write the same element).
  std::fill(dx, dx + g.batch * g.in_h * g.in_w * g.in_c, 0.f);
  // The column buffer outlives the call: fresh pages cost more than the arithmetic here
  // (a new 38 MB buffer per call made a 128x128x64 input gradient 6x slower).
  const long rows_per_chunk = std::max<long>(1, (4L << 20) / std::max<long>(1, taps * g.out_w));
  thread_local std::vector<float> cols;
  const long C = g.in_c;
  for (long n = 0; n < g.batch; n++) {
    for (long oy0 = 0; oy0 < g.out_h; oy0 += rows_per_chunk) {
      const long oy1 = std::min(g.out_h, oy0 + rows_per_chunk);
      const long chunk = (oy1 - oy0) * g.out_w;
      cols.resize(chunk * taps);
      gemm(StridedA(dy + (n * g.out_h + oy0) * g.out_w * O, O, 1), w, 1, O, cols.data(), taps, chunk, taps, O, false);
      // Input rows these output rows touch.
      const long y_begin = std::max<long>(0, oy0 * g.stride_h - g.pad_top);
      const long y_end = std::min<long>(g.in_h, (oy1 - 1) * g.stride_h - g.pad_top + (g.k_h - 1) * g.dilation_h + 1);
      float* image = dx + n * g.in_h * g.in_w * C;
      const float* col = cols.data();  // in the workers, `cols` would name their own (empty) buffers
      parallel_for(y_end - y_begin, 1, [&](long a, long b) {
        for (long y = y_begin + a; y < y_begin + b; y++) {
          for (long kh = 0; kh < g.k_h; kh++) {
            const long t = y + g.pad_top - kh * g.dilation_h;
            if (t < 0 || t % g.stride_h != 0) continue;
            const long oy = t / g.stride_h;
            if (oy < oy0 || oy >= oy1) continue;
            for (long xx = 0; xx < g.in_w; xx++) {
              float* d = image + (y * g.in_w + xx) * C;
              for (long kw = 0; kw < g.k_w; kw++) {
                const long u = xx + g.pad_left - kw * g.dilation_w;
                if (u < 0 || u % g.stride_w != 0) continue;
                const long ox = u / g.stride_w;
                if (ox >= g.out_w) continue;
                const float* s = col + ((oy - oy0) * g.out_w + ox) * taps + (kh * g.k_w + kw) * C;
                for (long c = 0; c < C; c++) d[c] += s[c];
              }
            }
          }
        }
      });
    }
  }
}

namespace {

// A(i, k) = p[i * rs + k * cs], every sliver read in place (no packing): for a matrix the
// GEMM reads once, as a filter gradient's patch rows with few output channels.
struct InPlaceA final : PackA {
  const float* p;
  long rs, cs;
  InPlaceA(const float* p, long rs, long cs) : p(p), rs(rs), cs(cs) {}
  void pack(float* dst, long i, int mr, long k, int kc) const override { StridedA(p, rs, cs).pack(dst, i, mr, k, kc); }
  bool direct(long i, long k, int kc, long /*columns*/, DirectA* d) const override {
    d->runs = 1;
    d->run[0] = ARun{p + i * rs + k * cs, rs, cs, kc};
    return true;
  }
};

// Patch rows of output pixels [p0, p0 + count): col[q * taps + (kh, kw, c)], zeros in the
// padding; a window row inside the image is one copy of k_w * C floats.
void patch_rows(const ConvGeometry& g, const float* x, long p0, long count, float* col) {
  const long C = g.in_c, T = g.taps(), row = g.k_w * C, plane = g.out_h * g.out_w;
  long n = p0 / plane, oy = (p0 % plane) / g.out_w, ox = p0 % g.out_w;
  for (long q = 0; q < count; q++) {
    float* dst = col + q * T;
    const long y0 = oy * g.stride_h - g.pad_top, x0 = ox * g.stride_w - g.pad_left;
    const float* image = x + n * g.in_h * g.in_w * C;
    const bool whole_rows = g.dilation_w == 1 && x0 >= 0 && x0 + g.k_w <= g.in_w;
    for (long kh = 0; kh < g.k_h; kh++, dst += row) {
      const long y = y0 + kh * g.dilation_h;
      if (y < 0 || y >= g.in_h) {
        std::fill(dst, dst + row, 0.f);
      } else if (whole_rows) {
        std::memcpy(dst, image + (y * g.in_w + x0) * C, row * sizeof(float));
      } else {
        for (long kw = 0; kw < g.k_w; kw++) {
          const long xx = x0 + kw * g.dilation_w;
          if (xx < 0 || xx >= g.in_w) std::fill(dst + kw * C, dst + (kw + 1) * C, 0.f);
          else std::memcpy(dst + kw * C, image + (y * g.in_w + xx) * C, C * sizeof(float));
        }
      }
    }
    if (++ox == g.out_w) {
      ox = 0;
      if (++oy == g.out_h) {
        oy = 0;
        n++;
      }
    }
  }
}

// Below this many input channels the patch matrix's 6-tap slivers mostly straddle window
// positions, which PatchesTransposedA gathers element by element.
constexpr long kFewChannels = 32;
// Pixel groups of backprop_filter_by_chunks, at most.
constexpr long kGroups = 16;

// dw[size] = Σ over groups of sum_group(grp, out), each group's sum on one thread (a thread
// takes a run of consecutive groups), group 0 straight into dw and the others into scratch,
// then added into dw in group order: the split is the caller's, fixed by the shape, so the
// bits do not depend on the thread count.
template <typename SumGroup>
void sum_over_groups(long groups, long size, float* dw, const SumGroup& sum_group) {
  thread_local std::vector<float> partial;  // groups 1..
  partial.resize(static_cast<size_t>((groups - 1) * size));
  float* rest = partial.data();  // in the workers, `partial` would name their own (empty) buffers
  const int parts = static_cast<int>(std::min<long>(pool().size(), groups));
  pool().run(parts, [&](int part) {
    for (long grp = groups * part / parts; grp < groups * (part + 1) / parts; grp++) sum_group(grp, grp == 0 ? dw : rest + (grp - 1) * size);
  });
  parallel_for(size, 4096, [&](long begin, long end) {
    for (long grp = 1; grp < groups; grp++) {
      const float* s = rest + (grp - 1) * size;
      for (long i = begin; i < end; i++) dw[i] += s[i];
    }
  });
}

// dw = Σ over pixel groups of patchesᵀ · dy, each group built in cache-sized chunks of patch
// rows that the GEMM reads in place.
void backprop_filter_by_chunks(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const long T = g.taps(), O = g.out_c, P = g.pixels();
  // ~192 KiB of patch rows, in whole KC-sized steps of the GEMM where they fit.
  const long chunk = std::max<long>(256, (49152 / T) / 256 * 256);
  const long groups = std::min<long>(kGroups, (P + chunk - 1) / chunk);
  sum_over_groups(groups, T * O, dw, [&](long grp, float* sum) {
    thread_local std::vector<float> col;
    col.resize(static_cast<size_t>(chunk * T));
    const long begin = P * grp / groups, end = P * (grp + 1) / groups;
    for (long p0 = begin; p0 < end; p0 += chunk) {
      const long count = std::min(chunk, end - p0);
      patch_rows(g, x, p0, count, col.data());
      gemm_serial(InPlaceA(col.data(), 1, T), dy + p0 * O, O, 1, sum, O, T, O, count, p0 > begin);
    }
    if (end == begin) std::fill(sum, sum + T * O, 0.f);
  });
}

// A's columns from k0 on: one pixel group of a filter gradient's patch matrix.
struct ColumnsFrom final : PackA {
  const PackA& a;
  long k0;
  ColumnsFrom(const PackA& a, long k0) : a(a), k0(k0) {}
  void pack(float* dst, long i, int mr, long k, int kc) const override { a.pack(dst, i, mr, k0 + k, kc); }
  bool direct(long i, long k, int kc, long columns, DirectA* d) const override { return a.direct(i, k0 + k, kc, columns, d); }
};

// At least this many pixels per group of gemm_by_pixel_groups, and at most this many groups;
// the count is a power of two, so that 2, 4 or 8 threads share the groups evenly.
constexpr long kGroupPixels = 1024;
constexpr long kMaxPixelGroups = 8;

// dw[M, O] = Σ over pixels k of A(·, k) · dy(k, ·), the pixels split into a number of groups
// fixed by the pixel count alone, each one whole GEMM (sum_over_groups). Split by rows of dw
// instead, every thread would pack all of dy; by pixels, each packs and reads only its share
// (2 threads: 5-10% faster from 8k pixels).
void gemm_by_pixel_groups(const PackA& a, const float* dy, float* dw, long M, long O, long P) {
  long groups = 1;
  while (groups < kMaxPixelGroups && 2 * groups * kGroupPixels <= P) groups *= 2;
  if (groups == 1) {
    gemm(a, dy, O, 1, dw, O, M, O, P, false);
    return;
  }
  sum_over_groups(groups, M * O, dw, [&](long grp, float* sum) {
    const long begin = P * grp / groups, end = P * (grp + 1) / groups;
    gemm_serial(ColumnsFrom(a, begin), dy + begin * O, O, 1, sum, O, M, O, end - begin, false);
  });
}

}  // namespace

void conv2d_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const long O = g.out_c, P = g.pixels();
  if (g.pointwise()) {
    gemm_by_pixel_groups(StridedA(x, 1, g.in_c), dy, dw, g.in_c, O, P);
  } else if (g.in_c < kFewChannels && P > 0) {
    backprop_filter_by_chunks(g, x, dy, dw);
  } else {
    gemm_by_pixel_groups(PatchesTransposedA(g, x), dy, dw, g.taps(), O, P);
  }
}

}  // namespace lumen
