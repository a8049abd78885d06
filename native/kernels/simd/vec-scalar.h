// Scalar "vector" of width 1: the portable fallback and the reference shape every
// SIMD path must match. Kernels are templates over a Vec type; this one makes them
// plain C++ loops that any compiler can unroll.
#pragma once
#include <cstdint>
#include <algorithm>

namespace sparsenn::simd {

struct VecScalar {
  using V = float;
  static constexpr int W = 1;
  static constexpr int kAccRegs = 4;  // accumulators a register tile may hold
  static constexpr bool kFastGather = false;  // SpMV uses gathers (csrspmv-impl.h)
  static constexpr int kStripeNV = 4;  // vectors per CSR SpMM panel (see csrspmm-impl.h)
  static constexpr int kGemmMR = 4;
  static constexpr int kGemmNV = 4;
  static constexpr const char* kName = "scalar";

  static inline V zero() { return 0.f; }
  static inline V set1(float a) { return a; }
  static inline V load(const float* p) { return *p; }
  static inline void store(float* p, V v) { *p = v; }
  static inline V fma(V a, V b, V c) { return a * b + c; }
  static inline V add(V a, V b) { return a + b; }
  static inline V max(V a, V b) { return a > b ? a : b; }
  static inline V min(V a, V b) { return a < b ? a : b; }
  static inline V mul(V a, V b) { return a * b; }
  static inline V div(V a, V b) { return a / b; }
  static inline V relu(V a) { return a > 0.f || a != a ? a : 0.f; }  // NaN stays NaN
  // Tails never occur for W == 1; present so kernel templates compile unchanged.
  static inline float relu_scalar(float a) { return a > 0.f || a != a ? a : 0.f; }
  static inline V load_tail(const float* p, int n) { return n > 0 ? *p : 0.f; }
  static inline void store_tail(float* p, V v, int n) { if (n > 0) *p = v; }
  static inline float hsum(V v) { return v; }
  static inline V gather(const float* base, const int32_t* idx) { return base[idx[0]]; }
  static inline V gather(const float* base, const uint16_t* idx) { return base[idx[0]]; }
  static inline void prefetch(const void*) {}
};

}  // namespace sparsenn::simd
