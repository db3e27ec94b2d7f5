// Node-API surface of the kernels. Every tensor argument is a Float32Array (in practice a
// view of the wasm backend's heap), so the kernels read and write tfjs's own memory.
#include <node_api.h>

#include <string>
#include <vector>

#include "conv.h"
#include "depthwise.h"
#include "elementwise.h"
#include "gemm.h"
#include "optim.h"
#include "peak.h"
#include "batchnorm.h"
#include "pool2d.h"
#include "roi.h"
#include "pool.h"

namespace {

struct ArgError {
  std::string message;
};

#define NAPI_OK(call)                                   \
  do {                                                  \
    if ((call) != napi_ok) throw ArgError{#call " failed"}; \
  } while (0)

float* floats(napi_env env, napi_value value, const char* name, bool optional = false) {
  napi_valuetype type;
  NAPI_OK(napi_typeof(env, value, &type));
  if (optional && (type == napi_null || type == napi_undefined)) return nullptr;
  bool is_typed = false;
  NAPI_OK(napi_is_typedarray(env, value, &is_typed));
  if (!is_typed) throw ArgError{std::string(name) + " must be a Float32Array"};
  napi_typedarray_type kind;
  size_t length;
  void* data;
  NAPI_OK(napi_get_typedarray_info(env, value, &kind, &length, &data, nullptr, nullptr));
  if (kind != napi_float32_array) throw ArgError{std::string(name) + " must be a Float32Array"};
  return static_cast<float*>(data);
}

std::vector<long> longs(napi_env env, napi_value value, const char* name, size_t count) {
  bool is_array = false;
  NAPI_OK(napi_is_array(env, value, &is_array));
  uint32_t length = 0;
  if (is_array) NAPI_OK(napi_get_array_length(env, value, &length));
  if (!is_array || length != count) throw ArgError{std::string(name) + " must be an array of " + std::to_string(count) + " integers"};
  std::vector<long> out(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    int64_t v;
    NAPI_OK(napi_get_element(env, value, i, &item));
    NAPI_OK(napi_get_value_int64(env, item, &v));
    out[i] = static_cast<long>(v);
  }
  return out;
}

long integer(napi_env env, napi_value value) {
  int64_t v;
  NAPI_OK(napi_get_value_int64(env, value, &v));
  return static_cast<long>(v);
}

lumen::ConvGeometry geometry(napi_env env, napi_value value) {
  const auto v = longs(env, value, "geometry", 15);
  return lumen::ConvGeometry{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
}

template <size_t N, typename F>
napi_value guarded(napi_env env, napi_callback_info info, F body) {
  size_t argc = N;
  napi_value argv[N == 0 ? 1 : N];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  try {
    if (argc < N) throw ArgError{"expected " + std::to_string(N) + " arguments"};
    return body(argv);
  } catch (const ArgError& e) {
    napi_throw_type_error(env, nullptr, ("@lumen/runtime-native: " + e.message).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, ("@lumen/runtime-native: " + std::string(e.what())).c_str());
  }
  return nullptr;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// matmul(a, b, c, [batch, M, N, K, transposeA, transposeB, aBatchStride, bBatchStride], bias, activation)
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded<6>(env, info, [&](napi_value* argv) {
    const float* a = floats(env, argv[0], "a");
    const float* b = floats(env, argv[1], "b");
    float* c = floats(env, argv[2], "c");
    const auto d = longs(env, argv[3], "dims", 8);
    lumen::Epilogue epilogue;
    epilogue.bias = floats(env, argv[4], "bias", true);
    epilogue.activation = static_cast<int>(integer(env, argv[5]));
    const long batch = d[0], M = d[1], N = d[2], K = d[3];
    const bool ta = d[4] != 0, tb = d[5] != 0;
    for (long i = 0; i < batch; i++) {
      const float* ab = a + i * d[6];
      const float* bb = b + i * d[7];
      lumen::StridedA A(ab, ta ? 1 : K, ta ? M : 1);
      lumen::gemm(A, bb, tb ? 1 : N, tb ? K : 1, c + i * M * N, N, M, N, K, false, epilogue);
    }
    return undefined(env);
  });
}

// conv2d(x, filter, out, geometry, bias, activation)
napi_value Conv2D(napi_env env, napi_callback_info info) {
  return guarded<6>(env, info, [&](napi_value* argv) {
    lumen::Epilogue epilogue;
    epilogue.bias = floats(env, argv[4], "bias", true);
    epilogue.activation = static_cast<int>(integer(env, argv[5]));
    lumen::conv2d(geometry(env, argv[3]), floats(env, argv[0], "x"), floats(env, argv[1], "filter"), floats(env, argv[2], "out"), epilogue);
    return undefined(env);
  });
}

// conv2dBackpropInput(dy, filter, dx, geometry)
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  return guarded<4>(env, info, [&](napi_value* argv) {
    lumen::conv2d_backprop_input(geometry(env, argv[3]), floats(env, argv[0], "dy"), floats(env, argv[1], "filter"), floats(env, argv[2], "dx"));
    return undefined(env);
  });
}

// conv2dBackpropFilter(x, dy, dw, geometry)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded<4>(env, info, [&](napi_value* argv) {
    lumen::conv2d_backprop_filter(geometry(env, argv[3]), floats(env, argv[0], "x"), floats(env, argv[1], "dy"), floats(env, argv[2], "dw"));
    return undefined(env);
  });
}

