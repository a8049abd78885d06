// What the striped sparse SpMM kernels (CSR and BSR) share: packing X's row stripes into
// contiguous column panels, and the epilogue passes that run before and after the stripes.
// Internal linkage on purpose: each ISA translation unit gets its own copy (see ukernels.h).
#pragma once
#include <cstdint>
#include <cstdlib>

namespace sparsenn::impl {
namespace {

// Scratch for the packed X stripe, one per thread, kept between calls.
struct PackBuffer {
  float* data = nullptr;
  size_t capacity = 0;
  float* get(size_t floats) {
    if (floats > capacity) {
      std::free(data);
      capacity = floats + floats / 4 + 64;
      data = static_cast<float*>(std::aligned_alloc(64, ((capacity * sizeof(float) + 63) / 64) * 64));
      if (!data) capacity = 0;
    }
    return data;
  }
  ~PackBuffer() { std::free(data); }
};
thread_local PackBuffer tl_pack_x;

// The packed layout: a group of gs stripes of kb rows each, starting at X row k0, packed per
// column panel (widths as above) with a zero row after each stripe: panel j holds, for stripe t,
// rows t * (kb + 1) .. t * (kb + 1) + kb - 1 (the last stripe may have fewer) and the zero row at
// t * (kb + 1) + kb, which the CSR kernel's padding entries point at (0 * a finite zero, never
// 0 * Inf). Panels are NV*W wide, then W, then the remainder, as the kernels walk them.
// Contiguous panels keep a stripe's panel in L1 whatever n is; read in place, rows n floats
// apart would map to a few L1 sets when n is a power of two.
template <class Vec, int NV>
inline void pack_x_stripes(const float* x, int64_t n, int64_t ld, int64_t k, int64_t k0, int64_t kb, int32_t gs,
                           float* dst) {
  constexpr int W = Vec::W;
  const int64_t rows = static_cast<int64_t>(gs) * (kb + 1);
  int64_t j = 0;
  auto copy = [&](int64_t w) {
    float* d = dst + rows * j;
    for (int32_t t = 0; t < gs; ++t) {
      const int64_t first = k0 + t * kb;
      const int64_t count = k - first < kb ? k - first : kb;
      float* dt = d + t * (kb + 1) * w;
      for (int64_t r = 0; r < count; ++r) {
        const float* src = x + (first + r) * ld + j;
        for (int64_t c = 0; c < w; ++c) dt[r * w + c] = src[c];
      }
      for (int64_t c = 0; c < w; ++c) dt[kb * w + c] = 0.f;
    }
    j += w;
  };
  while (j + NV * W <= n) copy(NV * W);
  while (j + W <= n) copy(W);
  if (j < n) copy(n - j);
}

// Rows [r0, r1) of Y (n columns, rows ld floats apart) set to their bias (or zero), before the
// stripes add into them.
template <class Vec>
inline void fill_bias_rows(float* y, int64_t n, int64_t ld, int64_t r0, int64_t r1, const float* bias) {
  constexpr int W = Vec::W;
  const int64_t nfull = n - n % W;
  const int tail = static_cast<int>(n - nfull);
  for (int64_t r = r0; r < r1; ++r) {
    const typename Vec::V b = Vec::set1(bias ? bias[r] : 0.f);
    float* yr = y + r * ld;
    for (int64_t j = 0; j < nfull; j += W) Vec::store(yr + j, b);
    if (tail) Vec::store_tail(yr + nfull, b, tail);
  }
}

// ReLU over rows [r0, r1) of Y, after every stripe has been added.
template <class Vec>
inline void relu_rows(float* y, int64_t n, int64_t ld, int64_t r0, int64_t r1) {
  constexpr int W = Vec::W;
  const int64_t nfull = n - n % W;
  const int tail = static_cast<int>(n - nfull);
  for (int64_t r = r0; r < r1; ++r) {
    float* yr = y + r * ld;
    for (int64_t j = 0; j < nfull; j += W) Vec::store(yr + j, Vec::relu(Vec::load(yr + j)));
    if (tail) Vec::store_tail(yr + nfull, Vec::relu(Vec::load_tail(yr + nfull, tail)), tail);
  }
}

}  // namespace
}  // namespace sparsenn::impl
