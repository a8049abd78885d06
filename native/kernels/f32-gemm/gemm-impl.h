// Dense SGEMM, Y = A X (+ bias, ReLU), A packed once into panels of MR rows (for each k the MR
// values of the panel's rows are adjacent, zero padded past the last row), X row-major K x n
// used in place. Goto-style blocking: n in blocks of NC columns and k in blocks of KC so that
// the X block (KC x NC) stays in L2 and the A sliver (MR x KC) in L1, then an MR x (NV*W)
// register tile: per k, NV vector loads of X and MR broadcasts of A feed MR*NV FMAs.
// Partial k blocks accumulate through Y; bias is added with the first block and ReLU after the
// last. The GEMV (n == 1) walks the same packed panels: per k one vector of the panel's MR
// weights times the broadcast x[k], four k at a time for independent FMA chains.
#pragma once
#include "kernels/common/stripes.h"
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

constexpr int64_t kGemmKC = 256;
constexpr int64_t kGemmNC = 256;

template <class Vec, int MR, int NV, bool kTail>
inline void gemm_tile(const float* a, const float* x, int64_t ldx, int64_t kc, float* y,
                      int64_t ldy, int rows, int tail, bool first, bool last, const float* bias,
                      bool relu) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  V acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int u = 0; u < NV; ++u) acc[r][u] = Vec::zero();
  for (int64_t kk = 0; kk < kc; ++kk) {
    const float* xr = x + kk * ldx;
    V xv[NV];
    for (int u = 0; u < NV; ++u) xv[u] = kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W);
    const float* ak = a + kk * MR;
    for (int r = 0; r < MR; ++r) {
      const V ar = Vec::set1(ak[r]);
      for (int u = 0; u < NV; ++u) acc[r][u] = Vec::fma(ar, xv[u], acc[r][u]);
    }
  }
  for (int r = 0; r < rows; ++r) {
    float* yr = y + r * ldy;
    for (int u = 0; u < NV; ++u) {
      V v = acc[r][u];
      if (!first) v = Vec::add(v, kTail ? Vec::load_tail(yr, tail) : Vec::load(yr + u * W));
      else if (bias) v = Vec::add(v, Vec::set1(bias[r]));
      if (last && relu) v = Vec::relu(v);
      if (kTail) Vec::store_tail(yr, v, tail);
      else Vec::store(yr + u * W, v);
    }
  }
}

thread_local PackBuffer tl_gemm_pack;  // this kernel's own scratch, one per thread

// Packs X[k0 .. k0+kc, j0 .. j0+nc) into column tiles laid end to end, each kc x width
// contiguous: NR-wide tiles, then W-wide ones, then the remainder. Read in place, X's rows are
// n floats apart and a power-of-two n maps a tile's rows onto a few L1 sets.
template <class Vec, int NR>
inline void gemm_pack_x(const float* x, int64_t n, int64_t kc, int64_t nc, float* dst) {
  constexpr int W = Vec::W;
  int64_t j = 0;
  auto copy = [&](int64_t w) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = x + k * n + j;
      for (int64_t c = 0; c < w; ++c) dst[k * w + c] = src[c];
    }
    dst += kc * w;
    j += w;
  };
  while (j + NR <= nc) copy(NR);
  while (j + W <= nc) copy(W);
  if (j < nc) copy(nc - j);
}

