// libFuzzer target for the native boundary without Node: every validating constructor and
// geometry check the binding relies on (prepare_csr / nm / bsr / dense / conv,
// check_conv_geometry, check_pool_geometry) gets arbitrary arguments. A CoreError is the check
// doing its job. When the arguments pass, the products and pooling run on them and their
// results are compared with float64 references computed here from the same arguments, so an
// argument the checks should have refused shows up as an out-of-bounds access (ASan), undefined
// behaviour (UBSan) or a wrong result (trap).
//
// Built and run by scripts/fuzz-native.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/elementwise.h"
#include "core/error.h"
#include "core/prepared.h"
#include "core/sparse_conv.h"

using namespace sparsenn;

namespace {

// Work per input stays small so that executions stay fast; checks still see any value.
constexpr double kMaxWork = 1 << 16;

// Mostly small, sometimes extreme: sizes that trip overflow checks must be tried too.
int64_t size_value(FuzzedDataProvider& f, int64_t small_max) {
  switch (f.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return -1;
    case 1: return f.ConsumeIntegral<int32_t>();
    case 2: return f.ConsumeIntegral<int64_t>();
    case 3: return int64_t{1} << f.ConsumeIntegralInRange<int>(16, 40);
    default: return f.ConsumeIntegralInRange<int64_t>(0, small_max);
  }
}

std::vector<float> floats(FuzzedDataProvider& f, size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(f.ConsumeIntegralInRange<int>(-8, 8)) * 0.25f;
  return v;
}

// A CSR that is valid unless the fuzzer says otherwise: rows + 1 non-decreasing pointers and
// strictly increasing columns per row, then (maybe) one field corrupted.
struct Csr {
  std::vector<int32_t> ptr, col;
  std::vector<float> val;
};
Csr make_csr(FuzzedDataProvider& f, int64_t rows, int64_t cols) {
  Csr m;
  const int64_t r = std::max<int64_t>(0, std::min<int64_t>(rows, 64));
  const int64_t c = std::max<int64_t>(0, std::min<int64_t>(cols, 64));
  m.ptr.push_back(0);
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < c; ++j)
      if (f.ConsumeBool()) m.col.push_back(static_cast<int32_t>(j));
    m.ptr.push_back(static_cast<int32_t>(m.col.size()));
  }
  m.val = floats(f, m.col.size());
  switch (f.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: if (!m.ptr.empty()) m.ptr[f.ConsumeIntegralInRange<size_t>(0, m.ptr.size() - 1)] = f.ConsumeIntegral<int32_t>(); break;
    case 1: if (!m.col.empty()) m.col[f.ConsumeIntegralInRange<size_t>(0, m.col.size() - 1)] = f.ConsumeIntegral<int32_t>(); break;
    case 2: if (!m.ptr.empty()) m.ptr.pop_back(); break;
    case 3: m.val.push_back(1.0f); break;
    default: break;
  }
  return m;
}

// Iterations of nested loops over these extents: an empty inner loop still costs the outer
// ones, so a zero extent counts as 1 (a 2^30 x 0 output would otherwise pass as free).
double loops(std::initializer_list<int64_t> extents) {
  double t = 1;
  for (int64_t e : extents) t *= static_cast<double>(std::max<int64_t>(e, 1));
  return t;
}

[[noreturn]] void mismatch(const char* what, double got, double want) {
  std::fprintf(stderr, "%s: result %.9g, float64 reference %.9g\n", what, got, want);
  __builtin_trap();
}

void expect_close(const char* what, const float* y, const std::vector<double>& ref, const std::vector<double>& mag) {
  for (size_t i = 0; i < ref.size(); ++i)
    if (!(std::fabs(y[i] - ref[i]) <= 1e-4 * (mag[i] + 1.0))) mismatch(what, y[i], ref[i]);
}

