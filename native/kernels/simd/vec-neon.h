// NEON (AArch64 Advanced SIMD) vector of 4 floats. AArch64 has 32 q registers,
// so the register tiles can be as wide as AVX-512's in count, at a quarter the width.
#pragma once
#include <arm_neon.h>
#include <cstdint>

namespace sparsenn::simd {

struct VecNeon {
  using V = float32x4_t;
  static constexpr int W = 4;
  static constexpr int kAccRegs = 16;
  static constexpr bool kFastGather = false;  // SpMV uses gathers (csrspmv-impl.h)
  static constexpr int kStripeNV = 4;  // vectors per CSR SpMM panel (see csrspmm-impl.h)
  static constexpr int kGemmMR = 8;  // 8x12 micro-tile: 24 accumulators
  static constexpr int kGemmNV = 3;
  static constexpr const char* kName = "neon";

  static inline V zero() { return vdupq_n_f32(0.f); }
  static inline V set1(float a) { return vdupq_n_f32(a); }
  static inline V load(const float* p) { return vld1q_f32(p); }
  static inline void store(float* p, V v) { vst1q_f32(p, v); }
  static inline V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static inline V add(V a, V b) { return vaddq_f32(a, b); }
  static inline V max(V a, V b) { return vmaxq_f32(a, b); }
  static inline V min(V a, V b) { return vminq_f32(a, b); }
  static inline V mul(V a, V b) { return vmulq_f32(a, b); }
  static inline V div(V a, V b) { return vdivq_f32(a, b); }
  static inline V relu(V a) { return vmaxq_f32(a, vdupq_n_f32(0.f)); }
  static inline float relu_scalar(float a) { return a > 0.f || a != a ? a : 0.f; }
  static inline V load_tail(const float* p, int n) {
    float t[4] = {0.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return vld1q_f32(t);
  }
  static inline void store_tail(float* p, V v, int n) {
    float t[4];
    vst1q_f32(t, v);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
  static inline float hsum(V v) { return vaddvq_f32(v); }
  template <typename Idx>
  static inline V gather(const float* base, const Idx* idx) {
    float t[4] = {base[idx[0]], base[idx[1]], base[idx[2]], base[idx[3]]};
    return vld1q_f32(t);
  }
  static inline void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }
};

}  // namespace sparsenn::simd
