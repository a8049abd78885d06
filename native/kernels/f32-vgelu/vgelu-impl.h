// GELU, y = x Φ(x) = x (1 + erf(x / √2)) / 2, over a contiguous array: the inference plans' GELU
// step and the training forward. Template over the ISA's vector type; instantiated once per ISA
// translation unit.
//
// erf is the rational form x P(x²) / Q(x²) on [-4, 4] (where erf has reached ±1 in float) that
// core/elementwise.cc documents: no exp and no branch, so every lane runs the same FMAs. It
// loses relative precision in the far lower tail (x < -2, where 1 + erf cancels) and clamps NaN
// away; the caller redoes those elements (core/elementwise.cc gelu_forward).
//
// Everything here has internal linkage: each ISA's instantiation must stay in its own
// translation unit so the linker can never mix code built with different -m flags.
#pragma once
#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

template <class Vec>
inline typename Vec::V gelu_vec(typename Vec::V x) {
  using V = typename Vec::V;
  const V z = Vec::min(Vec::set1(4.f), Vec::max(Vec::set1(-4.f), Vec::mul(x, Vec::set1(0.70710678118654752f))));
  const V z2 = Vec::mul(z, z);
  V p = Vec::set1(-2.72614225801306e-10f);
  p = Vec::fma(p, z2, Vec::set1(2.77068142495902e-08f));
  p = Vec::fma(p, z2, Vec::set1(-2.10102402082508e-06f));
  p = Vec::fma(p, z2, Vec::set1(-5.69250639462346e-05f));
  p = Vec::fma(p, z2, Vec::set1(-7.34990630326855e-04f));
  p = Vec::fma(p, z2, Vec::set1(-2.95459980854025e-03f));
  p = Vec::fma(p, z2, Vec::set1(-1.60960333262415e-02f));
  V q = Vec::set1(-1.45660718464996e-05f);
  q = Vec::fma(q, z2, Vec::set1(-2.13374055278905e-04f));
  q = Vec::fma(q, z2, Vec::set1(-1.68282697438203e-03f));
  q = Vec::fma(q, z2, Vec::set1(-7.37332916720468e-03f));
  q = Vec::fma(q, z2, Vec::set1(-1.42647390514189e-02f));
  const V erf = Vec::div(Vec::mul(z, p), q);
  const V half_x = Vec::mul(x, Vec::set1(0.5f));
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