lumen::ConvGeometry depthwise_geometry(napi_env env, napi_value value) {
  const lumen::ConvGeometry g = geometry(env, value);
  if (g.in_c != g.out_c) throw ArgError{"depthwise kernels take channel multiplier 1 (geometry's inC == outC)"};
  return g;
}

// depthwiseConv2d(x, filter, out, geometry, bias, activation)
napi_value DepthwiseConv2D(napi_env env, napi_callback_info info) {
  return guarded<6>(env, info, [&](napi_value* argv) {
    lumen::Epilogue epilogue;
    epilogue.bias = floats(env, argv[4], "bias", true);
    epilogue.activation = static_cast<int>(integer(env, argv[5]));
    lumen::depthwise_conv2d(depthwise_geometry(env, argv[3]), floats(env, argv[0], "x"), floats(env, argv[1], "filter"), floats(env, argv[2], "out"), epilogue);
    return undefined(env);
  });
}

// depthwiseConv2dBackpropInput(dy, filter, dx, geometry)
napi_value DepthwiseConv2DBackpropInput(napi_env env, napi_callback_info info) {
  return guarded<4>(env, info, [&](napi_value* argv) {
    lumen::depthwise_conv2d_backprop_input(depthwise_geometry(env, argv[3]), floats(env, argv[0], "dy"), floats(env, argv[1], "filter"), floats(env, argv[2], "dx"));
    return undefined(env);
  });
}

// depthwiseConv2dBackpropFilter(x, dy, dw, geometry)
napi_value DepthwiseConv2DBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded<4>(env, info, [&](napi_value* argv) {
    lumen::depthwise_conv2d_backprop_filter(depthwise_geometry(env, argv[3]), floats(env, argv[0], "x"), floats(env, argv[1], "dy"), floats(env, argv[2], "dw"));
    return undefined(env);
  });
}

long length_of(napi_env env, napi_value value) {
  size_t length;
  NAPI_OK(napi_get_typedarray_info(env, value, nullptr, &length, nullptr, nullptr, nullptr));
  return static_cast<long>(length);
}

std::vector<double> doubles(napi_env env, napi_value value, const char* name, size_t count) {
  bool is_array = false;
  NAPI_OK(napi_is_array(env, value, &is_array));
  uint32_t length = 0;
  if (is_array) NAPI_OK(napi_get_array_length(env, value, &length));
  if (!is_array || length != count) throw ArgError{std::string(name) + " must be an array of " + std::to_string(count) + " numbers"};
  std::vector<double> out(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    NAPI_OK(napi_get_element(env, value, i, &item));
    NAPI_OK(napi_get_value_double(env, item, &out[i]));
  }
  return out;
}

// sgdUpdate(w, g, momentumBuffer | null, outW, outBuffer | null, [lr, momentum, weightDecay, gradScale])
napi_value SgdUpdate(napi_env env, napi_callback_info info) {
  return guarded<6>(env, info, [&](napi_value* argv) {
    const auto h = doubles(env, argv[5], "hyper", 4);
    const float* buf = floats(env, argv[2], "momentumBuffer", true);
    float* out_buf = floats(env, argv[4], "outBuffer", true);
    if ((buf == nullptr) != (out_buf == nullptr)) throw ArgError{"momentumBuffer and outBuffer go together"};
    lumen::sgd_update(length_of(env, argv[0]), floats(env, argv[0], "w"), floats(env, argv[1], "g"), buf, floats(env, argv[3], "outW"), out_buf,
                      lumen::SgdHyper{float(h[0]), float(h[1]), float(h[2]), float(h[3])});
    return undefined(env);
  });
}