// Y = A X with A given as CSR arrays (already accepted by a prepare_*), in float64.
void csr_reference(const Csr& m, int64_t rows, int64_t n, const std::vector<float>& x, const float* bias, bool relu,
                   std::vector<double>& ref, std::vector<double>& mag) {
  ref.assign(rows * n, 0.0);
  mag.assign(rows * n, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t p = m.ptr[r]; p < m.ptr[r + 1]; ++p)
      for (int64_t j = 0; j < n; ++j) {
        const double t = static_cast<double>(m.val[p]) * x[m.col[p] * n + j];
        ref[r * n + j] += t;
        mag[r * n + j] += std::fabs(t);
      }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double& v = ref[r * n + j];
      if (bias) v += bias[r];
      if (relu && v < 0) v = 0;
    }
}

void fuzz_csr(FuzzedDataProvider& f) {
  const int64_t rows = size_value(f, 48), cols = size_value(f, 48);
  Csr m = make_csr(f, rows, cols);
  auto a = prepare_csr(rows, cols, m.ptr.data(), m.ptr.size(), m.col.data(), m.col.size(), m.val.data(), m.val.size());
  const int64_t n = f.ConsumeIntegralInRange<int64_t>(1, 9);
  if (static_cast<double>(rows + cols) * n > kMaxWork) return;
  std::vector<float> x = floats(f, cols * n), bias = floats(f, rows);
  const bool relu = f.ConsumeBool(), with_bias = f.ConsumeBool();
  std::vector<float> y(rows * n);
  a->multiply(x.data(), n, y.data(), Epilogue{with_bias ? bias.data() : nullptr, relu});
  std::vector<double> ref, mag;
  csr_reference(m, rows, n, x, with_bias ? bias.data() : nullptr, relu, ref, mag);
  expect_close("csr multiply", y.data(), ref, mag);
  // Transposed: Z (cols x n) = A^T D, D rows x n.
  std::vector<float> d = floats(f, rows * n), z(cols * n);
  a->multiply_transposed(d.data(), n, z.data());
  std::vector<double> zr(cols * n, 0.0), zm(cols * n, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t p = m.ptr[r]; p < m.ptr[r + 1]; ++p)
      for (int64_t j = 0; j < n; ++j) {
        const double t = static_cast<double>(m.val[p]) * d[r * n + j];
        zr[m.col[p] * n + j] += t;
        zm[m.col[p] * n + j] += std::fabs(t);
      }
  expect_close("csr multiply_transposed", z.data(), zr, zm);
  // SDDMM on the pattern: out[p] = dot(D[r, :], X[col[p], :]).
  std::vector<float> s(m.col.size());
  a->sddmm(d.data(), x.data(), n, s.data());
  std::vector<double> sr(m.col.size(), 0.0), sm(m.col.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t p = m.ptr[r]; p < m.ptr[r + 1]; ++p)
      for (int64_t j = 0; j < n; ++j) {
        const double t = static_cast<double>(d[r * n + j]) * x[m.col[p] * n + j];
        sr[p] += t;
        sm[p] += std::fabs(t);
      }
  expect_close("csr sddmm", s.data(), sr, sm);
}

