#include "core/optim.h"

#include <cmath>

namespace sparsenn {
namespace {

// How far ahead an indexed loop requests w[idx[k]]: the kept weights of a sparse layer are
// scattered over an array larger than L2, and each is its own cache line more often than not.
constexpr int64_t kPrefetchAhead = 16;

template <bool kIndexed>
inline void prefetch_ahead(const float* w, const int32_t* idx, int64_t k, int64_t count) {
  if (kIndexed && k + kPrefetchAhead < count) __builtin_prefetch(w + idx[k + kPrefetchAhead], 1);
}

template <bool kIndexed, bool kCompact>
void sgd_loop(float* w, const float* g, float* buf, const int32_t* idx, int64_t count, const SgdParams& p) {
  for (int64_t k = 0; k < count; ++k) {
    prefetch_ahead<kIndexed>(w, idx, k, count);
    const int64_t i = kIndexed ? idx[k] : k;
    float gi = g[kCompact ? k : i] + p.weight_decay * w[i];
    if (p.momentum != 0.f) {
      const float b = p.first_step ? gi : p.momentum * buf[k] + (1.f - p.dampening) * gi;
      buf[k] = b;
      gi = p.nesterov ? gi + p.momentum * b : b;
    }
    w[i] -= p.lr * gi;
  }
}

template <bool kIndexed, bool kCompact>
void adam_loop(float* w, const float* g, float* m, float* v, const int32_t* idx, int64_t count, const AdamParams& p) {
  const float decay = p.decoupled ? 1.f - p.lr * p.weight_decay : 1.f;
  const float l2 = p.decoupled ? 0.f : p.weight_decay;
  const float inv_c2 = 1.f / p.sqrt_c2;
  for (int64_t k = 0; k < count; ++k) {
    prefetch_ahead<kIndexed>(w, idx, k, count);
    const int64_t i = kIndexed ? idx[k] : k;
    const float gi = g[kCompact ? k : i] + l2 * w[i];
    const float mi = p.beta1 * m[k] + p.one_minus_beta1 * gi;
    const float vi = p.beta2 * v[k] + p.one_minus_beta2 * gi * gi;
    m[k] = mi;
    v[k] = vi;
    w[i] = w[i] * decay - p.step_size * mi / (std::sqrt(vi) * inv_c2 + p.eps);
  }
}

}  // namespace

void sgd_update(float* w, const float* g, bool g_compact, float* buf, const int32_t* idx, int64_t count, const SgdParams& p) {
  if (!idx) sgd_loop<false, false>(w, g, buf, idx, count, p);
  else if (g_compact) sgd_loop<true, true>(w, g, buf, idx, count, p);
  else sgd_loop<true, false>(w, g, buf, idx, count, p);
}

void adam_update(float* w, const float* g, bool g_compact, float* m, float* v, const int32_t* idx, int64_t count, const AdamParams& p) {
  if (!idx) adam_loop<false, false>(w, g, m, v, idx, count, p);
  else if (g_compact) adam_loop<true, true>(w, g, m, v, idx, count, p);
  else adam_loop<true, false>(w, g, m, v, idx, count, p);
}

}  // namespace sparsenn
