// Block-sparse SpMM (BSR with br x bc blocks), Y = A X. The point of blocks on a CPU is reuse:
// the br rows of a block row share their column pattern, so each vector of X loaded for a
// block column feeds br accumulators (br FMAs per load instead of one in CSR), and there is one
// index per br*bc values. Register tile: br rows x NV vectors, br in {1, 2, 4, 8} as a template
// parameter, bc at run time. Values inside a block are row-major; padding rows of the last block
// row and padding columns of the last block column are zero and never read or written outside
// the matrix.
#pragma once
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

template <class Vec, int R, int NV, bool kTail>
inline void bsrspmm_tile(int32_t bc, const int32_t* rowptr, const int32_t* col, const float* val,
                         const float* x, int64_t k, int64_t n, float* y, int64_t m, int64_t b,
                         int64_t j, Epilogue ep) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  const int tail = static_cast<int>(n - j);
  const int64_t row0 = b * R;
  V acc[R][NV];
  for (int r = 0; r < R; ++r) {
    const float bias = (ep.bias && row0 + r < m) ? ep.bias[row0 + r] : 0.f;
    for (int u = 0; u < NV; ++u) acc[r][u] = Vec::set1(bias);
  }
  const int64_t blk = static_cast<int64_t>(R) * bc;
  for (int32_t q = rowptr[b]; q < rowptr[b + 1]; ++q) {
    const int64_t c0 = static_cast<int64_t>(col[q]) * bc;
    const int32_t cn = static_cast<int32_t>(k - c0 < bc ? k - c0 : bc);
    const float* vq = val + q * blk;
    for (int32_t cc = 0; cc < cn; ++cc) {
      const float* xr = x + (c0 + cc) * n + j;
      V xv[NV];
      for (int u = 0; u < NV; ++u) xv[u] = kTail ? Vec::load_tail(xr, tail) : Vec::load(xr + u * W);
      for (int r = 0; r < R; ++r) {
        const V a = Vec::set1(vq[r * bc + cc]);
        for (int u = 0; u < NV; ++u) acc[r][u] = Vec::fma(a, xv[u], acc[r][u]);
      }
    }
  }
  for (int r = 0; r < R && row0 + r < m; ++r) {
    float* yr = y + (row0 + r) * n + j;
    for (int u = 0; u < NV; ++u) {
      V v = acc[r][u];
      if (ep.relu) v = Vec::relu(v);
      if (kTail) Vec::store_tail(yr, v, tail);
      else Vec::store(yr + u * W, v);
    }
  }
}

template <class Vec, int R>
void bsrspmm_r(int32_t bc, const int32_t* rowptr, const int32_t* col, const float* val,
               const float* x, int64_t k, int64_t n, float* y, int64_t m, int64_t b0, int64_t b1,
               Epilogue ep) {
  constexpr int W = Vec::W;
  constexpr int NVA = Vec::kAccRegs / R;
  constexpr int NV = NVA < 1 ? 1 : (NVA > 8 ? 8 : NVA);
  int64_t j = 0;
  for (; j + NV * W <= n; j += NV * W)
    for (int64_t b = b0; b < b1; ++b)
      bsrspmm_tile<Vec, R, NV, false>(bc, rowptr, col, val, x, k, n, y, m, b, j, ep);
  for (; j + W <= n; j += W)
    for (int64_t b = b0; b < b1; ++b)
      bsrspmm_tile<Vec, R, 1, false>(bc, rowptr, col, val, x, k, n, y, m, b, j, ep);
  if (j < n)
    for (int64_t b = b0; b < b1; ++b)
      bsrspmm_tile<Vec, R, 1, true>(bc, rowptr, col, val, x, k, n, y, m, b, j, ep);
}

template <class Vec>
void bsrspmm(int32_t br, int32_t bc, const int32_t* rowptr, const int32_t* col, const float* val,
             const float* x, int64_t k, int64_t n, float* y, int64_t m, int64_t b0, int64_t b1,
             Epilogue ep) {
  switch (br) {
    case 1: bsrspmm_r<Vec, 1>(bc, rowptr, col, val, x, k, n, y, m, b0, b1, ep); break;
    case 2: bsrspmm_r<Vec, 2>(bc, rowptr, col, val, x, k, n, y, m, b0, b1, ep); break;
    case 4: bsrspmm_r<Vec, 4>(bc, rowptr, col, val, x, k, n, y, m, b0, b1, ep); break;
    case 8: bsrspmm_r<Vec, 8>(bc, rowptr, col, val, x, k, n, y, m, b0, b1, ep); break;
    default: break;  // the binding rejects other block heights before any kernel runs
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_BSRSPMM(VEC, NAME)                                                     \
  namespace sparsenn {                                                                         \
  void NAME(int32_t br, int32_t bc, const int32_t* rp, const int32_t* c, const float* v,       \
            const float* x, int64_t k, int64_t n, float* y, int64_t m, int64_t b0, int64_t b1, \
            Epilogue ep) {                                                                     \
    impl::bsrspmm<VEC>(br, bc, rp, c, v, x, k, n, y, m, b0, b1, ep);                           \
  }                                                                                            \
  }
