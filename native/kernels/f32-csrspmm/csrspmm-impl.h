// CSR SpMM, Y = A X with X row-major K x n (batch contiguous). Template over the ISA's
// vector type; instantiated once per ISA translation unit.
//
// Register tile: one output row x NV vectors of the batch, with U nonzeros in flight, each
// into its own accumulator set, so that U*NV independent FMA chains hide the FMA latency.
// Each nonzero's value is broadcast once and used against NV contiguous vectors of X's row.
// The batch is walked in column panels, outermost, so that the panel of X (K x NV*W) stays in
// cache while every row of the slice streams past it; wide panels first, then narrower ones,
// then one masked vector for the last n mod W columns.
//
// Everything here has internal linkage: each ISA's instantiation must stay in its own
// translation unit so the linker can never mix code built with different -m flags.
#pragma once
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

template <class Vec, int NV, int U, bool kTail, typename Idx>
inline void csrspmm_row(const Idx* col, const float* val, int32_t p0, int32_t p1, const float* xj,
                        int64_t n, float* yj, int tail, float bias, bool relu) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  V acc[U][NV];
  for (int s = 0; s < U; ++s)
    for (int u = 0; u < NV; ++u) acc[s][u] = s == 0 ? Vec::set1(bias) : Vec::zero();
  int32_t p = p0;
  for (; p + U <= p1; p += U) {
    if (p + 4 * U < p1) Vec::prefetch(xj + static_cast<int64_t>(col[p + 4 * U]) * n);
    for (int s = 0; s < U; ++s) {
      const float* xr = xj + static_cast<int64_t>(col[p + s]) * n;
      const V a = Vec::set1(val[p + s]);
      for (int u = 0; u < NV; ++u)
        acc[s][u] = Vec::fma(a, kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W), acc[s][u]);
    }
  }
  for (; p < p1; ++p) {
    const float* xr = xj + static_cast<int64_t>(col[p]) * n;
    const V a = Vec::set1(val[p]);
    for (int u = 0; u < NV; ++u)
      acc[0][u] = Vec::fma(a, kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W), acc[0][u]);
  }
  for (int u = 0; u < NV; ++u) {
    V r = acc[0][u];
    for (int s = 1; s < U; ++s) r = Vec::add(r, acc[s][u]);
    if (relu) r = Vec::relu(r);
    if (kTail) Vec::store_tail(yj, r, tail);
    else Vec::store(yj + u * W, r);
  }
}

template <class Vec, int NV, int U, bool kTail, typename Idx>
inline void csrspmm_panel(const int32_t* rowptr, const Idx* col, const float* val, const float* x,
                          int64_t n, float* y, int64_t r0, int64_t r1, int64_t j, Epilogue ep) {
  const int tail = static_cast<int>(n - j);
  for (int64_t r = r0; r < r1; ++r)
    csrspmm_row<Vec, NV, U, kTail, Idx>(col, val, rowptr[r], rowptr[r + 1], x + j, n,
                                        y + r * n + j, tail, ep.bias ? ep.bias[r] : 0.f, ep.relu);
}

template <class Vec, typename Idx>
void csrspmm(const int32_t* rowptr, const Idx* col, const float* val, const float* x, int64_t n,
             float* y, int64_t r0, int64_t r1, Epilogue ep) {
  constexpr int W = Vec::W;
  constexpr int A = Vec::kAccRegs;
  constexpr int NVW = A / 2 > 4 ? A / 2 : 4;  // widest panel: half the accumulators per set
  int64_t j = 0;
  for (; j + NVW * W <= n; j += NVW * W)
    csrspmm_panel<Vec, NVW, A / NVW < 2 ? 2 : A / NVW, false, Idx>(rowptr, col, val, x, n, y, r0, r1, j, ep);
  if (NVW > 4 && j + 4 * W <= n) {
    csrspmm_panel<Vec, 4, A / 4, false, Idx>(rowptr, col, val, x, n, y, r0, r1, j, ep);
    j += 4 * W;
  }
  if (j + 2 * W <= n) {
    csrspmm_panel<Vec, 2, A / 2, false, Idx>(rowptr, col, val, x, n, y, r0, r1, j, ep);
    j += 2 * W;
  }
  if (j + W <= n) {
    csrspmm_panel<Vec, 1, A, false, Idx>(rowptr, col, val, x, n, y, r0, r1, j, ep);
    j += W;
  }
  if (j < n) csrspmm_panel<Vec, 1, A / 2, true, Idx>(rowptr, col, val, x, n, y, r0, r1, j, ep);
}

}  // namespace
}  // namespace sparsenn::impl

// Defines the i32- and u16-index entry points of one ISA.
#define SPARSENN_DEFINE_CSRSPMM(VEC, NAME_I32, NAME_U16)                                        \
  namespace sparsenn {                                                                          \
  void NAME_I32(const int32_t* rp, const int32_t* c, const float* v, const float* x, int64_t n, \
                float* y, int64_t r0, int64_t r1, Epilogue ep) {                                \
    impl::csrspmm<VEC, int32_t>(rp, c, v, x, n, y, r0, r1, ep);                                 \
  }                                                                                             \
  void NAME_U16(const int32_t* rp, const uint16_t* c, const float* v, const float* x,           \
                int64_t n, float* y, int64_t r0, int64_t r1, Epilogue ep) {                     \
    impl::csrspmm<VEC, uint16_t>(rp, c, v, x, n, y, r0, r1, ep);                                \
  }                                                                                             \
  }
