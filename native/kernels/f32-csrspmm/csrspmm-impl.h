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
#include "kernels/common/stripes.h"
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

// Nonzeros ahead whose X row panel is prefetched.
constexpr int kPrefetchAhead = 16;
// Rows whose stripe entries are walked once per panel before moving on (they stay in L2).
constexpr int64_t kRowBlock = 32;

// The entries of row r in g consecutive stripes (row pointers g * rp_stride apart, X rows of
// stripe t at xj + t * kb * ldx), accumulated in registers and added into Y once.
// X rows of stripe t start at xj + t * sstride * ldx. kSkipPad: the X view has no zero rows (the
// unpacked fallback), so padding entries (local column kb) are skipped instead of multiplied.
template <class Vec, int NV, int U, bool kTail, bool kSkipPad>
inline void csrspmm_group_row(const int32_t* rp, int64_t rp_stride, int32_t g, int64_t r,
                              int64_t kb, int64_t sstride, const uint16_t* col, const float* val,
                              const float* xj, int64_t ldx, float* yj, int tail) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  V acc[U][NV];
  for (int s = 0; s < U; ++s)
    for (int u = 0; u < NV; ++u) acc[s][u] = Vec::zero();
  bool any = false;
  for (int32_t t = 0; t < g; ++t) {
    const int32_t* rps = rp + t * rp_stride;
    const int32_t p0 = rps[r], p1 = rps[r + 1];
    if (p0 == p1) continue;
    any = true;
    const float* xt = xj + t * sstride * ldx;
    // Stripe-rows are padded to a multiple of kStripePad entries (zeros), so there is no
    // remainder loop: at high sparsity a row visit holds only a few entries, and a second
    // data-dependent loop exit would cost a branch miss per visit.
    for (int32_t p = p0; p < p1; p += kStripePad) {
      if (p + kPrefetchAhead < p1) Vec::prefetch(xt + static_cast<int64_t>(col[p + kPrefetchAhead]) * ldx);
      for (int e = 0; e < kStripePad; ++e) {
        if (kSkipPad && col[p + e] == kb) continue;
        const float* xr = xt + static_cast<int64_t>(col[p + e]) * ldx;
        const V a = Vec::set1(val[p + e]);
        for (int u = 0; u < NV; ++u)
          acc[e % U][u] = Vec::fma(a, kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W), acc[e % U][u]);
      }
    }
  }
  if (!any) return;
  for (int u = 0; u < NV; ++u) {
    V v = acc[0][u];
    for (int s = 1; s < U; ++s) v = Vec::add(v, acc[s][u]);
    if (kTail) Vec::store_tail(yj, Vec::add(v, Vec::load_tail(yj, tail)), tail);
    else Vec::store(yj + u * W, Vec::add(v, Vec::load(yj + u * W)));
  }
}

// A stripe group, rows [rb, re), the panel of columns [j, j + w) read from xp with row stride ldx.
template <class Vec, int NV, int U, bool kTail, bool kSkipPad>
inline void csrspmm_block_panel(const int32_t* rp, int64_t rp_stride, int32_t g, int64_t kb,
                                int64_t sstride, const uint16_t* col, const float* val,
                                const float* xp, int64_t ldx, int64_t n, int64_t ld, float* y, int64_t rb,
                                int64_t re, int64_t j) {
  const int tail = static_cast<int>(n - j);
  for (int64_t r = rb; r < re; ++r)
    csrspmm_group_row<Vec, NV, U, kTail, kSkipPad>(rp, rp_stride, g, r, kb, sstride, col, val, xp, ldx,
                                                   y + r * ld + j, tail);
}

// Rows [rb, re) of one stripe group over every column panel.
template <class Vec, bool kSkipPad>
inline void csrspmm_block(const int32_t* rp, int64_t rp_stride, int32_t gs, int64_t kb, int64_t sstride,
                          const uint16_t* col, const float* val, const float* xg, bool packed,
                          int64_t n, int64_t ld, float* y, int64_t rb, int64_t re) {
  constexpr int W = Vec::W;
  constexpr int A = Vec::kAccRegs;
  constexpr int NV = Vec::kStripeNV;
  // Accumulator sets (independent FMA chains per vector); must divide kStripePad.
  constexpr int UW = A / NV >= 4 ? 4 : (A / NV >= 2 ? 2 : 1);
  // Panel j of width w: packed at xg + (rows of the group) * j with stride w, or in place.
  const int64_t prow = gs * sstride;
  auto panel = [&](int64_t j) { return packed ? xg + prow * j : xg + j; };
  int64_t j = 0;
  for (; j + NV * W <= n; j += NV * W)
    csrspmm_block_panel<Vec, NV, UW, false, kSkipPad>(rp, rp_stride, gs, kb, sstride, col, val, panel(j),
                                                      packed ? NV * W : ld, n, ld, y, rb, re, j);
  for (; j + W <= n; j += W)
    csrspmm_block_panel<Vec, 1, 4, false, kSkipPad>(rp, rp_stride, gs, kb, sstride, col, val, panel(j),
                                                    packed ? W : ld, n, ld, y, rb, re, j);
  if (j < n)
    csrspmm_block_panel<Vec, 1, 4, true, kSkipPad>(rp, rp_stride, gs, kb, sstride, col, val, panel(j),
                                                   packed ? n - j : ld, n, ld, y, rb, re, j);
}

