// Direct sparse convolution on batch-last images, Y = W * X with W a CSR over (input channel,
// kernel row, kernel column): no im2col. Template over the ISA's vector type; instantiated once
// per ISA translation unit.
//
// Why direct: with the batch last, an output row (channel o, row oy) is ow * n contiguous
// floats, and for a kernel tap (c, ky, kx) at width stride 1 the inputs it multiplies are the
// ow * n contiguous floats of padded input row (c, oy * sh + ky * dh) starting at column
// kx * dw. So each kept weight is one broadcast times a contiguous run of X, and a pruned
// convolution costs its kept taps only, without im2col writing every input kh * kw times.
// The caller pads X (core/sparse_conv.cc), so no tap ever needs a bounds check; each entry's
// `off` is the tap's offset into the padded image in pixels (c * hp * wp + ky * dh * wp + kx * dw).
//
// Register tile: R output rows x NV vectors, all accumulated in registers over the channel's
// entries (each value broadcast once, R * NV independent FMA chains); narrow panels take more
// rows at a time so that even one vector per row keeps several chains busy.
// Loop order: column block -> panel -> row block -> output channel, so the padded input rows a
// row block reads stay in cache while every output channel passes over them.
//
// Everything here has internal linkage: each ISA's instantiation must stay in its own
// translation unit so the linker can never mix code built with different -m flags.
#pragma once
#include <type_traits>

#include "kernels/ukernels.h"

namespace sparsenn::impl {
namespace {

// Floats of an output row per column block (a multiple of every tile width used below).
constexpr int64_t kSpconvColBlock = 512;

// Rows [0, R) x vectors [0, NV) of the tile at output column j of rows oy..oy+R-1 of channel o:
// y points at (o, oy, j), xb at the padded input of output (oy, j) before the tap offset, `ld`
// floats between output rows and `xs` between the input rows of consecutive output rows.
template <class Vec, int R, int NV, bool kTail>
inline void spconv_tile(const int32_t* off, const float* val, int32_t p0, int32_t p1, const float* xb, int64_t n,
                        int64_t xs, float* y, int64_t ld, float bias, bool relu, int tail) {
  using V = typename Vec::V;
  constexpr int W = Vec::W;
  V acc[R][NV];
  const V b = Vec::set1(bias);
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < NV; ++u) acc[r][u] = b;
  for (int32_t p = p0; p < p1; ++p) {
    const V a = Vec::set1(val[p]);
    const float* s = xb + static_cast<int64_t>(off[p]) * n;
    for (int r = 0; r < R; ++r)
      for (int u = 0; u < NV; ++u)
        acc[r][u] = Vec::fma(a, kTail ? Vec::load_tail(s + r * xs, tail) : Vec::load(s + r * xs + u * W), acc[r][u]);
  }
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < NV; ++u) {
      const V v = relu ? Vec::relu(acc[r][u]) : acc[r][u];
      if (kTail) Vec::store_tail(y + r * ld, v, tail);
      else Vec::store(y + r * ld + u * W, v);
    }
}

// Output rows per tile for a panel of NV vectors: as many as the accumulator budget allows, at
// most 4 (more rows would read more distinct input rows per entry for no extra reuse).
template <class Vec, int NV>
constexpr int spconv_rows_per_tile() {
  return Vec::kAccRegs / NV >= 4 ? 4 : (Vec::kAccRegs / NV >= 2 ? 2 : 1);
}

// The panel of NV vectors (or the masked tail vector) at output column j, for every output row
// of channels [o0, o1): row blocks of R, then single rows.
template <class Vec, int NV, bool kTail>
inline void spconv_panel(const int32_t* rowptr, const int32_t* off, const float* val, const float* xp, int64_t n,
                         int64_t xs, int64_t oh, float* y, int64_t len, int64_t j, int64_t o0, int64_t o1,
                         Epilogue ep, int tail) {
  constexpr int R = spconv_rows_per_tile<Vec, NV>();
  auto rows = [&](auto tag, int64_t oy) {
    constexpr int RB = decltype(tag)::value;
    for (int64_t o = o0; o < o1; ++o)
      spconv_tile<Vec, RB, NV, kTail>(off, val, rowptr[o], rowptr[o + 1], xp + oy * xs + j, n, xs,
                                      y + (o * oh + oy) * len + j, len, ep.bias ? ep.bias[o] : 0.f, ep.relu, tail);
  };
  int64_t oy = 0;
  for (; oy + R <= oh; oy += R) rows(std::integral_constant<int, R>{}, oy);
  for (; oy < oh; ++oy) rows(std::integral_constant<int, 1>{}, oy);
}

template <class Vec>
void spconv(const int32_t* rowptr, const int32_t* off, const float* val, const float* xp, int64_t n,
            int64_t row_step, int64_t oh, int64_t ow, float* y, int64_t o0, int64_t o1, Epilogue ep) {
  constexpr int W = Vec::W;
  constexpr int NV = Vec::kAccRegs / 2 >= 1 ? Vec::kAccRegs / 2 : 1;  // wide panels: 2 rows per tile
  const int64_t len = ow * n;  // floats of one output row
  const int64_t xs = row_step * n;
  // Column blocks keep the input rows a row block reads (C * (R + kh - 1) rows of one block)
  // in L2 while every output channel passes over them. Within a block: wide panels, then a
  // panel of 2 vectors and single vectors with more rows per tile (so a row that is only a
  // few vectors wide, as at small batches, still keeps several FMA chains busy), then the
  // masked tail.
  for (int64_t j0 = 0; j0 < len; j0 += kSpconvColBlock) {
    const int64_t j1 = j0 + kSpconvColBlock < len ? j0 + kSpconvColBlock : len;
    int64_t j = j0;
    for (; j + NV * W <= j1; j += NV * W)
      spconv_panel<Vec, NV, false>(rowptr, off, val, xp, n, xs, oh, y, len, j, o0, o1, ep, 0);
    if (NV > 2)
      for (; j + 2 * W <= j1; j += 2 * W)
        spconv_panel<Vec, 2, false>(rowptr, off, val, xp, n, xs, oh, y, len, j, o0, o1, ep, 0);
    for (; j + W <= j1; j += W) spconv_panel<Vec, 1, false>(rowptr, off, val, xp, n, xs, oh, y, len, j, o0, o1, ep, 0);
    if (j < j1)
      spconv_panel<Vec, 1, true>(rowptr, off, val, xp, n, xs, oh, y, len, j, o0, o1, ep, static_cast<int>(j1 - j));
  }
}

}  // namespace
}  // namespace sparsenn::impl

#define SPARSENN_DEFINE_SPCONV(VEC, NAME)                                                              \
  namespace sparsenn {                                                                                 \
  void NAME(const int32_t* rowptr, const int32_t* off, const float* val, const float* xp, int64_t n,    \
            int64_t row_step, int64_t oh, int64_t ow, float* y, int64_t o0, int64_t o1, Epilogue ep) { \
    impl::spconv<VEC>(rowptr, off, val, xp, n, row_step, oh, ow, y, o0, o1, ep);                       \
  }                                                                                                    \
  }
