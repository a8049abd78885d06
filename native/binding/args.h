// Argument checks at the JS/native boundary. Everything a kernel will index with is checked
// here or in core/prepared.cc; a wrong type or size throws a typed JS error, never crashes.
#pragma once
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "binding/addon_data.h"

namespace sparsenn::binding {

[[noreturn]] inline void throw_error(Napi::Env env, const std::string& code, const std::string& message) {
  throw make_error(env, code, message);
}

// A non-negative integer below `limit` (a JS number holding an exact integer).
int64_t get_count(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t limit = int64_t(1) << 53);

template <typename T>
struct TypedArrayTraits;
template <>
struct TypedArrayTraits<float> {
  static constexpr napi_typedarray_type kType = napi_float32_array;
  static constexpr const char* kName = "Float32Array";
};
template <>
struct TypedArrayTraits<int32_t> {
  static constexpr napi_typedarray_type kType = napi_int32_array;
  static constexpr const char* kName = "Int32Array";
};
template <>
struct TypedArrayTraits<uint8_t> {
  static constexpr napi_typedarray_type kType = napi_uint8_array;
  static constexpr const char* kName = "Uint8Array";
};

// The typed array at argument i, with its element type checked.
template <typename T>
Napi::TypedArrayOf<T> get_array(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayTraits<T>::kType)
    throw_error(info.Env(), "ERR_TYPE", std::string(what) + " must be a " + TypedArrayTraits<T>::kName);
  return v.As<Napi::TypedArrayOf<T>>();
}

// Same, but undefined/null give an empty handle.
template <typename T>
Napi::TypedArrayOf<T> get_optional_array(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return Napi::TypedArrayOf<T>();
  return get_array<T>(info, i, what);
}

void check_length(Napi::Env env, size_t got, int64_t want, const std::string& what);

// Whether two typed arrays share any bytes (empty handles and empty arrays share none).
bool overlaps(const Napi::TypedArray& a, const Napi::TypedArray& b);
// ERR_ALIAS unless `out` shares no memory with any of `inputs`: the kernels read inputs after
// writing parts of the output (and split it across threads), so an in-place call would be wrong.
void check_no_alias(Napi::Env env, const Napi::TypedArray& out, std::initializer_list<Napi::TypedArray> inputs,
                    const char* what = "out");

}  // namespace sparsenn::binding
