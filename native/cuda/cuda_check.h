// Turns a failed CUDA runtime call into a CoreError ERR_CUDA naming the call and the reason.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

namespace sparsenn::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a sticky-free error so later calls start clean
    fail("ERR_CUDA", std::string(what) + " failed: " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
  }
}

// After a kernel launch: a bad launch configuration shows here, not at the next sync.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// Whether this build's kernels have code the current device can run (csr_spmm.cu).
bool kernels_loadable(std::string* why);

}  // namespace sparsenn::cuda
