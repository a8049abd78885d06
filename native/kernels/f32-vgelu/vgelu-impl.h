// GELU, y = x Φ(x) = x (1 + erf(x / √2)) / 2, over a contiguous array: the inference plans' GELU
// step and the training forward. Template over the ISA's vector type; instantiated once per ISA
// translation unit.
//
// erf is the rational form of kernels/common/erf-rational.h: no exp and no branch, so every
// lane runs the same FMAs. It
// loses relative precision in the far lower tail (x < -2, where 1 + erf cancels) and clamps NaN
// away; the caller redoes those elements (core/elementwise.cc gelu_forward).
//
// Everything here has internal linkage: each ISA's instantiation must stay in its own
// translation unit so the linker can never mix code built with different -m flags.
#pragma once
#include "kernels/common/erf-rational.h"
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

template <class Vec>
inline typename Vec::V gelu_vec(typename Vec::V x) {
  const typename Vec::V erf = erf_rational<Vec>(Vec::mul(x, Vec::set1(0.70710678118654752f)));
  const typename Vec::V half_x = Vec::mul(x, Vec::set1(0.5f));
  return Vec::fma(half_x, erf, half_x);
}

template <class Vec>
void vgelu(const float* x, float* y, int64_t n) {
  constexpr int W = Vec::W;
  int64_t i = 0;
  // Two vectors per iteration: the polynomial chains are long, two interleave.
  for (; i + 2 * W <= n; i += 2 * W) {
    const typename Vec::V a = gelu_vec<Vec>(Vec::load(x + i)), b = gelu_vec<Vec>(Vec::load(x + i + W));
    Vec::store(y + i, a);
    Vec::store(y + i + W, b);
  }
  for (; i + W <= n; i += W) Vec::store(y + i, gelu_vec<Vec>(Vec::load(x + i)));
  if (i < n) Vec::store_tail(y + i, gelu_vec<Vec>(Vec::load_tail(x + i, static_cast<int>(n - i))), static_cast<int>(n - i));
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_VGELU(VEC, NAME)                                                  \
  namespace sparsenn {                                                                    \
  void NAME(const float* x, float* y, int64_t n) { impl::vgelu<VEC>(x, y, n); }            \
  }
