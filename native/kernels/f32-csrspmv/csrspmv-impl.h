// CSR SpMV, y = A x. Memory bound: the kernel streams values and column indices once
// (8 bytes per nonzero with int32 indices, 6 with uint16) and gathers x, which stays in cache.
// Where the ISA's gather is fast (Vec::kFastGather: AVX-512), rows with at least 2*W nonzeros use
// two vector accumulators of gathers. Otherwise, and for short rows (the common case at high
// sparsity), a scalar loop with four partial sums: on Zen 3 it beats AVX2's vgatherdps
// (measured 1.3 vs 1.5 cycles per nonzero).
#pragma once
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

template <class Vec, typename Idx>
void csrspmv(const int32_t* rowptr, const Idx* col, const float* val, const float* x, float* y,
             int64_t r0, int64_t r1, Epilogue ep) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  for (int64_t r = r0; r < r1; ++r) {
    int32_t p = rowptr[r];
    const int32_t p1 = rowptr[r + 1];
    float sum = 0.f;
    if (Vec::kFastGather && p1 - p >= 2 * W) {
      V a0 = Vec::zero(), a1 = Vec::zero();
      for (; p + 2 * W <= p1; p += 2 * W) {
        a0 = Vec::fma(Vec::load(val + p), Vec::gather(x, col + p), a0);
        a1 = Vec::fma(Vec::load(val + p + W), Vec::gather(x, col + p + W), a1);
      }
      if (p + W <= p1) {
        a0 = Vec::fma(Vec::load(val + p), Vec::gather(x, col + p), a0);
        p += W;
      }
      sum = Vec::hsum(Vec::add(a0, a1));
    }
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    for (; p + 7 < p1; p += 8) {
      s0 += val[p] * x[col[p]];
      s1 += val[p + 1] * x[col[p + 1]];
      s2 += val[p + 2] * x[col[p + 2]];
      s3 += val[p + 3] * x[col[p + 3]];
      s0 += val[p + 4] * x[col[p + 4]];
      s1 += val[p + 5] * x[col[p + 5]];
      s2 += val[p + 6] * x[col[p + 6]];
      s3 += val[p + 7] * x[col[p + 7]];
    }
    for (; p < p1; ++p) s0 += val[p] * x[col[p]];
    s0 += s2;
    s1 += s3;
    float out = sum + (s0 + s1) + (ep.bias ? ep.bias[r] : 0.f);
    if (ep.relu) out = Vec::relu_scalar(out);
    y[r] = out;
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_CSRSPMV(VEC, NAME_I32, NAME_U16)                                     \
  namespace sparsenn {                                                                       \
  void NAME_I32(const int32_t* rp, const int32_t* c, const float* v, const float* x,         \
                float* y, int64_t r0, int64_t r1, Epilogue ep) {                             \
    impl::csrspmv<VEC, int32_t>(rp, c, v, x, y, r0, r1, ep);                                 \
  }                                                                                          \
  void NAME_U16(const int32_t* rp, const uint16_t* c, const float* v, const float* x,        \
                float* y, int64_t r0, int64_t r1, Epilogue ep) {                             \
    impl::csrspmv<VEC, uint16_t>(rp, c, v, x, y, r0, r1, ep);                                \
  }                                                                                          \
  }