// adamUpdate(w, g, m, v, outW, outM, outV, [stepSize, beta1, beta2, sqrt(biasCorrection2), epsilon, weightDecay, gradScale])
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  return guarded<8>(env, info, [&](napi_value* argv) {
    const auto h = doubles(env, argv[7], "hyper", 7);
    lumen::adam_update(length_of(env, argv[0]), floats(env, argv[0], "w"), floats(env, argv[1], "g"), floats(env, argv[2], "m"), floats(env, argv[3], "v"),
                       floats(env, argv[4], "outW"), floats(env, argv[5], "outM"), floats(env, argv[6], "outV"),
                       lumen::AdamHyper{float(h[0]), float(h[1]), float(h[2]), float(h[3]), float(h[4]), float(h[5]), float(h[6])});
    return undefined(env);
  });
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  return guarded<1>(env, info, [&](napi_value* argv) {
    napi_value result;
    NAPI_OK(napi_create_double(env, lumen::sum_squares(length_of(env, argv[0]), floats(env, argv[0], "x")), &result));
    return result;
  });
}

// sumRows(x, out, rows, cols)
napi_value SumRows(napi_env env, napi_callback_info info) {
  return guarded<4>(env, info, [&](napi_value* argv) {
    const long rows = integer(env, argv[2]), cols = integer(env, argv[3]);
    if (rows * cols > length_of(env, argv[0]) || cols > length_of(env, argv[1])) throw ArgError{"sumRows: arrays shorter than rows x cols"};
    lumen::sum_rows(rows, cols, floats(env, argv[0], "x"), floats(env, argv[1], "out"));
    return undefined(env);
  });
}

// The first element of an array of integers (a layout's rank).
long leading_integer(napi_env env, napi_value array) {
  bool is_array = false;
  NAPI_OK(napi_is_array(env, array, &is_array));
  if (!is_array) throw ArgError{"layout must be an array of integers"};
  napi_value first;
  NAPI_OK(napi_get_element(env, array, 0, &first));
  return integer(env, first);
}

// binary(op, a, b, out, [rank, ...outShape, ...aStrides, ...bStrides]): op 0 add, 1 sub, 2 mul, 3 div
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded<5>(env, info, [&](napi_value* argv) {
    const long op = integer(env, argv[0]);
    if (op < 0 || op > 3) throw ArgError{"binary: op must be 0 (add), 1 (sub), 2 (mul) or 3 (div)"};
    const long rank = leading_integer(env, argv[4]);
    if (rank < 1 || rank > lumen::kMaxRank) throw ArgError{"binary: rank must be from 1 to 6"};
    const auto v = longs(env, argv[4], "layout", 1 + 3 * rank);
    lumen::Broadcast layout{static_cast<int>(rank), {}, {}, {}};
    long n = 1, last_a = 0, last_b = 0;
    for (long d = 0; d < rank; d++) {
      layout.dims[d] = v[1 + d];
      layout.a_strides[d] = v[1 + rank + d];
      layout.b_strides[d] = v[1 + 2 * rank + d];
      if (layout.dims[d] < 1) throw ArgError{"binary: dims must be positive"};
      n *= layout.dims[d];
      last_a += (layout.dims[d] - 1) * layout.a_strides[d];
      last_b += (layout.dims[d] - 1) * layout.b_strides[d];
    }
    if (last_a >= length_of(env, argv[1]) || last_b >= length_of(env, argv[2]) || n > length_of(env, argv[3])) throw ArgError{"binary: arrays shorter than the layout reads / writes"};
    lumen::binary(static_cast<lumen::BinaryOp>(op), layout, floats(env, argv[1], "a"), floats(env, argv[2], "b"), floats(env, argv[3], "out"));
    return undefined(env);
  });
}

