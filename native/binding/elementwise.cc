// reluBackward / gatherTranspose (core/elementwise.h), with every length and index checked.
#include <string>

#include "binding/exports.h"
#include "binding/guard.h"
#include "core/elementwise.h"

namespace sparsenn::binding {

// (x, out): out = relu(x), both of one length.
Napi::Value ReluForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto x = get_array<float>(info, 0, "x");
    auto out = get_array<float>(info, 1, "out");
    check_length(env, out.ElementLength(), static_cast<int64_t>(x.ElementLength()), "out");
    relu_forward(x.Data(), out.Data(), static_cast<int64_t>(x.ElementLength()));
    return env.Undefined();
  });
}

// (x, g, out): out = x > 0 ? g : 0, all of one length.
Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto x = get_array<float>(info, 0, "x");
    auto g = get_array<float>(info, 1, "grad");
    auto out = get_array<float>(info, 2, "out");
    const int64_t n = static_cast<int64_t>(x.ElementLength());
    check_length(env, g.ElementLength(), n, "grad");
    check_length(env, out.ElementLength(), n, "out");
    relu_backward(x.Data(), g.Data(), out.Data(), n);
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

}  // namespace sparsenn::binding
