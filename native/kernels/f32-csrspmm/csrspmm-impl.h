// CSR SpMM, Y = A X with X row-major K x n (batch contiguous), on a column-striped CSR.
// Template over the ISA's vector type; instantiated once per ISA translation unit.
//
// Why stripes: each nonzero (r, k) multiplies a row panel of X (k, j..j+NR). A CSR row jumps
// anywhere in X, so for large K the X panel falls out of L1 and the kernel becomes bound by
// L2/L3 bandwidth: one fresh vector load per FMA. The prepared matrix is therefore split into
// vertical stripes of `kb` columns (core/prepared.cc picks kb so that a stripe's X panel stays
// in L1 and a stripe-row still holds enough entries to amortise its overhead), each a CSR of its
// own with 16-bit stripe-local column indices. Each stripe's contribution is accumulated into Y.
//
// Register tile: one output row x NV vectors, with U nonzeros in flight in separate accumulator
// sets so U*NV independent FMA chains hide the FMA latency; each nonzero's value is broadcast
// once and multiplied with NV vectors of X. Wide panels first, then single vectors, then one
// masked vector for the last n mod W columns. Bias is written before the stripes, ReLU applied
// after them; stripe-rows with no entries cost one comparison.
//
// Everything here has internal linkage: each ISA's instantiation must stay in its own
// translation unit so the linker can never mix code built with different -m flags.
#pragma once
#include "kernels/common/pack-x.h"
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

// Nonzeros ahead whose X row panel is prefetched.
constexpr int kPrefetchAhead = 16;
// Rows whose stripe entries are walked once per panel before moving on (they stay in L2).
constexpr int64_t kRowBlock = 32;

template <class Vec, int NV, int U, bool kTail>
inline void csrspmm_stripe_row(const uint16_t* col, const float* val, int32_t p0, int32_t p1,
                               const float* xj, int64_t ldx, float* yj, int tail) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  V acc[U][NV];
  for (int s = 0; s < U; ++s)
    for (int u = 0; u < NV; ++u) acc[s][u] = Vec::zero();
  int32_t p = p0;
  for (; p + U <= p1; p += U) {
    if (p + kPrefetchAhead < p1) Vec::prefetch(xj + static_cast<int64_t>(col[p + kPrefetchAhead]) * ldx);
    for (int s = 0; s < U; ++s) {
      const float* xr = xj + static_cast<int64_t>(col[p + s]) * ldx;
      const V a = Vec::set1(val[p + s]);
      for (int u = 0; u < NV; ++u)
        acc[s][u] = Vec::fma(a, kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W), acc[s][u]);
    }
  }
  for (; p < p1; ++p) {
    const float* xr = xj + static_cast<int64_t>(col[p]) * ldx;
    const V a = Vec::set1(val[p]);
    for (int u = 0; u < NV; ++u)
      acc[0][u] = Vec::fma(a, kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W), acc[0][u]);
  }
  for (int u = 0; u < NV; ++u) {
    V r = acc[0][u];
    for (int s = 1; s < U; ++s) r = Vec::add(r, acc[s][u]);
    if (kTail) Vec::store_tail(yj, Vec::add(r, Vec::load_tail(yj, tail)), tail);
    else Vec::store(yj + u * W, Vec::add(r, Vec::load(yj + u * W)));
  }
}

// One stripe, rows [rb, re), the panel of columns [j, j + w) read from xp with row stride w.
template <class Vec, int NV, int U, bool kTail>
inline void csrspmm_block_panel(const int32_t* rp, const uint16_t* col, const float* val,
                                const float* xp, int64_t ldx, int64_t n, float* y, int64_t rb,
                                int64_t re, int64_t j) {
  const int tail = static_cast<int>(n - j);
  for (int64_t r = rb; r < re; ++r)
    if (rp[r] != rp[r + 1])
      csrspmm_stripe_row<Vec, NV, U, kTail>(col, val, rp[r], rp[r + 1], xp, ldx, y + r * n + j, tail);
}