// sumAxes(x, out, [rank, ...xShape, ...outStrides])
napi_value SumAxes(napi_env env, napi_callback_info info) {
  return guarded<3>(env, info, [&](napi_value* argv) {
    const long rank = leading_integer(env, argv[2]);
    if (rank < 1 || rank > lumen::kMaxRank) throw ArgError{"sumAxes: rank must be from 1 to 6"};
    const auto v = longs(env, argv[2], "layout", 1 + 2 * rank);
    long n = 1, last = 0;
    for (long d = 0; d < rank; d++) {
      if (v[1 + d] < 1) throw ArgError{"sumAxes: dims must be positive"};
      n *= v[1 + d];
      last += (v[1 + d] - 1) * v[1 + rank + d];
    }
    const long out_size = length_of(env, argv[1]);
    if (n > length_of(env, argv[0]) || last >= out_size) throw ArgError{"sumAxes: arrays shorter than the layout reads / writes"};
    lumen::sum_axes(static_cast<int>(rank), v.data() + 1, v.data() + 1 + rank, floats(env, argv[0], "x"), floats(env, argv[1], "out"), out_size);
    return undefined(env);
  });
}

// unary(op, x, out, alpha): op 0 relu, 1 step, 2 hardswish, 3 hardsigmoid (alpha: step's only)
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded<4>(env, info, [&](napi_value* argv) {
    const long op = integer(env, argv[0]);
    if (op < 0 || op > 3) throw ArgError{"unary: op must be 0 (relu), 1 (step), 2 (hardswish) or 3 (hardsigmoid), got " + std::to_string(op)};
    const long n = length_of(env, argv[1]);
    if (n > length_of(env, argv[2])) throw ArgError{"unary: out shorter than x"};
    double alpha;
    NAPI_OK(napi_get_value_double(env, argv[3], &alpha));
    lumen::unary(static_cast<lumen::UnaryOp>(op), n, floats(env, argv[1], "x"), static_cast<float>(alpha), floats(env, argv[2], "out"));
    return undefined(env);
  });
}

// unaryGrad(op, dy, x, dx): dx = dy·op'(x), op 2 hardswish or 3 hardsigmoid (unary's codes)
napi_value UnaryGrad(napi_env env, napi_callback_info info) {
  return guarded<4>(env, info, [&](napi_value* argv) {
    const long op = integer(env, argv[0]);
    if (op != 2 && op != 3) throw ArgError{"unaryGrad: op must be 2 (hardswish) or 3 (hardsigmoid), got " + std::to_string(op)};
    const float* dy = floats(env, argv[1], "dy");
    const float* x = floats(env, argv[2], "x");
    float* dx = floats(env, argv[3], "dx");
    const long n = length_of(env, argv[2]);
    if (length_of(env, argv[1]) != n) throw ArgError{"unaryGrad: dy has " + std::to_string(length_of(env, argv[1])) + " values but x " + std::to_string(n)};
    if (length_of(env, argv[3]) < n) throw ArgError{"unaryGrad: dx is shorter than x"};
    lumen::unary_grad(static_cast<lumen::UnaryOp>(op), n, dy, x, dx);
    return undefined(env);
  });
}

// maxPoolGrad(x, y, dy, dx, [N, H, W, C, outH, outW, strideH, strideW, dilationH, dilationW, windowH, windowW, padTop, padLeft])
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded<5>(env, info, [&](napi_value* argv) {
    const auto v = longs(env, argv[4], "geometry", 14);
    const lumen::PoolGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
    lumen::max_pool_grad(g, floats(env, argv[0], "x"), floats(env, argv[1], "y"), floats(env, argv[2], "dy"), floats(env, argv[3], "dx"));
    return undefined(env);
  });
}

// batchNormTraining(x, gamma, beta, y, xhat, mean, variance, invstd, channels, epsilon, relu)
napi_value BatchNormTraining(napi_env env, napi_callback_info info) {
  return guarded<11>(env, info, [&](napi_value* argv) {
    const long C = integer(env, argv[8]);
    double eps;
    NAPI_OK(napi_get_value_double(env, argv[9], &eps));
    bool relu;
    if (napi_get_value_bool(env, argv[10], &relu) != napi_ok) throw ArgError{"batchNormTraining: relu must be a boolean"};
    const long size = length_of(env, argv[0]);
    if (C <= 0 || size % C != 0) throw ArgError{"batchNormTraining: x's length is not a multiple of channels"};
    lumen::batch_norm_training(size / C, C, floats(env, argv[0], "x"), floats(env, argv[1], "gamma"), floats(env, argv[2], "beta"), float(eps), relu,
                               floats(env, argv[3], "y"), floats(env, argv[4], "xhat"), floats(env, argv[5], "mean"), floats(env, argv[6], "variance"),
                               floats(env, argv[7], "invstd"));
    return undefined(env);
  });
}