// Whether any of the g stripes has entries in rows [rb, re).
inline bool group_has_entries(const int32_t* rp, int64_t rp_stride, int32_t g, int64_t rb, int64_t re) {
  for (int32_t t = 0; t < g; ++t)
    if (rp[t * rp_stride + rb] != rp[t * rp_stride + re]) return true;
  return false;
}

template <class Vec>
void csrspmm(const int32_t* srowptr, int32_t stripes, int32_t kb, int64_t rows, int64_t k,
             const uint16_t* col, const float* val, const float* x, int64_t n, int64_t ld, float* y,
             int64_t r0, int64_t r1, Epilogue ep) {
  constexpr int W = Vec::W;
  constexpr int NV = Vec::kStripeNV;
  fill_bias_rows<Vec>(y, n, ld, r0, r1, ep.bias);
  // Stripes were sized for a full NV*W panel; a narrower batch takes several stripes at a time
  // (same X bytes in L1, more entries per row visit, one add into Y per group).
  const int64_t panel_bytes = (n < NV * W ? ((n + W - 1) / W) * W : NV * W) * 4;
  const int64_t full_bytes = static_cast<int64_t>(NV) * W * 4;
  int32_t g = static_cast<int32_t>(full_bytes / (panel_bytes > 0 ? panel_bytes : full_bytes));
  if (g < 1) g = 1;
  // Each stripe group of X is packed (pack_x_stripes) with a zero row after each stripe for the
  // padding entries. If the scratch cannot be had, X is read in place and padding is skipped.
  float* buf = tl_pack_x.get(static_cast<size_t>(g) * (kb + 1) * n);
  const bool packed = buf != nullptr;
  const int64_t sstride = packed ? kb + 1 : kb;
  const int64_t rp_stride = rows + 1;
  // Stripe group -> row block -> panel -> row: the group's X panel stays in L1 while a block of
  // rows passes over it once per panel, the block's entries stay in L2 between panels, and the
  // matrix as a whole is streamed from memory once per product.
  for (int32_t s0 = 0; s0 < stripes; s0 += g) {
    const int32_t gs = stripes - s0 < g ? stripes - s0 : g;
    const int32_t* rp = srowptr + static_cast<int64_t>(s0) * rp_stride;
    if (!group_has_entries(rp, rp_stride, gs, r0, r1)) continue;
    const int64_t k0 = static_cast<int64_t>(s0) * kb;
    if (packed) pack_x_stripes<Vec, NV>(x, n, ld, k, k0, kb, gs, buf);
    const float* xg = packed ? buf : x + k0 * ld;
    for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
      const int64_t re = rb + kRowBlock < r1 ? rb + kRowBlock : r1;
      if (!group_has_entries(rp, rp_stride, gs, rb, re)) continue;
      if (packed) csrspmm_block<Vec, false>(rp, rp_stride, gs, kb, sstride, col, val, xg, true, n, ld, y, rb, re);
      else csrspmm_block<Vec, true>(rp, rp_stride, gs, kb, sstride, col, val, xg, false, n, ld, y, rb, re);
    }
  }
  if (ep.relu) relu_rows<Vec>(y, n, ld, r0, r1);
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_CSRSPMM(VEC, NAME)                                                       \
  namespace sparsenn {                                                                           \
  void NAME(const int32_t* srp, int32_t stripes, int32_t kb, int64_t rows, int64_t k,           \
            const uint16_t* c, const float* v, const float* x, int64_t n, int64_t ld, float* y,  \
            int64_t r0, int64_t r1, Epilogue ep) {                                               \
    impl::csrspmm<VEC>(srp, stripes, kb, rows, k, c, v, x, n, ld, y, r0, r1, ep);                \
  }                                                                                              \
  }
