// Block-sparse SpMM (BSR with br x bc blocks), Y = A X, on column stripes. The point of blocks
// on a CPU is reuse: the br rows of a block row share their column pattern, so each vector of X
// loaded for a block column feeds br accumulators (br FMAs per load instead of one in CSR), and
// there is one index per br*bc values. As in the CSR SpMM (csrspmm-impl.h), the matrix is split
// into column stripes whose X panel is packed and stays in L1 while blocks of block rows pass
// over it. Register tile: br rows x NV vectors, br in {1, 2, 4, 8} as a template parameter, bc
// at run time. Values inside a block are row-major; padding rows of the last block row and
// padding columns of the last block column are zero and never read or written outside the
// matrix.
#pragma once
#include "kernels/common/stripes.h"
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

constexpr int64_t kBlockRowBlock = 16;  // block rows walked once per panel before moving on

template <class Vec, int R, int NV, bool kTail>
inline void bsrspmm_tile(int32_t bc, int32_t p0, int32_t p1, const uint16_t* col, const float* val,
                         int64_t ks, const float* xp, int64_t ldx, float* y, int64_t ld, int64_t m,
                         int64_t row0, int tail) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < NV; ++u) acc[r][u] = Vec::zero();
  const int64_t blk = static_cast<int64_t>(R) * bc;
  for (int32_t q = p0; q < p1; ++q) {
    const int64_t c0 = static_cast<int64_t>(col[q]) * bc;
    const int32_t cn = static_cast<int32_t>(ks - c0 < bc ? ks - c0 : bc);
    const float* vq = val + q * blk;
    for (int32_t cc = 0; cc < cn; ++cc) {
      const float* xr = xp + (c0 + cc) * ldx;
      V xv[NV];
      for (int u = 0; u < NV; ++u) xv[u] = kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W);
      for (int r = 0; r < R; ++r) {
        const V a = Vec::set1(vq[r * bc + cc]);
        for (int u = 0; u < NV; ++u) acc[r][u] = Vec::fma(a, xv[u], acc[r][u]);
      }
    }
  }
  for (int r = 0; r < R && row0 + r < m; ++r) {
    float* yr = y + (row0 + r) * ld;
    for (int u = 0; u < NV; ++u) {
      if (kTail) Vec::store_tail(yr, Vec::add(acc[r][u], Vec::load_tail(yr, tail)), tail);
      else Vec::store(yr + u * W, Vec::add(acc[r][u], Vec::load(yr + u * W)));
    }
  }
}

template <class Vec, int R, int NV, bool kTail>
inline void bsrspmm_block_panel(int32_t bc, const int32_t* rp, const uint16_t* col, const float* val,
                                int64_t ks, const float* xp, int64_t ldx, float* y, int64_t n, int64_t ld,
                                int64_t m, int64_t bb, int64_t be, int64_t j) {
  const int tail = static_cast<int>(n - j);
  for (int64_t b = bb; b < be; ++b)
    if (rp[b] != rp[b + 1]) bsrspmm_tile<Vec, R, NV, kTail>(bc, rp[b], rp[b + 1], col, val, ks, xp, ldx, y + j, ld, m, b * R, tail);
}

template <class Vec, int R>
void bsrspmm_r(int32_t bc, const int32_t* srowptr, int32_t stripes, int32_t sbw, int64_t brows,
               const uint16_t* col, const float* val, const float* x, int64_t k, int64_t n, int64_t ld,
               float* y, int64_t m, int64_t b0, int64_t b1, Epilogue ep) {
  constexpr int W = Vec::W;
  constexpr int NVA = Vec::kAccRegs / R;
  constexpr int NV = NVA < 1 ? 1 : (NVA > Vec::kStripeNV ? Vec::kStripeNV : NVA);
  const int64_t r0 = b0 * R, r1 = b1 * R < m ? b1 * R : m;
  fill_bias_rows<Vec>(y, n, ld, r0, r1, ep.bias);
  const int64_t kb = static_cast<int64_t>(sbw) * bc;  // columns per stripe
  const bool pack = n > NV * W;
  float* buf = pack ? tl_pack_x.get(static_cast<size_t>(kb + 1) * n) : nullptr;
  const bool packed = buf != nullptr;
  for (int32_t s = 0; s < stripes; ++s) {
    const int32_t* rp = srowptr + static_cast<int64_t>(s) * (brows + 1);
    if (rp[b0] == rp[b1]) continue;
    const int64_t k0 = static_cast<int64_t>(s) * kb;
    const int64_t ks = k - k0 < kb ? k - k0 : kb;
    if (packed) pack_x_stripes<Vec, NV>(x, n, ld, k, k0, kb, 1, buf);
    auto panel_x = [&](int64_t j) { return packed ? buf + (kb + 1) * j : x + k0 * ld + j; };
    for (int64_t bb = b0; bb < b1; bb += kBlockRowBlock) {
      const int64_t be = bb + kBlockRowBlock < b1 ? bb + kBlockRowBlock : b1;
      if (rp[bb] == rp[be]) continue;
      int64_t j = 0;
      for (; j + NV * W <= n; j += NV * W)
        bsrspmm_block_panel<Vec, R, NV, false>(bc, rp, col, val, ks, panel_x(j), packed ? NV * W : ld, y, n, ld, m, bb, be, j);
      for (; j + W <= n; j += W)
        bsrspmm_block_panel<Vec, R, 1, false>(bc, rp, col, val, ks, panel_x(j), packed ? W : ld, y, n, ld, m, bb, be, j);
      if (j < n)
        bsrspmm_block_panel<Vec, R, 1, true>(bc, rp, col, val, ks, panel_x(j), packed ? n - j : ld, y, n, ld, m, bb, be, j);
    }
  }
  if (ep.relu) relu_rows<Vec>(y, n, ld, r0, r1);
}

template <class Vec>
void bsrspmm(int32_t br, int32_t bc, const int32_t* srowptr, int32_t stripes, int32_t sbw,
             int64_t brows, const uint16_t* col, const float* val, const float* x, int64_t k,
             int64_t n, int64_t ld, float* y, int64_t m, int64_t b0, int64_t b1, Epilogue ep) {
  switch (br) {
    case 1: bsrspmm_r<Vec, 1>(bc, srowptr, stripes, sbw, brows, col, val, x, k, n, ld, y, m, b0, b1, ep); break;
    case 2: bsrspmm_r<Vec, 2>(bc, srowptr, stripes, sbw, brows, col, val, x, k, n, ld, y, m, b0, b1, ep); break;
    case 4: bsrspmm_r<Vec, 4>(bc, srowptr, stripes, sbw, brows, col, val, x, k, n, ld, y, m, b0, b1, ep); break;
    case 8: bsrspmm_r<Vec, 8>(bc, srowptr, stripes, sbw, brows, col, val, x, k, n, ld, y, m, b0, b1, ep); break;
    default: break;  // prepare_bsr rejects other block heights before any kernel runs
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_BSRSPMM(VEC, NAME)                                                       \
  namespace sparsenn {                                                                           \
  void NAME(int32_t br, int32_t bc, const int32_t* srp, int32_t stripes, int32_t sbw,            \
            int64_t brows, const uint16_t* c, const float* v, const float* x, int64_t k,         \
            int64_t n, int64_t ld, float* y, int64_t m, int64_t b0, int64_t b1, Epilogue ep) {   \
    impl::bsrspmm<VEC>(br, bc, srp, stripes, sbw, brows, c, v, x, k, n, ld, y, m, b0, b1, ep);   \
  }                                                                                              \
  }