// batchNormGrad(dy, xhat, gamma, invstd, dx, dgamma, dbeta, channels, y): y a relu BatchNorm's output, or null
napi_value BatchNormGrad(napi_env env, napi_callback_info info) {
  return guarded<9>(env, info, [&](napi_value* argv) {
    const long C = integer(env, argv[7]);
    const long size = length_of(env, argv[0]);
    if (C <= 0 || size % C != 0) throw ArgError{"batchNormGrad: dy's length is not a multiple of channels"};
    const float* relu_out = floats(env, argv[8], "y", true);
    if (relu_out != nullptr && length_of(env, argv[8]) != size) throw ArgError{"batchNormGrad: y and dy differ in length"};
    lumen::batch_norm_grad(size / C, C, floats(env, argv[0], "dy"), floats(env, argv[1], "xhat"), floats(env, argv[2], "gamma"), floats(env, argv[3], "invstd"),
                           relu_out, floats(env, argv[4], "dx"), floats(env, argv[5], "dgamma"), floats(env, argv[6], "dbeta"));
    return undefined(env);
  });
}

napi_value Isa(napi_env env, napi_callback_info) {
  napi_value s;
  napi_create_string_utf8(env, lumen::gemm_isa(), NAPI_AUTO_LENGTH, &s);
  return s;
}

// fmaPeak(iterations): GFLOP/s on every thread of the pool.
napi_value FmaPeak(napi_env env, napi_callback_info info) {
  return guarded<1>(env, info, [&](napi_value* argv) {
    const long iterations = integer(env, argv[0]);
    if (iterations < 1) throw ArgError{"fmaPeak: iterations must be a positive integer"};
    napi_value gflops;
    NAPI_OK(napi_create_double(env, lumen::fma_peak_gflops(iterations), &gflops));
    return gflops;
  });
}

// A typed array of `kind` (its data and length), or an ArgError naming `name` and `what`.
template <typename T>
T* typed(napi_env env, napi_value value, const char* name, napi_typedarray_type kind, const char* what, long* length) {
  bool is_typed = false;
  NAPI_OK(napi_is_typedarray(env, value, &is_typed));
  napi_typedarray_type actual;
  size_t n = 0;
  void* data = nullptr;
  if (is_typed) NAPI_OK(napi_get_typedarray_info(env, value, &actual, &n, &data, nullptr, nullptr));
  if (!is_typed || actual != kind) throw ArgError{std::string(name) + " must be " + what};
  *length = static_cast<long>(n);
  return static_cast<T*>(data);
}

