#include "core/sparse_conv.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/kernel_table.h"
#include "core/partition.h"
#include "core/thread_pool.h"

namespace sparsenn {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

// The padded copy of the input, one per calling thread and kept between calls; the pool's
// workers only read it while the caller waits for them.
thread_local std::vector<float> tl_padded;

}  // namespace

SparseConvPrepared::SparseConvPrepared(int64_t rows, int64_t cols, const ConvGeometry& g,
                                       std::vector<int32_t> rowptr, std::vector<int32_t> off, std::vector<float> val)
    : PreparedMatrix(rows, cols),
      g_(g),
      hp_(g.h + 2 * g.ph),
      wp_(g.w + 2 * g.pw),
      rowptr_(std::move(rowptr)),
      off_(std::move(off)),
      val_(std::move(val)) {}

size_t SparseConvPrepared::bytes() const { return rowptr_.size() * 4 + off_.size() * 4 + val_.size() * 4; }

void SparseConvPrepared::multiply(const float* x, int64_t n, float* y, Epilogue ep) const {
  const KernelTable& k = kernels();
  if (val_.empty() || g_.c * hp_ * wp_ == 0) {
    // No taps or no image: every output is its epilogue alone (and x may be empty, so the
    // kernels must not offset into it).
    const int64_t plane = g_.oh * g_.ow * n;
    for (int64_t o = 0; o < rows_; ++o) {
      const float b = ep.bias ? ep.bias[o] : 0.f;
      std::fill(y + o * plane, y + (o + 1) * plane, ep.relu && b < 0.f ? 0.f : b);
    }
    return;
  }
  const float* xp = x;
  if (g_.ph != 0 || g_.pw != 0) {
    // Zero border, image copied inside it: one pass, rows of w * n floats.
    const int64_t row = wp_ * n, inner = g_.w * n, lead = g_.pw * n;
    if (static_cast<double>(g_.c) * hp_ * wp_ * n > 2147483647.0)
      fail("ERR_RANGE", "the padded input image would have more than 2^31 - 1 floats at batch " + str(n));
    tl_padded.resize(static_cast<size_t>(g_.c * hp_ * row));
    float* dst = tl_padded.data();
    const RowSplit split = split_even(g_.c, g_.c * hp_ * row);
    ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
      for (int64_t c = split.begin(t); c < split.end(t); ++c) {
        float* d = dst + c * hp_ * row;
        std::fill(d, d + g_.ph * row, 0.f);
        for (int64_t i = 0; i < g_.h; ++i) {
          float* dr = d + (g_.ph + i) * row;
          std::fill(dr, dr + lead, 0.f);
          std::copy(x + (c * g_.h + i) * inner, x + (c * g_.h + i + 1) * inner, dr + lead);
          std::fill(dr + lead + inner, dr + row, 0.f);
        }
        std::fill(d + (g_.ph + g_.h) * row, d + hp_ * row, 0.f);
      }
    });
    xp = dst;
  }
  const RowSplit split = split_by_prefix(rowptr_.data(), rows_, g_.oh * g_.ow * n);
  ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
    k.spconv(rowptr_.data(), off_.data(), val_.data(), xp, n, g_.sh * wp_, g_.oh, g_.ow, y, split.begin(t),
             split.end(t), ep);
  });
  // A thread keeps its buffer for the next call, unless it grew past 64 MB (one huge batch).
  if (tl_padded.capacity() > (size_t(16) << 20)) std::vector<float>().swap(tl_padded);
}

std::unique_ptr<SparseConvPrepared> prepare_conv(int64_t rows, int64_t cols, int64_t groups, const ConvGeometry& g,
                                                 const int32_t* rowptr, size_t rowptr_len, const int32_t* col,
                                                 size_t col_len, const float* val, size_t val_len) {
  check_dims(rows, cols);
  check_conv_geometry(g);
  if (g.sw != 1)
    fail("ERR_RANGE", "the direct sparse convolution needs a width stride of 1, got " + str(g.sw) +
                          "; run this convolution through im2col instead");
  if (groups < 1 || g.c % groups != 0 || rows % groups != 0)
    fail("ERR_SHAPE", "groups = " + str(groups) + " must be >= 1 and divide both the input channels (" + str(g.c) +
                          ") and the output channels (" + str(rows) + ")");
  if (cols != (g.c / groups) * g.kh * g.kw)
    fail("ERR_SHAPE", "the weight has " + str(cols) + " columns, expected (input channels / groups) * kh * kw = " +
                          str((g.c / groups) * g.kh * g.kw));
  const double padded = static_cast<double>(g.c) * (g.h + 2 * g.ph) * (g.w + 2 * g.pw);
  if (padded > 2147483647.0) fail("ERR_RANGE", "the padded input image has more than 2^31 - 1 pixels");
  validate_csr(rows, cols, rowptr, rowptr_len, col, col_len, val_len);
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, cg = g.c / groups, per_group = rows / groups;
  std::vector<int32_t> off(col_len);
  for (int64_t o = 0; o < rows; ++o)
    for (int32_t p = rowptr[o]; p < rowptr[o + 1]; ++p) {
      const int64_t c = (o / per_group) * cg + col[p] / (g.kh * g.kw);
      const int64_t ky = col[p] / g.kw % g.kh, kx = col[p] % g.kw;
      off[p] = static_cast<int32_t>((c * hp + ky * g.dh) * wp + kx * g.dw);
    }
  return std::make_unique<SparseConvPrepared>(rows, cols, g, std::vector<int32_t>(rowptr, rowptr + rows + 1),
                                              std::move(off), std::vector<float>(val, val + val_len));
}

}  // namespace sparsenn
