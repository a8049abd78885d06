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

// out[i] = gelu(x[i]) = x Φ(x) (exact form, erf-based; |error| < 3e-7 · max(1, |x|)).
void gelu_forward(const float* x, float* out, int64_t n);

// out[i] = g[i] · gelu'(x[i]) = g[i] (Φ(x) + x φ(x)).
void gelu_backward(const float* x, const float* g, float* out, int64_t n);

// out[k] = src[idx[k]] (the kept weights of a sparse layer, in mask order). Indices are the
// caller's to check.
void gather(const float* src, const int32_t* idx, int64_t count, float* out);

// dst (f x count) = the rows idx[0..count) of src (rows of f floats), transposed: the batch-last
// layout of a mini-batch of samples stored sample-major. Indices are the caller's to check.
void gather_transpose(const float* src, int64_t f, const int32_t* idx, int64_t count, float* dst);

// A convolution's geometry on a batch-last image [c, h, w, n] (kernel kh x kw, stride, padding,
// dilation) and its output size oh x ow.
struct ConvGeometry {
  int64_t c, h, w, n, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

// Throws CoreError unless the geometry adds up: non-negative sizes and padding, positive
// kernel, stride and dilation, and oh, ow the true output size (so no index can leave the
// image or its padding).
void check_conv_geometry(const ConvGeometry& g);

// col [c * kh * kw, oh * ow * n] = the im2col columns of x (every entry written: 0 for padding).
void im2col(const float* x, const ConvGeometry& g, float* col);
// The columns of output rows [o0, o1) only: col [c * kh * kw, (o1 - o0) * ow * n] (a chunk of
// im2col small enough to stay in cache while the product consumes it). 0 <= o0 <= o1 <= oh.
void im2col_rows(const float* x, const ConvGeometry& g, int64_t o0, int64_t o1, float* col);
// dx [c, h, w, n] += the adjoint of im2col applied to col.
void col2im_add(const float* col, const ConvGeometry& g, float* dx);

// Max pooling of a batch-last x [c, h, w, n] into out [c, oh, ow, n] (windows kh x kw, stride
// sh x sw, padding ph x pw; padding never wins, ties keep the first position, NaN wins as in
// PyTorch), recording in arg the flat input index of each maximum (-1 for a window with no
// input position) unless arg is null (inference). Channels split across the thread pool.
struct PoolGeometry {
  int64_t c, h, w, n, kh, kw, sh, sw, ph, pw, oh, ow;
};
// Throws CoreError unless the geometry is usable: non-negative entries, strides >= 1, and
// input and output of at most 2^31 - 1 elements. (The windows are clipped to the image, so
// any output size is safe to compute.)
void check_pool_geometry(const PoolGeometry& g);
void max_pool_forward(const float* x, const PoolGeometry& g, float* out, int32_t* arg);
// dx[arg[i]] += grad[i] for arg[i] >= 0 (indices are the caller's to check).
void max_pool_backward(const float* grad, const int32_t* arg, int64_t count, float* dx);

}  // namespace sparsenn
