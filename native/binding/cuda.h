// The CUDA backend's exports. In a CUDA build (SPARSENN_CUDA=1) binding/cuda.cc defines them
// on top of native/cuda/; otherwise binding/cuda_off.cc says why there is no GPU path.
#pragma once
#include <napi.h>

namespace sparsenn::binding {

// capabilities().cuda: { compiled, available, reason, device, computeCapability, ... }.
Napi::Object CudaCapabilities(Napi::Env env);
// Adds the CUDA exports (CudaPlan, cudaBytesInUse) to `exports`; nothing in a build without CUDA.
void RegisterCuda(Napi::Env env, Napi::Object exports);

}  // namespace sparsenn::binding
