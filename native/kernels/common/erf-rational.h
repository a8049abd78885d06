// erf(z) as a rational function in float (the form Eigen and XNNPACK use): z P(z²) / Q(z²) on
// [-4, 4], where erf has reached ±1 in float. No exp and no branch per element. One definition
// for the GELU kernels (kernels/f32-vgelu) and the core's scalar GELU backward (instantiated
// with the scalar vector type), so the two cannot drift apart. NaN and the far lower tail are
// the callers' to handle (core/elementwise.cc).
#pragma once

namespace sparsenn::impl {

template <class Vec>
inline typename Vec::V erf_rational(typename Vec::V z) {
  using V = typename Vec::V;
  z = Vec::min(Vec::set1(4.f), Vec::max(Vec::set1(-4.f), z));
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
  return Vec::div(Vec::mul(z, p), q);
}

}  // namespace sparsenn::impl
