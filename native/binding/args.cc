#include "binding/args.h"

#include <cmath>

namespace sparsenn::binding {

int64_t get_count(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t limit) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw_error(info.Env(), "ERR_TYPE", std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d >= static_cast<double>(limit))
    throw_error(info.Env(), "ERR_RANGE",
                std::string(what) + " must be an integer in [0, " + std::to_string(limit) + "), got " +
                    (std::isnan(d) ? std::string("NaN") : std::to_string(d)));
  return static_cast<int64_t>(d);
}

void check_length(Napi::Env env, size_t got, int64_t want, const std::string& what) {
  if (static_cast<int64_t>(got) != want)
    throw_error(env, "ERR_SHAPE", what + " has length " + std::to_string(got) + ", expected " + std::to_string(want));
}

bool overlaps(const Napi::TypedArray& a, const Napi::TypedArray& b) {
  if (a.IsEmpty() || b.IsEmpty() || a.ByteLength() == 0 || b.ByteLength() == 0) return false;
  const char* pa = static_cast<const char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  const char* pb = static_cast<const char*>(b.ArrayBuffer().Data()) + b.ByteOffset();
  return pa < pb + b.ByteLength() && pb < pa + a.ByteLength();
}

void check_no_alias(Napi::Env env, const Napi::TypedArray& out, std::initializer_list<Napi::TypedArray> inputs,
                    const char* what) {
  for (const Napi::TypedArray& in : inputs)
    if (overlaps(out, in)) throw_error(env, "ERR_ALIAS", std::string(what) + " must not share memory with an input array");
}

}  // namespace sparsenn::binding
