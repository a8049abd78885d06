#include "core/elementwise.h"

namespace sparsenn {

void relu_forward(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] > 0.f || x[i] != x[i]) ? x[i] : 0.f;
}

void relu_backward(const float* x, const float* g, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.f ? g[i] : 0.f;  // a select: vectorised, no branch
}

void gather_transpose(const float* src, int64_t f, const int32_t* idx, int64_t count, float* dst) {
  // 16 samples x 64 features at a time: 16 source rows stream 256-byte runs, and the 64
  // destination rows' cache lines are reused across the block's samples.
  constexpr int64_t kB = 16, kF = 64;
  for (int64_t b0 = 0; b0 < count; b0 += kB) {
    const int64_t b1 = b0 + kB < count ? b0 + kB : count;
    for (int64_t f0 = 0; f0 < f; f0 += kF) {
      const int64_t f1 = f0 + kF < f ? f0 + kF : f;
      for (int64_t b = b0; b < b1; ++b) {
        const float* row = src + static_cast<int64_t>(idx[b]) * f;
        for (int64_t j = f0; j < f1; ++j) dst[j * count + b] = row[j];
      }
    }
  }
}

}  // namespace sparsenn
