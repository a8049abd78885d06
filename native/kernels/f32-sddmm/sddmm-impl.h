// SDDMM: for each stored position (r, k) of a CSR pattern, out[p] = dot(A[r, :], B[k, :]),
// A M x n and B K x n both row-major (batch contiguous). With A = dY and B = X this is the
// weight gradient of a sparse layer, computed only where the mask keeps a weight. Two
// nonzeros of a row are computed together so each loaded vector of A[r, :] serves both.
#pragma once
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

template <class Vec, typename Idx>
void sddmm(const int32_t* rowptr, const Idx* col, const float* a, const float* b, int64_t n,
           float* out, int64_t r0, int64_t r1) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  const int64_t nv = n - n % W;
  const int tail = static_cast<int>(n - nv);
  for (int64_t r = r0; r < r1; ++r) {
    const float* ar = a + r * n;
    int32_t p = rowptr[r];
    const int32_t p1 = rowptr[r + 1];
    for (; p + 1 < p1; p += 2) {
      const float* b0 = b + static_cast<int64_t>(col[p]) * n;
      const float* b1 = b + static_cast<int64_t>(col[p + 1]) * n;
      V s0 = Vec::zero(), s1 = Vec::zero(), t0 = Vec::zero(), t1 = Vec::zero();
      int64_t j = 0;
      for (; j + 2 * W <= nv; j += 2 * W) {
        const V x0 = Vec::load(ar + j), x1 = Vec::load(ar + j + W);
        s0 = Vec::fma(x0, Vec::load(b0 + j), s0);
        s1 = Vec::fma(x0, Vec::load(b1 + j), s1);
        t0 = Vec::fma(x1, Vec::load(b0 + j + W), t0);
        t1 = Vec::fma(x1, Vec::load(b1 + j + W), t1);
      }
      for (; j < nv; j += W) {
        const V x0 = Vec::load(ar + j);
        s0 = Vec::fma(x0, Vec::load(b0 + j), s0);
        s1 = Vec::fma(x0, Vec::load(b1 + j), s1);
      }
      if (tail) {
        const V x0 = Vec::load_tail(ar + nv, tail);
        t0 = Vec::fma(x0, Vec::load_tail(b0 + nv, tail), t0);
        t1 = Vec::fma(x0, Vec::load_tail(b1 + nv, tail), t1);
      }
      out[p] = Vec::hsum(Vec::add(s0, t0));
      out[p + 1] = Vec::hsum(Vec::add(s1, t1));
    }
    if (p < p1) {
      const float* b0 = b + static_cast<int64_t>(col[p]) * n;
      V s0 = Vec::zero(), t0 = Vec::zero();
      int64_t j = 0;
      for (; j < nv; j += W) s0 = Vec::fma(Vec::load(ar + j), Vec::load(b0 + j), s0);
      if (tail) t0 = Vec::fma(Vec::load_tail(ar + nv, tail), Vec::load_tail(b0 + nv, tail), t0);
      out[p] = Vec::hsum(Vec::add(s0, t0));
    }
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_SDDMM(VEC, NAME_I32, NAME_U16)                                       \
  namespace sparsenn {                                                                       \
  void NAME_I32(const int32_t* rp, const int32_t* c, const float* a, const float* b,         \
                int64_t n, float* out, int64_t r0, int64_t r1) {                             \
    impl::sddmm<VEC, int32_t>(rp, c, a, b, n, out, r0, r1);                                  \
  }                                                                                          \
  void NAME_U16(const int32_t* rp, const uint16_t* c, const float* a, const float* b,        \
                int64_t n, float* out, int64_t r0, int64_t r1) {                             \
    impl::sddmm<VEC, uint16_t>(rp, c, a, b, n, out, r0, r1);                                 \
  }                                                                                          \
  }
