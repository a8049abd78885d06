// AVX-512F vector of 16 floats with mask-register tails. Include only from
// translation units built with -mavx512f -mavx512bw -mavx512vl -mavx512dq.
#pragma once
#include <immintrin.h>
#include <cstdint>

namespace sparsenn::simd {

struct VecAvx512 {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int kAccRegs = 16;  // 32 zmm: 16 accumulators + operands
  static constexpr bool kFastGather = true;  // SpMV uses gathers (csrspmv-impl.h)
  static constexpr int kStripeNV = 2;  // vectors per CSR SpMM panel (see csrspmm-impl.h)
  static constexpr int kGemmMR = 8;    // 8x48 micro-tile: 24 accumulators
  static constexpr int kGemmNV = 3;
  static constexpr const char* kName = "avx512";

  static inline __mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static inline V zero() { return _mm512_setzero_ps(); }
  static inline V set1(float a) { return _mm512_set1_ps(a); }
  static inline V load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static inline V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static inline V add(V a, V b) { return _mm512_add_ps(a, b); }
  static inline V max(V a, V b) { return _mm512_max_ps(a, b); }
  static inline V min(V a, V b) { return _mm512_min_ps(a, b); }
  static inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static inline V div(V a, V b) { return _mm512_div_ps(a, b); }
  static inline V relu(V a) { return _mm512_max_ps(_mm512_setzero_ps(), a); }  // NaN stays NaN
  static inline float relu_scalar(float a) { return a > 0.f || a != a ? a : 0.f; }
  static inline V load_tail(const float* p, int n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
  static inline void store_tail(float* p, V v, int n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
  static inline float hsum(V v) { return _mm512_reduce_add_ps(v); }
  static inline V gather(const float* base, const int32_t* idx) {
    return _mm512_i32gather_ps(_mm512_loadu_si512(idx), base, 4);
  }
  static inline V gather(const float* base, const uint16_t* idx) {
    __m512i i = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)));
    return _mm512_i32gather_ps(i, base, 4);
  }
  static inline void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};

}  // namespace sparsenn::simd
