// Per-environment state (main thread and each worker thread get their own): the constructor
// of native matrix handles and the factory that builds sparsenn's typed JS errors. Napi frees
// it when the environment is torn down, so worker threads can load and unload the addon.
#pragma once
#include <napi.h>

#include <string>

namespace sparsenn::binding {

struct AddonData {
  Napi::FunctionReference matrix_ctor;
  Napi::FunctionReference error_factory;  // (code, message) => Error, set by lib/native.ts
};

AddonData& addon_data(Napi::Env env);

// A JS error with a stable `code` (ERR_TYPE, ERR_SHAPE, ERR_FORMAT, ERR_RANGE, ...), built by the
// registered factory so it is an instance of the library's error class.
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

}  // namespace sparsenn::binding