void fuzz_nm(FuzzedDataProvider& f) {
  const int64_t rows = size_value(f, 32), cols = size_value(f, 32);
  const int32_t nn = f.ConsumeIntegralInRange<int32_t>(-1, 5), mm = f.ConsumeIntegralInRange<int32_t>(-1, 9);
  const size_t groups = rows > 0 && cols > 0 && mm > 0 && static_cast<double>(rows) * cols < 4096 ? static_cast<size_t>(rows * ((cols + mm - 1) / mm)) : 0;
  const size_t slots = groups * static_cast<size_t>(std::max(nn, 0)) + f.ConsumeIntegralInRange<size_t>(0, 2);
  std::vector<float> val = floats(f, slots);
  std::vector<uint8_t> idx(slots);
  for (auto& i : idx) i = f.ConsumeIntegralInRange<uint8_t>(0, 9);
  // An N:M matrix with no columns still gets rows + 1 row pointers (O(rows), like the output
  // its products write): accepted, but too slow to explore at 2^31 rows.
  if (cols == 0 && rows > (1 << 16)) return;
  auto a = prepare_nm(rows, cols, nn, mm, val.data(), val.size(), idx.data(), idx.size());
  const int64_t n = f.ConsumeIntegralInRange<int64_t>(1, 9);
  if (static_cast<double>(rows + cols) * n > kMaxWork) return;
  std::vector<float> x = floats(f, cols * n), y(rows * n);
  a->multiply(x.data(), n, y.data(), Epilogue{nullptr, false});
  // Reference from the N:M arrays: slot k of group g in row r holds column g * m + idx.
  std::vector<double> ref(rows * n, 0.0), mag(rows * n, 0.0);
  const int64_t gpr = (cols + mm - 1) / mm;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < gpr; ++g)
      for (int32_t k = 0; k < nn; ++k) {
        const size_t s = static_cast<size_t>((r * gpr + g) * nn + k);
        const int64_t c = g * mm + idx[s];
        for (int64_t j = 0; j < n; ++j) {
          const double t = static_cast<double>(val[s]) * x[c * n + j];
          ref[r * n + j] += t;
          mag[r * n + j] += std::fabs(t);
        }
      }
  expect_close("nm multiply", y.data(), ref, mag);
}

void fuzz_bsr(FuzzedDataProvider& f) {
  const int64_t rows = size_value(f, 32), cols = size_value(f, 32);
  const int32_t br = f.ConsumeIntegralInRange<int32_t>(-1, 9), bc = f.ConsumeIntegralInRange<int32_t>(-1, 9);
  const int64_t brows = br > 0 ? rows / br : 0, bcols = bc > 0 ? cols / bc : 0;
  Csr blocks = make_csr(f, brows, bcols);
  const size_t bsize = br > 0 && bc > 0 ? static_cast<size_t>(br * bc) : 1;
  std::vector<float> val = floats(f, blocks.col.size() * bsize + f.ConsumeIntegralInRange<size_t>(0, 1));
  auto a = prepare_bsr(rows, cols, br, bc, blocks.ptr.data(), blocks.ptr.size(), blocks.col.data(), blocks.col.size(), val.data(), val.size());
  const int64_t n = f.ConsumeIntegralInRange<int64_t>(1, 9);
  if (static_cast<double>(rows + cols) * n > kMaxWork) return;
  std::vector<float> x = floats(f, cols * n), y(rows * n);
  a->multiply(x.data(), n, y.data(), Epilogue{nullptr, false});
  std::vector<double> ref(rows * n, 0.0), mag(rows * n, 0.0);
  for (int64_t b = 0; b < brows; ++b)
    for (int32_t p = blocks.ptr[b]; p < blocks.ptr[b + 1]; ++p)
      for (int32_t i = 0; i < br; ++i)
        for (int32_t k = 0; k < bc; ++k)
          for (int64_t j = 0; j < n; ++j) {
            const double t = static_cast<double>(val[p * bsize + i * bc + k]) * x[(blocks.col[p] * bc + k) * n + j];
            ref[(b * br + i) * n + j] += t;
            mag[(b * br + i) * n + j] += std::fabs(t);
          }
  expect_close("bsr multiply", y.data(), ref, mag);
}

void fuzz_dense(FuzzedDataProvider& f) {
  const int64_t rows = size_value(f, 40), cols = size_value(f, 40);
  const size_t len = rows > 0 && cols > 0 && static_cast<double>(rows) * cols < 8192 ? static_cast<size_t>(rows * cols) : f.ConsumeIntegralInRange<size_t>(0, 64);
  std::vector<float> w = floats(f, len + (f.ConsumeIntegralInRange<int>(0, 7) == 0 ? 1 : 0));
  auto a = prepare_dense(rows, cols, w.data(), w.size());
  const int64_t n = f.ConsumeIntegralInRange<int64_t>(1, 9);
  if (static_cast<double>(rows + cols) * n > kMaxWork) return;
  std::vector<float> x = floats(f, cols * n), y(rows * n);
  a->multiply(x.data(), n, y.data(), Epilogue{nullptr, false});
  std::vector<double> ref(rows * n, 0.0), mag(rows * n, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t j = 0; j < n; ++j) {
        const double t = static_cast<double>(w[r * cols + c]) * x[c * n + j];
        ref[r * n + j] += t;
        mag[r * n + j] += std::fabs(t);
      }
  expect_close("dense multiply", y.data(), ref, mag);
}