// The RoI plan of roiResample/roiResampleGrad: argv[2] dims [N, H, W, C, rois, outH, outW],
// argv[3..10] image, rows, yStart, yIndex, yWeight, xStart, xIndex, xWeight. Every index is
// checked against the map and the RoI slots of `pooled` (the output, or its gradient), so no
// plan reads or writes outside them.
lumen::RoiPlan roi_plan(napi_env env, napi_value* argv, const char* fn, napi_value pooled) {
  const auto d = longs(env, argv[2], "dims", 7);
  lumen::RoiPlan p{d[0], d[1], d[2], d[3], d[4], d[5], d[6], nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  const std::string f(fn);
  for (long v : d) if (v < 0) throw ArgError{f + ": dims must be non-negative"};
  const long cell = p.out_h * p.out_w * p.channels;
  const long out_rows = cell > 0 ? length_of(env, pooled) / cell : 0;
  long n_image, n_rows, n_ys, n_yi, n_yw, n_xs, n_xi, n_xw;
  p.image = typed<int32_t>(env, argv[3], "image", napi_int32_array, "an Int32Array", &n_image);
  p.rows = typed<int32_t>(env, argv[4], "rows", napi_int32_array, "an Int32Array", &n_rows);
  p.y_start = typed<int32_t>(env, argv[5], "yStart", napi_int32_array, "an Int32Array", &n_ys);
  p.y_index = typed<int32_t>(env, argv[6], "yIndex", napi_int32_array, "an Int32Array", &n_yi);
  p.y_weight = typed<double>(env, argv[7], "yWeight", napi_float64_array, "a Float64Array", &n_yw);
  p.x_start = typed<int32_t>(env, argv[8], "xStart", napi_int32_array, "an Int32Array", &n_xs);
  p.x_index = typed<int32_t>(env, argv[9], "xIndex", napi_int32_array, "an Int32Array", &n_xi);
  p.x_weight = typed<double>(env, argv[10], "xWeight", napi_float64_array, "a Float64Array", &n_xw);
  if (n_image != p.rois || n_rows != p.rois) throw ArgError{f + ": image and rows need one entry per RoI (" + std::to_string(p.rois) + ")"};
  for (long r = 0; r < p.rois; r++) {
    if (p.image[r] < 0 || p.image[r] >= p.batch) throw ArgError{f + ": image[" + std::to_string(r) + "] is outside the map's batch"};
    if (p.rows[r] < 0 || p.rows[r] >= out_rows) throw ArgError{f + ": rows[" + std::to_string(r) + "] is outside the output's " + std::to_string(out_rows) + " RoIs"};
  }
  const auto axis = [&](const char* name, const int32_t* start, long n_start, const int32_t* index, long n_index, long n_weight, long entries, long size) {
    if (n_start != entries + 1 || start[0] != 0) throw ArgError{f + ": " + name + "Start must hold " + std::to_string(entries + 1) + " offsets from 0"};
    for (long e = 0; e < entries; e++) {
      if (start[e + 1] < start[e]) throw ArgError{f + ": " + name + "Start must not decrease"};
    }
    if (start[entries] != n_index || n_weight != n_index) throw ArgError{f + ": " + name + "Index and " + name + "Weight must hold " + std::to_string(start[entries]) + " entries"};
    for (long k = 0; k < n_index; k++) {
      if (index[k] < 0 || index[k] >= size) throw ArgError{f + ": " + name + "Index[" + std::to_string(k) + "] is outside the map"};
    }
  };
  axis("y", p.y_start, n_ys, p.y_index, n_yi, n_yw, p.rois * p.out_h, p.height);
  axis("x", p.x_start, n_xs, p.x_index, n_xi, n_xw, p.rois * p.out_w, p.width);
  return p;
}

// One RoI call: the plan checked against argv[pooled] (the output, or its gradient) and the
// other array against the map's dims, then `run`.
template <typename Run>
napi_value roi_call(napi_env env, napi_callback_info info, const char* fn, int pooled, const char* map_name, Run run) {
  return guarded<11>(env, info, [&](napi_value* argv) {
    const lumen::RoiPlan p = roi_plan(env, argv, fn, argv[pooled]);
    if (length_of(env, argv[1 - pooled]) != p.batch * p.height * p.width * p.channels) {
      throw ArgError{std::string(fn) + ": " + map_name + "'s length does not match dims"};
    }
    run(p, argv);
    return undefined(env);
  });
}

// roiResample(map, out, dims, image, rows, yStart, yIndex, yWeight, xStart, xIndex, xWeight)
napi_value RoiResample(napi_env env, napi_callback_info info) {
  return roi_call(env, info, "roiResample", 1, "map", [&](const lumen::RoiPlan& p, napi_value* argv) {
    lumen::roi_resample(p, floats(env, argv[0], "map"), floats(env, argv[1], "out"));
  });
}

// roiResampleGrad(dy, dmap, dims, image, rows, yStart, yIndex, yWeight, xStart, xIndex, xWeight): dmap is overwritten
napi_value RoiResampleGrad(napi_env env, napi_callback_info info) {
  return roi_call(env, info, "roiResampleGrad", 0, "dmap", [&](const lumen::RoiPlan& p, napi_value* argv) {
    lumen::roi_resample_grad(p, floats(env, argv[0], "dy"), floats(env, argv[1], "dmap"));
  });
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value n;
  napi_create_int32(env, lumen::pool().size(), &n);
  return n;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded<1>(env, info, [&](napi_value* argv) {
    const long n = integer(env, argv[0]);
    if (n < 1 || n > 64) throw ArgError{"threads must be from 1 to 64"};
    lumen::set_pool_threads(static_cast<int>(n));
    return undefined(env);
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseConv2d", nullptr, DepthwiseConv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseConv2dBackpropInput", nullptr, DepthwiseConv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseConv2dBackpropFilter", nullptr, DepthwiseConv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdUpdate", nullptr, SgdUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquares", nullptr, SumSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumAxes", nullptr, SumAxes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unaryGrad", nullptr, UnaryGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormTraining", nullptr, BatchNormTraining, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormGrad", nullptr, BatchNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"roiResample", nullptr, RoiResample, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"roiResampleGrad", nullptr, RoiResampleGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"isa", nullptr, Isa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fmaPeak", nullptr, FmaPeak, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
