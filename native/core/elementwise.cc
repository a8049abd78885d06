#include "core/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/kernel_table.h"
#include "core/partition.h"
#include "core/thread_pool.h"
#include "kernels/common/erf-rational.h"
#include "kernels/simd/vec-scalar.h"

namespace sparsenn {

void relu_forward(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] > 0.f || x[i] != x[i]) ? x[i] : 0.f;
}

void relu_backward(const float* x, const float* g, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.f ? g[i] : 0.f;  // a select: vectorised, no branch
}

namespace {

// The kernels' rational erf (kernels/common/erf-rational.h) on plain floats, for the backward.
inline float erf_rational(float z) { return impl::erf_rational<simd::VecScalar>(z); }

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

}  // namespace

// Φ(v) = (1 + erf(v / √2)) / 2. Below v = -2 the sum cancels (Φ(-2) = 0.023, Φ(-10) = 8e-24),
// so the lower tail uses erfc in double (its slope there, ~2z per unit of relative change,
// would magnify float rounding of v/√2 into 1e-6 relative error), which keeps the tiny values'
// relative precision; NaN goes there too and survives (the clamp in erf_rational would not).
// The loops below run the rational form over every element first (branch-free: the forward by
// the ISA's vgelu kernel, the backward as a plain loop, whose exp keeps it scalar) and then redo
// the few tail elements, instead of a branch per element.
inline float normal_cdf_body(float v) { return 0.5f * (1.f + erf_rational(v * kInvSqrt2)); }
inline bool in_tail(float v) { return !(v >= -2.f); }
inline float normal_cdf_tail(float v) {
  return static_cast<float>(0.5 * std::erfc(-static_cast<double>(v) * 0.70710678118654752440));
}

namespace {

// Element-wise maps of more than this many elements are split across the thread pool.
constexpr int64_t kMapChunk = 1 << 14;

// body(i0, i1) over [0, n) in chunks of kMapChunk elements on the thread pool.
template <class Body>
void parallel_map(int64_t n, Body body) {
  const int64_t chunks = (n + kMapChunk - 1) / kMapChunk;
  // The work measure only decides whether to split: an element costs ~20 multiply-adds.
  const RowSplit split = split_even(chunks, n * 20);
  ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
    const int64_t i0 = split.begin(t) * kMapChunk, i1 = std::min(n, split.end(t) * kMapChunk);
    body(i0, i1);
  });
}

}  // namespace

void gelu_forward(const float* x, float* out, int64_t n) {
  parallel_map(n, [&](int64_t i0, int64_t i1) {
    kernels().vgelu(x + i0, out + i0, i1 - i0);
    for (int64_t i = i0; i < i1; ++i)
      if (in_tail(x[i])) out[i] = x[i] * normal_cdf_tail(x[i]);
  });
}

void gelu_backward(const float* x, const float* g, float* out, int64_t n) {
  parallel_map(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float v = x[i];
      const float pdf = kInvSqrt2Pi * std::exp(-0.5f * v * v);
      out[i] = g[i] * (normal_cdf_body(v) + v * pdf);
    }
    for (int64_t i = i0; i < i1; ++i)
      if (in_tail(x[i])) out[i] = g[i] * (normal_cdf_tail(x[i]) + x[i] * kInvSqrt2Pi * std::exp(-0.5f * x[i] * x[i]));
  });
}

void gather(const float* src, const int32_t* idx, int64_t count, float* out) {
  for (int64_t k = 0; k < count; ++k) {
    if (k + 16 < count) __builtin_prefetch(src + idx[k + 16]);
    out[k] = src[idx[k]];
  }
}

void gather_transpose(const float* src, int64_t f, const int32_t* idx, int64_t count, float* dst) {
  // 16 samples x 64 features at a time: 16 source rows stream 256-byte runs, and the 64
  // destination rows' cache lines are reused across the block's samples.
  constexpr int64_t kB = 16, kF = 64;
  for (int64_t b0 = 0; b0 < count; b0 += kB) {
    const int64_t b1 = b0 + kB < count ? b0 + kB : count;
    // The next block's rows are scattered over the dataset: request them while this block runs.
    for (int64_t b = b1; b < b1 + kB && b < count; ++b) {
      const char* row = reinterpret_cast<const char*>(src + static_cast<int64_t>(idx[b]) * f);
      for (int64_t off = 0; off < f * 4; off += 64) __builtin_prefetch(row + off);
    }
    for (int64_t f0 = 0; f0 < f; f0 += kF) {
      const int64_t f1 = f0 + kF < f ? f0 + kF : f;
      for (int64_t b = b0; b < b1; ++b) {
        const float* row = src + static_cast<int64_t>(idx[b]) * f;
        for (int64_t j = f0; j < f1; ++j) dst[j * count + b] = row[j];
      }
    }
  }
}

