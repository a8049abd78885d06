// reluBackward / gatherTranspose (core/elementwise.h), with every length and index checked.
#include <string>

#include "binding/exports.h"
#include "binding/guard.h"
#include "binding/jobs.h"
#include "core/elementwise.h"

namespace sparsenn::binding {

namespace {

// (x, out): out = f(x), both of one length; returns out.
template <void (*F)(const float*, float*, int64_t)>
Job parse_map_forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = get_array<float>(info, 0, "x");
  auto out = get_array<float>(info, 1, "out");
  const int64_t n = static_cast<int64_t>(x.ElementLength());
  check_length(env, out.ElementLength(), n, "out");
  check_no_alias(env, out, {x});
  const float* xp = x.Data();
  float* op = out.Data();
  return Job{[=] { F(xp, op, n); }, out, {x, out}};
}

// (x, g, out): out = f'(x) applied to g, all of one length.
template <class F>
Napi::Value map_backward(const Napi::CallbackInfo& info, F f) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto x = get_array<float>(info, 0, "x");
    auto g = get_array<float>(info, 1, "grad");
    auto out = get_array<float>(info, 2, "out");
    const int64_t n = static_cast<int64_t>(x.ElementLength());
    check_length(env, g.ElementLength(), n, "grad");
    check_length(env, out.ElementLength(), n, "out");
    check_no_alias(env, out, {x, g});
    f(x.Data(), g.Data(), out.Data(), n);
    return env.Undefined();
  });
}

}  // namespace

// out = relu(x); out = x > 0 ? g : 0. The forwards also off the event loop (inference plans).
Napi::Value ReluForward(const Napi::CallbackInfo& info) { return run_sync(info, parse_map_forward<relu_forward>); }
Napi::Value ReluForwardAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_map_forward<relu_forward>); }
Napi::Value ReluBackward(const Napi::CallbackInfo& info) { return map_backward(info, relu_backward); }

// out = gelu(x); out = g * gelu'(x).
Napi::Value GeluForward(const Napi::CallbackInfo& info) { return run_sync(info, parse_map_forward<gelu_forward>); }
Napi::Value GeluForwardAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_map_forward<gelu_forward>); }
Napi::Value GeluBackward(const Napi::CallbackInfo& info) { return map_backward(info, gelu_backward); }

// (src, indices, out): out[k] = src[indices[k]], every index checked.
Napi::Value Gather(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto src = get_array<float>(info, 0, "src");
    auto idx = get_array<int32_t>(info, 1, "indices");
    auto out = get_array<float>(info, 2, "out");
    const int64_t count = static_cast<int64_t>(idx.ElementLength());
    check_length(env, out.ElementLength(), count, "out (one per index)");
    const int32_t* ip = idx.Data();
    const int64_t size = static_cast<int64_t>(src.ElementLength());
    for (int64_t k = 0; k < count; ++k)
      if (ip[k] < 0 || ip[k] >= size) throw_error(env, "ERR_RANGE", "indices[" + std::to_string(k) + "] = " + std::to_string(ip[k]) + " is outside src (0 <= i < " + std::to_string(size) + ")");
    gather(src.Data(), ip, count, out.Data());
    return env.Undefined();
  });
}

// (src, rowLength, indices, out): out (rowLength x count) = the rows `indices` of src, transposed.
Napi::Value GatherTranspose(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto src = get_array<float>(info, 0, "src");
    const int64_t f = get_count(info, 1, "rowLength", (int64_t(1) << 31));
    auto idx = get_array<int32_t>(info, 2, "indices");
    auto out = get_array<float>(info, 3, "out");
    const int64_t count = static_cast<int64_t>(idx.ElementLength());
    const int64_t rows = f == 0 ? 0 : static_cast<int64_t>(src.ElementLength()) / f;
    if (f != 0 && static_cast<int64_t>(src.ElementLength()) % f != 0)
      throw_error(env, "ERR_SHAPE", "src length " + std::to_string(src.ElementLength()) + " is not a multiple of rowLength " + std::to_string(f));
    check_length(env, out.ElementLength(), f * count, "out (rowLength * indices)");
    const int32_t* ip = idx.Data();
    for (int64_t b = 0; b < count; ++b)
      if (ip[b] < 0 || ip[b] >= rows)
        throw_error(env, "ERR_RANGE", "indices[" + std::to_string(b) + "] = " + std::to_string(ip[b]) + " is not a row of src (0 <= i < " + std::to_string(rows) + ")");
    gather_transpose(src.Data(), f, ip, count, out.Data());
    return env.Undefined();
  });
}

namespace {

// The geometry array [c, h, w, n, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow] (Int32Array), checked
// by check_conv_geometry, so no index can leave x or col.
ConvGeometry get_geometry(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  auto a = get_array<int32_t>(info, i, "geometry");
  if (a.ElementLength() != 14) throw_error(env, "ERR_SHAPE", "geometry must hold 14 integers [c, h, w, n, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow]");
  const int32_t* v = a.Data();
  const ConvGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  check_conv_geometry(g);  // CoreError: turned into a JS error by guarded()
  return g;
}

int64_t col_length(Napi::Env env, const ConvGeometry& g) {
  const double len = static_cast<double>(g.c) * g.kh * g.kw * g.oh * g.ow * g.n;
  if (len > 2147483647.0) throw_error(env, "ERR_RANGE", "the im2col matrix would have more than 2^31 - 1 elements");
  return static_cast<int64_t>(len);
}

}  // namespace