// X and Y rows are `ld` floats apart (ld >= n), so a caller can run a range of columns.
template <class Vec>
void gemm(const float* apack, int64_t m, int64_t k, const float* x, int64_t n, int64_t ld, float* y,
          int64_t p0, int64_t p1, Epilogue ep) {
  constexpr int W = Vec::W, MR = Vec::kGemmMR, NV = Vec::kGemmNV, NR = NV * W;
  if (k == 0) {  // empty inner dimension: Y is the epilogue of zero
    for (int64_t r = p0 * MR; r < p1 * MR && r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        float v = ep.bias ? ep.bias[r] : 0.f;
        y[r * ld + j] = ep.relu ? Vec::relu_scalar(v) : v;
      }
    return;
  }
  float* buf = tl_gemm_pack.get(static_cast<size_t>(kGemmKC * kGemmNC));
  for (int64_t jc = 0; jc < n; jc += kGemmNC) {
    const int64_t nc = n - jc < kGemmNC ? n - jc : kGemmNC;
    for (int64_t kc0 = 0; kc0 < k; kc0 += kGemmKC) {
      const int64_t kc = k - kc0 < kGemmKC ? k - kc0 : kGemmKC;
      const bool first = kc0 == 0, last = kc0 + kc == k;
      const bool packed = buf != nullptr;
      if (packed) gemm_pack_x<Vec, NR>(x + kc0 * ld + jc, ld, kc, nc, buf);
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t row0 = p * MR;
        const int rows = static_cast<int>(m - row0 < MR ? m - row0 : MR);
        const float* a = apack + p * MR * k + kc0 * MR;
        const float* bias = ep.bias ? ep.bias + row0 : nullptr;
        const float* xb = packed ? buf : x + kc0 * ld + jc;
        float* yb = y + row0 * ld + jc;
        // Tile j of width w: packed at xb (advancing by kc * w) with stride w, or in place.
        int64_t j = 0;
        for (; j + NR <= nc; j += NR, xb += packed ? kc * NR : NR)
          gemm_tile<Vec, MR, NV, false>(a, xb, packed ? NR : ld, kc, yb + j, ld, rows, 0, first, last, bias, ep.relu);
        for (; j + W <= nc; j += W, xb += packed ? kc * W : W)
          gemm_tile<Vec, MR, 1, false>(a, xb, packed ? W : ld, kc, yb + j, ld, rows, 0, first, last, bias, ep.relu);
        if (j < nc)
          gemm_tile<Vec, MR, 1, true>(a, xb, packed ? nc - j : ld, kc, yb + j, ld, rows, static_cast<int>(nc - j),
                                      first, last, bias, ep.relu);
      }
    }
  }
}

// Reads up to W - 1 floats past a panel's end; the packer allocates that slack.
template <class Vec>
void gemv(const float* apack, int64_t m, int64_t k, const float* x, float* y, int64_t p0,
          int64_t p1, Epilogue ep) {
  using V = typename Vec::V;
  constexpr int W = Vec::W, MR = Vec::kGemmMR, PV = (MR + W - 1) / W;
  for (int64_t p = p0; p < p1; ++p) {
    const float* a = apack + p * MR * k;
    V acc[4][PV];
    for (int s = 0; s < 4; ++s)
      for (int v = 0; v < PV; ++v) acc[s][v] = Vec::zero();
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4)
      for (int s = 0; s < 4; ++s) {
        const V xs = Vec::set1(x[kk + s]);
        for (int v = 0; v < PV; ++v)
          acc[s][v] = Vec::fma(Vec::load(a + (kk + s) * MR + v * W), xs, acc[s][v]);
      }
    for (; kk < k; ++kk) {
      const V xs = Vec::set1(x[kk]);
      for (int v = 0; v < PV; ++v) acc[0][v] = Vec::fma(Vec::load(a + kk * MR + v * W), xs, acc[0][v]);
    }
    float out[PV * W];
    for (int v = 0; v < PV; ++v)
      Vec::store(out + v * W, Vec::add(Vec::add(acc[0][v], acc[1][v]), Vec::add(acc[2][v], acc[3][v])));
    for (int r = 0; r < MR && p * MR + r < m; ++r) {
      const int64_t row = p * MR + r;
      float v = out[r] + (ep.bias ? ep.bias[row] : 0.f);
      y[row] = ep.relu ? Vec::relu_scalar(v) : v;
    }
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_GEMM(VEC, GEMM, GEMV)                                                  \
  namespace sparsenn {                                                                         \
  void GEMM(const float* a, int64_t m, int64_t k, const float* x, int64_t n, int64_t ld,      \
            float* y, int64_t p0, int64_t p1, Epilogue ep) {                                   \
    impl::gemm<VEC>(a, m, k, x, n, ld, y, p0, p1, ep);                                         \
  }                                                                                            \
  void GEMV(const float* a, int64_t m, int64_t k, const float* x, float* y, int64_t p0,        \
            int64_t p1, Epilogue ep) {                                                         \
    impl::gemv<VEC>(a, m, k, x, y, p0, p1, ep);                                                \
  }                                                                                            \
  }