namespace {

// Runs body(r, o, ih, q_lo, q_hi, src_col0) over every (row of col, output row) pair, with the
// output columns [q_lo, q_hi) whose input column lies inside the image; the caller handles
// the rest (padding).
template <class Body>
void for_each_run(const ConvGeometry& g, int64_t o0, int64_t o1, Body body) {
  int64_t r = 0;
  for (int64_t ci = 0; ci < g.c; ++ci)
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj, ++r) {
        const int64_t off = kj * g.dw - g.pw;
        // q in [lo, hi): 0 <= q * sw + off < w
        int64_t lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
        int64_t hi = off >= g.w ? 0 : (g.w - 1 - off) / g.sw + 1;
        // Both within [0, ow]: with padding wider than the dilated kernel's reach, the first
        // in-image column can lie past the last output (the fuzzer found the overflow).
        if (lo > g.ow) lo = g.ow;
        if (hi > g.ow) hi = g.ow;
        if (hi < lo) hi = lo;
        for (int64_t o = o0; o < o1; ++o) {
          const int64_t ih = o * g.sh - g.ph + ki * g.dh;
          body(r, ci, o, ih, lo, hi, off);
        }
      }
}

}  // namespace

void check_pool_geometry(const PoolGeometry& g) {
  for (int64_t v : {g.c, g.h, g.w, g.n, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow})
    if (v < 0 || v > 2147483647) fail("ERR_RANGE", "pool geometry entries must be in [0, 2^31 - 1]");
  if (g.sh < 1 || g.sw < 1) fail("ERR_RANGE", "pool stride must be >= 1");
  // In double: four factors of up to 2^31 overflow int64.
  const double in_len = static_cast<double>(g.c) * g.h * g.w * g.n, out_len = static_cast<double>(g.c) * g.oh * g.ow * g.n;
  if (in_len > 2147483647.0 || out_len > 2147483647.0) fail("ERR_RANGE", "pooling tensors must have at most 2^31 - 1 elements");
}

void check_conv_geometry(const ConvGeometry& g) {
  // Entries up to 2^31 - 1 (what the binding's Int32Array can hold) keep every sum and product
  // below in int64 (the fuzzer found an overflow with larger ones).
  for (int64_t v : {g.c, g.h, g.w, g.n, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow})
    if (v < 0 || v > 2147483647) fail("ERR_RANGE", "geometry entries must be in [0, 2^31 - 1]");
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
    fail("ERR_RANGE", "kernel, stride and dilation must be >= 1");
  const int64_t oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  const int64_t ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  if (g.h + 2 * g.ph < g.dh * (g.kh - 1) + 1 || g.w + 2 * g.pw < g.dw * (g.kw - 1) + 1 || oh != g.oh || ow != g.ow)
    fail("ERR_SHAPE", "geometry output size " + std::to_string(g.oh) + "x" + std::to_string(g.ow) +
                          " does not match the input, kernel, stride, padding and dilation (expected " +
                          std::to_string(oh) + "x" + std::to_string(ow) + ")");
}

void im2col(const float* x, const ConvGeometry& g, float* col) { im2col_rows(x, g, 0, g.oh, col); }

void im2col_rows(const float* x, const ConvGeometry& g, int64_t o0, int64_t o1, float* col) {
  // Nothing to write: return before looping over channels and taps (whose counts the geometry
  // check bounds only through the element counts, which are 0 here; the fuzzer found the spin).
  if (g.n == 0 || g.ow == 0 || o1 <= o0) return;
  const int64_t n = g.n, row_len = (o1 - o0) * g.ow * n;
  for_each_run(g, o0, o1, [&](int64_t r, int64_t ci, int64_t o, int64_t ih, int64_t lo, int64_t hi, int64_t off) {
    float* out = col + r * row_len + (o - o0) * g.ow * n;
    if (ih < 0 || ih >= g.h) {
      std::fill(out, out + g.ow * n, 0.f);
      return;
    }
    const float* in = x + (ci * g.h + ih) * g.w * n;
    std::fill(out, out + lo * n, 0.f);
    if (hi <= lo) {
      // no column of this tap lies in the image (lo was clamped: in + (lo + off) may not exist)
    } else if (g.sw == 1) {
      std::copy(in + (lo + off) * n, in + (hi + off) * n, out + lo * n);
    } else {
      for (int64_t q = lo; q < hi; ++q) std::copy(in + (q * g.sw + off) * n, in + (q * g.sw + off + 1) * n, out + q * n);
    }
    std::fill(out + hi * n, out + g.ow * n, 0.f);
  });
}