// (x, geometry, col): col = im2col(x).
Napi::Value Im2col(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto x = get_array<float>(info, 0, "x");
    const ConvGeometry g = get_geometry(info, 1);
    auto col = get_array<float>(info, 2, "col");
    check_length(env, x.ElementLength(), g.c * g.h * g.w * g.n, "x (c * h * w * n)");
    check_length(env, col.ElementLength(), col_length(env, g), "col (c * kh * kw * oh * ow * n)");
    im2col(x.Data(), g, col.Data());
    return env.Undefined();
  });
}

// (x, geometry, o0, o1, col): col = the im2col columns of output rows [o0, o1); returns col.
Job parse_im2col_rows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = get_array<float>(info, 0, "x");
  const ConvGeometry g = get_geometry(info, 1);
  const int64_t o0 = get_count(info, 2, "o0", g.oh + 1);
  const int64_t o1 = get_count(info, 3, "o1", g.oh + 1);
  if (o1 < o0) throw_error(env, "ERR_RANGE", "o1 must be >= o0, got o0 = " + std::to_string(o0) + ", o1 = " + std::to_string(o1));
  auto col = get_array<float>(info, 4, "col");
  check_length(env, x.ElementLength(), g.c * g.h * g.w * g.n, "x (c * h * w * n)");
  check_length(env, col.ElementLength(), g.c * g.kh * g.kw * (o1 - o0) * g.ow * g.n, "col (c * kh * kw * (o1 - o0) * ow * n)");
  check_no_alias(env, col, {x}, "col");
  const float* xp = x.Data();
  float* cp = col.Data();
  return Job{[=] { im2col_rows(xp, g, o0, o1, cp); }, col, {x, col}};
}

Napi::Value Im2colRows(const Napi::CallbackInfo& info) { return run_sync(info, parse_im2col_rows); }
Napi::Value Im2colRowsAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_im2col_rows); }

// (col, geometry, dx): dx += col2im(col).
Napi::Value Col2imAdd(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto col = get_array<float>(info, 0, "col");
    const ConvGeometry g = get_geometry(info, 1);
    auto dx = get_array<float>(info, 2, "dx");
    check_length(env, dx.ElementLength(), g.c * g.h * g.w * g.n, "dx (c * h * w * n)");
    check_length(env, col.ElementLength(), col_length(env, g), "col (c * kh * kw * oh * ow * n)");
    col2im_add(col.Data(), g, dx.Data());
    return env.Undefined();
  });
}

// (x, geometry [c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow], out, arg?): max pooling; returns
// out. Without arg (inference) the maxima's positions are not recorded.
// The windows are clipped to the image, so any output size is safe; the lengths are checked.
Job parse_max_pool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = get_array<float>(info, 0, "x");
  auto a = get_array<int32_t>(info, 1, "geometry");
  if (a.ElementLength() != 12) throw_error(env, "ERR_SHAPE", "pool geometry must hold 12 integers [c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow]");
  const int32_t* v = a.Data();
  const PoolGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
  check_pool_geometry(g);
  auto out = get_array<float>(info, 2, "out");
  auto arg = get_optional_array<int32_t>(info, 3, "arg");
  const double in_len = static_cast<double>(g.c) * g.h * g.w * g.n, out_len = static_cast<double>(g.c) * g.oh * g.ow * g.n;
  check_length(env, x.ElementLength(), static_cast<int64_t>(in_len), "x (c * h * w * n)");
  check_length(env, out.ElementLength(), static_cast<int64_t>(out_len), "out (c * oh * ow * n)");
  if (!arg.IsEmpty()) check_length(env, arg.ElementLength(), static_cast<int64_t>(out_len), "arg (c * oh * ow * n)");
  check_no_alias(env, out, {x, arg});
  if (!arg.IsEmpty()) check_no_alias(env, arg, {x}, "arg");
  const float* xp = x.Data();
  float* op = out.Data();
  int32_t* ap = arg.IsEmpty() ? nullptr : arg.Data();
  Job job{[=] { max_pool_forward(xp, g, op, ap); }, out, {x, out}};
  if (!arg.IsEmpty()) job.keep.push_back(arg);
  return job;
}

Napi::Value MaxPoolForward(const Napi::CallbackInfo& info) { return run_sync(info, parse_max_pool); }
Napi::Value MaxPoolForwardAsync(const Napi::CallbackInfo& info) { return run_async(info, parse_max_pool); }

// (grad, arg, dx): dx[arg[i]] += grad[i]; every arg checked to be -1 or an index of dx.
Napi::Value MaxPoolBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto grad = get_array<float>(info, 0, "grad");
    auto arg = get_array<int32_t>(info, 1, "arg");
    auto dx = get_array<float>(info, 2, "dx");
    const int64_t count = static_cast<int64_t>(arg.ElementLength());
    check_length(env, grad.ElementLength(), count, "grad (one per argmax)");
    const int32_t* ap = arg.Data();
    const int64_t size = static_cast<int64_t>(dx.ElementLength());
    for (int64_t i = 0; i < count; ++i)
      if (ap[i] < -1 || ap[i] >= size) throw_error(env, "ERR_RANGE", "arg[" + std::to_string(i) + "] = " + std::to_string(ap[i]) + " is not an index of dx");
    max_pool_backward(grad.Data(), ap, count, dx.Data());
    return env.Undefined();
  });
}

}  // namespace sparsenn::binding
