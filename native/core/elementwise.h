// Element-wise helpers of the training engine whose JS loops are slow: a data-dependent
// branch per element (ReLU's backward mispredicts half the time on real activations) or a
// gather of scattered rows.
#pragma once
#include <cstdint>

namespace sparsenn {

// out[i] = max(x[i], 0), NaN kept (PyTorch's relu).
void relu_forward(const float* x, float* out, int64_t n);

// out[i] = x[i] > 0 ? g[i] : 0 (so an infinite g at a cut unit gives 0, not NaN).
void relu_backward(const float* x, const float* g, float* out, int64_t n);

// dst (f x count) = the rows idx[0..count) of src (rows of f floats), transposed: the batch-last
// layout of a mini-batch of samples stored sample-major. Indices are the caller's to check.
void gather_transpose(const float* src, int64_t f, const int32_t* idx, int64_t count, float* dst);

}  // namespace sparsenn
