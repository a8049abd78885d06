// A build without the CUDA backend: capabilities().cuda says so, and how to get one.
#include "binding/cuda.h"

namespace sparsenn::binding {

Napi::Object CudaCapabilities(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", false);
  o.Set("available", false);
  o.Set("reason", "this build of sparsenn has no CUDA backend; rebuild it with SPARSENN_CUDA=1 npm install (or npm run build:cuda) on a machine with nvcc");
  o.Set("device", env.Null());
  o.Set("computeCapability", env.Null());
  o.Set("memoryBytes", env.Null());
  o.Set("runtimeVersion", env.Null());
  o.Set("driverVersion", env.Null());
  return o;
}

void RegisterCuda(Napi::Env, Napi::Object) {}

}  // namespace sparsenn::binding
