// AVX2 + FMA vector of 8 floats. Include only from translation units built with
// -mavx2 -mfma (the avx2 static library in binding.gyp).
#pragma once
#include <immintrin.h>
#include <cstdint>

namespace sparsenn::simd {

struct VecAvx2 {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int kAccRegs = 8;  // 16 ymm: 8 accumulators + operands
  static constexpr bool kFastGather = false;  // SpMV uses gathers (csrspmv-impl.h)
  static constexpr int kStripeNV = 4;  // vectors per CSR SpMM panel (see csrspmm-impl.h)
  static constexpr int kGemmMR = 6;   // 6x16 micro-tile: 12 accumulators
  static constexpr int kGemmNV = 2;
  static constexpr const char* kName = "avx2";

  static inline __m256i tail_mask(int n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
  }
  static inline V zero() { return _mm256_setzero_ps(); }
  static inline V set1(float a) { return _mm256_set1_ps(a); }
  static inline V load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static inline V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static inline V add(V a, V b) { return _mm256_add_ps(a, b); }
  static inline V max(V a, V b) { return _mm256_max_ps(a, b); }
  static inline V min(V a, V b) { return _mm256_min_ps(a, b); }
  static inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static inline V div(V a, V b) { return _mm256_div_ps(a, b); }
  static inline V relu(V a) { return _mm256_max_ps(_mm256_setzero_ps(), a); }  // NaN stays NaN
  static inline float relu_scalar(float a) { return a > 0.f || a != a ? a : 0.f; }
  static inline V load_tail(const float* p, int n) { return _mm256_maskload_ps(p, tail_mask(n)); }
  static inline void store_tail(float* p, V v, int n) { _mm256_maskstore_ps(p, tail_mask(n), v); }
  static inline float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static inline V gather(const float* base, const int32_t* idx) {
    return _mm256_i32gather_ps(base, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), 4);
  }
  static inline V gather(const float* base, const uint16_t* idx) {
    __m256i i = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx)));
    return _mm256_i32gather_ps(base, i, 4);
  }
  static inline void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
};

}  // namespace sparsenn::simd