template <class Vec>
void csrspmm(const int32_t* srowptr, int32_t stripes, int32_t kb, int64_t rows, int64_t k,
             const uint16_t* col, const float* val, const float* x, int64_t n, float* y,
             int64_t r0, int64_t r1, Epilogue ep) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  constexpr int A = Vec::kAccRegs;
  constexpr int NV = Vec::kStripeNV;
  constexpr int UW = A / NV < 1 ? 1 : A / NV;
  constexpr int UT = A / 2 < 1 ? 1 : A / 2;
  const int64_t nfull = n - n % W;
  const int tail = static_cast<int>(n - nfull);
  for (int64_t r = r0; r < r1; ++r) {
    const V b = Vec::set1(ep.bias ? ep.bias[r] : 0.f);
    float* yr = y + r * n;
    for (int64_t j = 0; j < nfull; j += W) Vec::store(yr + j, b);
    if (tail) Vec::store_tail(yr + nfull, b, tail);
  }
  // With one panel X's rows are already contiguous; otherwise pack each stripe of X.
  const bool pack = n > NV * W;
  float* buf = pack ? tl_pack_x.get(static_cast<size_t>(kb) * n) : nullptr;
  const bool packed = buf != nullptr;
  // Stripe -> row block -> panel -> row: the stripe's X panel (kb x NV*W) stays in L1 while a
  // block of rows passes over it once per panel, the block's entries stay in L2 between panels,
  // and the matrix as a whole is streamed from memory once per product.
  for (int32_t s = 0; s < stripes; ++s) {
    const int32_t* rp = srowptr + static_cast<int64_t>(s) * (rows + 1);
    if (rp[r0] == rp[r1]) continue;
    const int64_t k0 = static_cast<int64_t>(s) * kb;
    const int64_t ks = k - k0 < kb ? k - k0 : kb;
    if (packed) pack_x_panels<Vec, NV>(x, n, k0, ks, buf);
    // Panel j of width w: packed at buf + ks * j with stride w, or in place with stride n.
    auto panel_x = [&](int64_t j) { return packed ? buf + ks * j : x + k0 * n + j; };
    for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
      const int64_t re = rb + kRowBlock < r1 ? rb + kRowBlock : r1;
      if (rp[rb] == rp[re]) continue;
      int64_t j = 0;
      for (; j + NV * W <= n; j += NV * W)
        csrspmm_block_panel<Vec, NV, UW, false>(rp, col, val, panel_x(j), packed ? NV * W : n, n, y, rb, re, j);
      for (; j + W <= n; j += W)
        csrspmm_block_panel<Vec, 1, A, false>(rp, col, val, panel_x(j), packed ? W : n, n, y, rb, re, j);
      if (j < n) csrspmm_block_panel<Vec, 1, UT, true>(rp, col, val, panel_x(j), packed ? n - j : n, n, y, rb, re, j);
    }
  }
  if (ep.relu) {
    for (int64_t r = r0; r < r1; ++r) {
      float* yr = y + r * n;
      for (int64_t jj = 0; jj < nfull; jj += W) Vec::store(yr + jj, Vec::relu(Vec::load(yr + jj)));
      if (tail) Vec::store_tail(yr + nfull, Vec::relu(Vec::load_tail(yr + nfull, tail)), tail);
    }
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_CSRSPMM(VEC, NAME)                                                       \
  namespace sparsenn {                                                                           \
  void NAME(const int32_t* srp, int32_t stripes, int32_t kb, int64_t rows, int64_t k,           \
            const uint16_t* c, const float* v, const float* x, int64_t n, float* y, int64_t r0,  \
            int64_t r1, Epilogue ep) {                                                           \
    impl::csrspmm<VEC>(srp, stripes, kb, rows, k, c, v, x, n, y, r0, r1, ep);                    \
  }                                                                                              \
  }