void col2im_add(const float* col, const ConvGeometry& g, float* dx) {
  if (g.n == 0 || g.oh == 0 || g.ow == 0) return;  // nothing to add (see im2col_rows)
  const int64_t n = g.n, row_len = g.oh * g.ow * n;
  for_each_run(g, 0, g.oh, [&](int64_t r, int64_t ci, int64_t o, int64_t ih, int64_t lo, int64_t hi, int64_t off) {
    if (ih < 0 || ih >= g.h || hi <= lo) return;
    const float* in = col + r * row_len + o * g.ow * n;
    float* out = dx + (ci * g.h + ih) * g.w * n;
    if (g.sw == 1) {
      float* d = out + (lo + off) * n;
      const float* s = in + lo * n;
      for (int64_t t = 0, len = (hi - lo) * n; t < len; ++t) d[t] += s[t];
    } else {
      for (int64_t q = lo; q < hi; ++q) {
        float* d = out + (q * g.sw + off) * n;
        const float* s = in + q * n;
        for (int64_t b = 0; b < n; ++b) d[b] += s[b];
      }
    }
  });
}

namespace {

// The running maximum: NaN wins (PyTorch), ties keep the first.
inline float pool_max(float m, float v) { return v > m || v != v ? v : m; }

// One 2x2 window lying wholly inside the image, without argmax: the common inference case,
// as one branch-free loop over the batch.
inline void max_pool_2x2(const float* x0, int64_t n, int64_t row, float* ob) {
  const float* x1 = x0 + row;
  for (int64_t b = 0; b < n; ++b) ob[b] = pool_max(pool_max(pool_max(x0[b], x0[n + b]), x1[b]), x1[n + b]);
}

// Channels [c0, c1) of max pooling; kArg: also record each maximum's index (training).
template <bool kArg>
void max_pool_channels(const float* x, const PoolGeometry& g, float* out, int32_t* arg, int64_t c0, int64_t c1) {
  const int64_t n = g.n;
  const bool two_by_two = !kArg && g.kh == 2 && g.kw == 2;
  for (int64_t ci = c0; ci < c1; ++ci)
    for (int64_t o = 0; o < g.oh; ++o) {
      const int64_t h0 = o * g.sh - g.ph;
      const int64_t hs = h0 > 0 ? h0 : 0, he = h0 + g.kh < g.h ? h0 + g.kh : g.h;
      for (int64_t q = 0; q < g.ow; ++q) {
        const int64_t w0 = q * g.sw - g.pw;
        const int64_t ws = w0 > 0 ? w0 : 0, we = w0 + g.kw < g.w ? w0 + g.kw : g.w;
        float* ob = out + ((ci * g.oh + o) * g.ow + q) * n;
        if (two_by_two && he - hs == 2 && we - ws == 2) {
          max_pool_2x2(x + ((ci * g.h + hs) * g.w + ws) * n, n, g.w * n, ob);
          continue;
        }
        int32_t* ab = kArg ? arg + ((ci * g.oh + o) * g.ow + q) * n : nullptr;
        bool first = true;
        for (int64_t ih = hs; ih < he; ++ih)
          for (int64_t iw = ws; iw < we; ++iw) {
            const int64_t base = ((ci * g.h + ih) * g.w + iw) * n;
            const float* xb = x + base;
            if (first) {
              for (int64_t b = 0; b < n; ++b) {
                ob[b] = xb[b];
                if (kArg) ab[b] = static_cast<int32_t>(base + b);
              }
              first = false;
            } else {
              for (int64_t b = 0; b < n; ++b) {
                const float v = xb[b];
                const bool take = v > ob[b] || v != v;
                ob[b] = take ? v : ob[b];
                if (kArg) ab[b] = take ? static_cast<int32_t>(base + b) : ab[b];
              }
            }
          }
        if (first)
          for (int64_t b = 0; b < n; ++b) {
            ob[b] = -std::numeric_limits<float>::infinity();
            if (kArg) ab[b] = -1;
          }
      }
    }
}

}  // namespace

void max_pool_forward(const float* x, const PoolGeometry& g, float* out, int32_t* arg) {
  // An empty output: return before looping over channels and windows (c, oh, ow are only bounded
  // through the element counts, which are 0 here; the fuzzer found the spin).
  if (g.n == 0 || g.c == 0 || g.oh == 0 || g.ow == 0) return;
  // The work measure (in double: kh * kw are not bounded) only decides whether to split.
  const double work = static_cast<double>(g.c) * g.oh * g.ow * g.n * g.kh * g.kw;
  const RowSplit split = split_even(g.c, work > 1e15 ? int64_t(1e15) : static_cast<int64_t>(work));
  ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
    if (arg) max_pool_channels<true>(x, g, out, arg, split.begin(t), split.end(t));
    else max_pool_channels<false>(x, g, out, nullptr, split.begin(t), split.end(t));
  });
}

void max_pool_backward(const float* grad, const int32_t* arg, int64_t count, float* dx) {
  for (int64_t i = 0; i < count; ++i)
    if (arg[i] >= 0) dx[arg[i]] += grad[i];
}

}  // namespace sparsenn
