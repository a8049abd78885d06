// Optimizer updates for the training engine: plain loops over the kept entries of a
// parameter (all of them, or the indices of a mask's kept weights), which the compiler
// vectorises in the dense case. Math in float32 like PyTorch's, with the scalar factors
// (bias corrections) computed once per step by the caller.
#pragma once
#include <cstdint>

namespace sparsenn {

struct SgdParams {
  float lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

struct AdamParams {
  float lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  bool decoupled;  // AdamW: w *= 1 - lr * wd instead of g += wd * w
  float step_size;  // lr / (1 - beta1^t)
  float sqrt_c2;    // sqrt(1 - beta2^t)
};

// `idx` (length count) selects entries of w and g; null means entries 0 .. count-1. The state
// arrays (buf, m, v) are compact: entry k belongs to w[idx[k]], so a sparse parameter's state
// costs nnz floats and its update touches them in order. Indices are the caller's to check.
// `g_compact`: g holds one value per updated entry (g[k]) instead of being indexed like w.
void sgd_update(float* w, const float* g, bool g_compact, float* buf, const int32_t* idx, int64_t count, const SgdParams& p);
void adam_update(float* w, const float* g, bool g_compact, float* m, float* v, const int32_t* idx, int64_t count, const AdamParams& p);

}  // namespace sparsenn
