// Transposed CSR SpMM, Y (K x n) += A^T X (X is M x n), without materialising A^T.
// Row r of A scatters val * X[r, :] into the rows col[p] of Y. The caller splits the work by
// output rows: this call owns Y rows [k0, k1) and touches only those, so threads never share
// an output row and the result does not depend on the thread count (each Y row sums its
// contributions in increasing r). Columns are sorted within a row, so the slice of a row that
// falls in [k0, k1) is found by binary search. X's row panel is loaded once into registers and
// reused for every nonzero of the row.
#pragma once
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

template <typename Idx>
inline int32_t lower_bound_col(const Idx* col, int32_t lo, int32_t hi, int64_t k) {
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (static_cast<int64_t>(col[mid]) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

template <class Vec, int NV, bool kTail, typename Idx>
inline void csrspmmt_panel(const Idx* col, const float* val, int32_t p0, int32_t p1, int64_t k1,
                           const float* xr, float* yj, int64_t n, int tail) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  V xv[NV];
  for (int u = 0; u < NV; ++u) xv[u] = kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W);
  for (int32_t p = p0; p < p1 && static_cast<int64_t>(col[p]) < k1; ++p) {
    float* yr = yj + static_cast<int64_t>(col[p]) * n;
    const V a = Vec::set1(val[p]);
    for (int u = 0; u < NV; ++u) {
      if (kTail) Vec::store_tail(yr, Vec::fma(a, xv[u], Vec::load_tail(yr, tail)), tail);
      else Vec::store(yr + u * W, Vec::fma(a, xv[u], Vec::load(yr + u * W)));
    }
  }
}

template <class Vec, typename Idx>
void csrspmmt(const int32_t* rowptr, const Idx* col, const float* val, const float* x, int64_t n,
              float* y, int64_t m, int64_t k0, int64_t k1) {
  constexpr int W = Vec::W;
  constexpr int NV = Vec::kAccRegs / 2 > 1 ? Vec::kAccRegs / 2 : 1;
  for (int64_t r = 0; r < m; ++r) {
    const int32_t p0 = lower_bound_col(col, rowptr[r], rowptr[r + 1], k0);
    const int32_t p1 = rowptr[r + 1];
    if (p0 == p1 || static_cast<int64_t>(col[p0]) >= k1) continue;
    const float* xr = x + r * n;
    int64_t j = 0;
    for (; j + NV * W <= n; j += NV * W)
      csrspmmt_panel<Vec, NV, false, Idx>(col, val, p0, p1, k1, xr + j, y + j, n, 0);
    for (; j + W <= n; j += W)
      csrspmmt_panel<Vec, 1, false, Idx>(col, val, p0, p1, k1, xr + j, y + j, n, 0);
    if (j < n)
      csrspmmt_panel<Vec, 1, true, Idx>(col, val, p0, p1, k1, xr + j, y + j, n, static_cast<int>(n - j));
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_CSRSPMMT(VEC, NAME_I32, NAME_U16)                                    \
  namespace sparsenn {                                                                       \
  void NAME_I32(const int32_t* rp, const int32_t* c, const float* v, const float* x,         \
                int64_t n, float* y, int64_t m, int64_t k0, int64_t k1) {                    \
    impl::csrspmmt<VEC, int32_t>(rp, c, v, x, n, y, m, k0, k1);                              \
  }                                                                                          \
  void NAME_U16(const int32_t* rp, const uint16_t* c, const float* v, const float* x,        \
                int64_t n, float* y, int64_t m, int64_t k0, int64_t k1) {                    \
    impl::csrspmmt<VEC, uint16_t>(rp, c, v, x, n, y, m, k0, k1);                             \
  }                                                                                          \
  }
