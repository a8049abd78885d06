// sgdUpdate / adamUpdate: the optimizers' per-weight loops (lib/nn/optim). Every array length
// and every index is checked here before the core loop runs.
#include <cmath>
#include <string>

#include "binding/exports.h"
#include "binding/guard.h"
#include "core/optim.h"

namespace sparsenn::binding {
namespace {

double get_double(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw_error(info.Env(), "ERR_TYPE", std::string(what) + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v)) throw_error(info.Env(), "ERR_RANGE", std::string(what) + " must be finite");
  return v;
}

float get_float(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return static_cast<float>(get_double(info, i, what));
}

// The entries to update: the optional index array (each in [0, size)) or all of them.
const int32_t* get_indices(const Napi::CallbackInfo& info, size_t i, size_t size, int64_t* count) {
  Napi::Int32Array idx = get_optional_array<int32_t>(info, i, "indices");
  if (idx.IsEmpty()) {
    *count = static_cast<int64_t>(size);
    return nullptr;
  }
  const int32_t* p = idx.Data();
  for (size_t k = 0; k < idx.ElementLength(); ++k)
    if (p[k] < 0 || static_cast<size_t>(p[k]) >= size)
      throw_error(info.Env(), "ERR_RANGE", "indices[" + std::to_string(k) + "] = " + std::to_string(p[k]) +
                                               " is outside the parameter's " + std::to_string(size) + " entries");
  *count = static_cast<int64_t>(idx.ElementLength());
  return p;
}

// A dense gradient has one value per weight; a compact one, one per updated entry.
void check_grad(Napi::Env env, const Napi::Float32Array& g, bool compact, size_t size, int64_t count) {
  if (compact) check_length(env, g.ElementLength(), count, "grad (compact: one per updated entry)");
  else check_length(env, g.ElementLength(), static_cast<int64_t>(size), "grad");
}

}  // namespace

// (w, g, gradCompact, buf, indices | null, lr, momentum, dampening, weightDecay, nesterov, firstStep)
Napi::Value SgdUpdate(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto w = get_array<float>(info, 0, "w");
    auto g = get_array<float>(info, 1, "grad");
    const bool compact = info[2].ToBoolean().Value();
    auto buf = get_array<float>(info, 3, "momentum buffer");
    const size_t size = w.ElementLength();
    int64_t count = 0;
    const int32_t* idx = get_indices(info, 4, size, &count);
    check_grad(env, g, compact && idx, size, count);
    check_length(env, buf.ElementLength(), count, "momentum buffer (one per updated entry)");
    SgdParams p{get_float(info, 5, "lr"), get_float(info, 6, "momentum"), get_float(info, 7, "dampening"),
                get_float(info, 8, "weightDecay"), info[9].ToBoolean().Value(), info[10].ToBoolean().Value()};
    sgd_update(w.Data(), g.Data(), compact && idx, buf.Data(), idx, count, p);
    return env.Undefined();
  });
}

// (w, g, gradCompact, m, v, indices | null, lr, beta1, beta2, eps, weightDecay, decoupled, stepSize, sqrtC2)
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto w = get_array<float>(info, 0, "w");
    auto g = get_array<float>(info, 1, "grad");
    const bool compact = info[2].ToBoolean().Value();
    auto m = get_array<float>(info, 3, "first moment");
    auto v = get_array<float>(info, 4, "second moment");
    const size_t size = w.ElementLength();
    int64_t count = 0;
    const int32_t* idx = get_indices(info, 5, size, &count);
    check_grad(env, g, compact && idx, size, count);
    check_length(env, m.ElementLength(), count, "first moment (one per updated entry)");
    check_length(env, v.ElementLength(), count, "second moment (one per updated entry)");
    // 1 - beta in double before narrowing: float32(0.999) is 0.99900001, and 1 - that would be
    // 1.3e-5 off relative, biasing every second-moment update.
    const double beta1 = get_double(info, 7, "beta1"), beta2 = get_double(info, 8, "beta2");
    AdamParams p{get_float(info, 6, "lr"),        static_cast<float>(beta1), static_cast<float>(1.0 - beta1),
                 static_cast<float>(beta2),       static_cast<float>(1.0 - beta2), get_float(info, 9, "eps"),
                 get_float(info, 10, "weightDecay"), info[11].ToBoolean().Value(), get_float(info, 12, "stepSize"),
                 get_float(info, 13, "sqrtC2")};
    adam_update(w.Data(), g.Data(), compact && idx, m.Data(), v.Data(), idx, count, p);
    return env.Undefined();
  });
}

}  // namespace sparsenn::binding