ConvGeometry conv_geometry(FuzzedDataProvider& f) {
  ConvGeometry g{};
  for (int64_t* v : {&g.c, &g.h, &g.w, &g.n, &g.kh, &g.kw, &g.sh, &g.sw, &g.ph, &g.pw, &g.dh, &g.dw}) *v = size_value(f, 6);
  // Usually the true output size, so the checks pass and the kernels run.
  const auto small = [](int64_t v) { return v >= 0 && v <= (1 << 20); };
  bool all_small = true;
  for (int64_t v : {g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw}) all_small = all_small && small(v);
  if (f.ConsumeIntegralInRange<int>(0, 3) != 0 && all_small && g.kh > 0 && g.kw > 0 && g.sh > 0 && g.sw > 0 && g.dh > 0 && g.dw > 0) {
    g.oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  } else {
    g.oh = size_value(f, 8);
    g.ow = size_value(f, 8);
  }
  return g;
}

void fuzz_conv(FuzzedDataProvider& f) {
  ConvGeometry g = conv_geometry(f);
  const int64_t groups = f.ConsumeIntegralInRange<int64_t>(0, 3);
  const int64_t rows = size_value(f, 8);
  const bool fits = groups > 0 && g.c >= 0 && g.c <= (1 << 20) && g.c % groups == 0 && g.kh >= 0 && g.kh <= (1 << 20) && g.kw >= 0 && g.kw <= (1 << 20);
  const int64_t cols = fits ? (g.c / groups) * g.kh * g.kw : size_value(f, 16);
  Csr m = make_csr(f, rows, cols);
  auto a = prepare_conv(rows, cols, groups, g, m.ptr.data(), m.ptr.size(), m.col.data(), m.col.size(), m.val.data(), m.val.size());
  const int64_t n = f.ConsumeIntegralInRange<int64_t>(1, 5);
  if (static_cast<double>(g.c) * g.h * g.w * n + static_cast<double>(rows) * g.oh * g.ow * n > kMaxWork) return;
  if (loops({static_cast<int64_t>(m.col.size()), g.oh, g.ow, n}) > kMaxWork || loops({rows, g.oh, g.ow, n}) > kMaxWork) return;
  std::vector<float> x = floats(f, g.c * g.h * g.w * n), y(rows * g.oh * g.ow * n);
  a->multiply(x.data(), n, y.data(), Epilogue{nullptr, false});
  const int64_t per_group = rows / groups, cin = g.c / groups, plane = g.oh * g.ow * n;
  std::vector<double> ref(y.size(), 0.0), mag(y.size(), 0.0);
  for (int64_t o = 0; o < rows; ++o)
    for (int32_t p = m.ptr[o]; p < m.ptr[o + 1]; ++p) {
      const int64_t ci = (o / per_group) * cin + m.col[p] / (g.kh * g.kw), ky = (m.col[p] / g.kw) % g.kh, kx = m.col[p] % g.kw;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
          if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
          for (int64_t j = 0; j < n; ++j) {
            const double t = static_cast<double>(m.val[p]) * x[((ci * g.h + iy) * g.w + ix) * n + j];
            ref[o * plane + (oy * g.ow + ox) * n + j] += t;
            mag[o * plane + (oy * g.ow + ox) * n + j] += std::fabs(t);
          }
        }
    }
  expect_close("direct conv", y.data(), ref, mag);
}

