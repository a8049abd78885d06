#include "binding/addon_data.h"

namespace sparsenn::binding {

AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  AddonData& data = addon_data(env);
  if (!data.error_factory.IsEmpty()) {
    Napi::Value err = data.error_factory.Call({Napi::String::New(env, code), Napi::String::New(env, message)});
    if (err.IsObject()) return Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace sparsenn::binding
