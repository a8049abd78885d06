// Runs a binding body and turns core errors into typed JS errors.
#pragma once
#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "binding/args.h"
#include "core/error.h"

namespace sparsenn::binding {

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  try {
    return body();
  } catch (const CoreError& e) {
    throw make_error(info.Env(), e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(info.Env(), "ERR_MEMORY", "out of memory while preparing or multiplying a matrix");
  } catch (const Napi::Error&) {
    throw;  // already a JS error (argument checks)
  } catch (const std::exception& e) {
    throw make_error(info.Env(), "ERR_INTERNAL", std::string("native call failed: ") + e.what());
  }
}

}  // namespace sparsenn::binding