void fuzz_im2col(FuzzedDataProvider& f) {
  ConvGeometry g = conv_geometry(f);
  check_conv_geometry(g);
  const double in = static_cast<double>(g.c) * g.h * g.w * g.n, out = static_cast<double>(g.c) * g.kh * g.kw * g.oh * g.ow * g.n;
  // The reference loops also run over channels, taps and positions when n is 0.
  if (in + out > kMaxWork || loops({g.c, g.kh, g.kw, g.oh, g.ow, g.n}) > kMaxWork) return;
  std::vector<float> x = floats(f, static_cast<size_t>(in)), col(static_cast<size_t>(out));
  const int64_t o0 = f.ConsumeIntegralInRange<int64_t>(0, g.oh), o1 = f.ConsumeIntegralInRange<int64_t>(o0, g.oh);
  im2col_rows(x.data(), g, o0, o1, col.data());
  // Every column entry is the input pixel under the kernel tap, or 0 in the padding.
  const int64_t width = (o1 - o0) * g.ow * g.n;
  for (int64_t ci = 0; ci < g.c; ++ci)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx)
        for (int64_t oy = o0; oy < o1; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox)
            for (int64_t j = 0; j < g.n; ++j) {
              const int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
              const float want = iy < 0 || iy >= g.h || ix < 0 || ix >= g.w ? 0.0f : x[((ci * g.h + iy) * g.w + ix) * g.n + j];
              const float got = col[((ci * g.kh + ky) * g.kw + kx) * width + ((oy - o0) * g.ow + ox) * g.n + j];
              if (got != want) mismatch("im2col_rows", got, want);
            }
}

void fuzz_pool(FuzzedDataProvider& f) {
  PoolGeometry g{};
  for (int64_t* v : {&g.c, &g.h, &g.w, &g.n, &g.kh, &g.kw, &g.sh, &g.sw, &g.ph, &g.pw, &g.oh, &g.ow}) *v = size_value(f, 6);
  check_pool_geometry(g);
  const double in = static_cast<double>(g.c) * g.h * g.w * g.n, out = static_cast<double>(g.c) * g.oh * g.ow * g.n;
  // Each output scans its window clipped to the image (both the kernel and the reference).
  const double window = static_cast<double>(std::min(g.kh, g.h)) * std::min(g.kw, g.w);
  if (in + out > kMaxWork || loops({g.c, g.oh, g.ow, g.n}) * (window + 1) > kMaxWork) return;
  std::vector<float> x = floats(f, static_cast<size_t>(in)), y(static_cast<size_t>(out));
  std::vector<int32_t> arg(static_cast<size_t>(out));
  max_pool_forward(x.data(), g, y.data(), f.ConsumeBool() ? arg.data() : nullptr);
  for (int64_t ci = 0; ci < g.c; ++ci)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox)
        for (int64_t j = 0; j < g.n; ++j) {
          // The window clipped to the image (kernel sizes may be huge).
          float best = -INFINITY;
          const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
          for (int64_t iy = std::max<int64_t>(y0, 0); iy < std::min(y0 + g.kh, g.h); ++iy)
            for (int64_t ix = std::max<int64_t>(x0, 0); ix < std::min(x0 + g.kw, g.w); ++ix)
              best = std::max(best, x[((ci * g.h + iy) * g.w + ix) * g.n + j]);
          const float got = y[((ci * g.oh + oy) * g.ow + ox) * g.n + j];
          if (got != best) mismatch("max_pool_forward", got, best);
        }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  try {
    switch (f.ConsumeIntegralInRange<int>(0, 6)) {
      case 0: fuzz_csr(f); break;
      case 1: fuzz_nm(f); break;
      case 2: fuzz_bsr(f); break;
      case 3: fuzz_dense(f); break;
      case 4: fuzz_conv(f); break;
      case 5: fuzz_im2col(f); break;
      default: fuzz_pool(f); break;
    }
  } catch (const CoreError&) {
    // refused with a typed error: what the boundary is for
  }
  return 0;
}
