#include "core/dense_product.h"

#include <vector>

#include "core/kernel_table.h"
#include "core/partition.h"
#include "core/thread_pool.h"

namespace sparsenn {

int64_t packed_panel_floats(int64_t rows, int64_t cols, int mr) {
  const int64_t panels = (rows + mr - 1) / mr;
  return panels * mr * cols + 16;  // the GEMV reads whole vectors past the last panel
}

void pack_panels(int64_t rows, int64_t cols, const float* a, bool transposed, int mr, float* dst) {
  const int64_t panels = (rows + mr - 1) / mr;
  const int64_t total = packed_panel_floats(rows, cols, mr);
  for (int64_t i = panels * mr * cols; i < total; ++i) dst[i] = 0.f;
  if (cols == 0) return;  // nothing to pack (and rows may be 2^31 - 1: do not loop over them)
  for (int64_t p = 0; p < panels; ++p) {
    float* panel = dst + p * mr * cols;
    const int64_t r0 = p * mr;
    const int live = static_cast<int>(rows - r0 < mr ? rows - r0 : mr);
    if (transposed) {  // A is cols x rows: a panel's mr values for one k are adjacent already
      for (int64_t k = 0; k < cols; ++k) {
        const float* src = a + k * rows + r0;
        float* out = panel + k * mr;
        int r = 0;
        for (; r < live; ++r) out[r] = src[r];
        for (; r < mr; ++r) out[r] = 0.f;
      }
    } else {
      for (int r = 0; r < mr; ++r) {
        if (r < live) {
          const float* src = a + (r0 + r) * cols;
          for (int64_t k = 0; k < cols; ++k) panel[k * mr + r] = src[k];
        } else {
          for (int64_t k = 0; k < cols; ++k) panel[k * mr + r] = 0.f;
        }
      }
    }
  }
}

// dst (cols x rows) = src (rows x cols)^T, in 32 x 32 blocks so both sides stay in cache.
void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t B = 32;
  for (int64_t i0 = 0; i0 < rows; i0 += B)
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
      const int64_t i1 = i0 + B < rows ? i0 + B : rows, j1 = j0 + B < cols ? j0 + B : cols;
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) dst[j * rows + i] = src[i * cols + j];
    }
}

void run_packed_gemm(const float* apack, int64_t m, int64_t k, const float* x, int64_t n, float* y, Epilogue ep) {
  const KernelTable& kt = kernels();
  const int mr = kt.gemm_mr;
  const int64_t panels = (m + mr - 1) / mr;
  if (n == 1) {
    const RowSplit split = split_even(panels, m * k);
    ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) { kt.gemv(apack, m, k, x, y, split.begin(t), split.end(t), ep); });
    return;
  }
  // Each task packs the X columns it covers, once per panel group: split the panels while
  // there are several per task (X is then packed by each of a few tasks), but a short, wide
  // product (a conv layer's few output channels over thousands of im2col columns) is split by
  // columns, or every task would pack all of X.
  const int64_t threads = ThreadPool::instance().threads();
  const RowSplit panel_split = split_even(panels, m * k * n);
  int64_t col_tasks = 1;
  if (panel_split.tasks() > 1 && panels < 4 * threads && n >= 64 * threads) {
    col_tasks = threads * kTasksPerThread < n / 32 ? threads * kTasksPerThread : n / 32;
  }
  if (col_tasks <= 1) {
    ThreadPool::instance().parallel_for(panel_split.tasks(), [&](int64_t t) {
      kt.gemm(apack, m, k, x, n, n, y, panel_split.begin(t), panel_split.end(t), ep);
    });
    return;
  }
  // Column chunks rounded to 16 floats, so every chunk but the last runs whole vector tiles.
  const int64_t chunk = ((n + col_tasks - 1) / col_tasks + 15) / 16 * 16;
  const int64_t chunks = (n + chunk - 1) / chunk;
  ThreadPool::instance().parallel_for(chunks, [&](int64_t t) {
    const int64_t j0 = t * chunk, w = n - j0 < chunk ? n - j0 : chunk;
    kt.gemm(apack, m, k, x + j0, w, n, y + j0, 0, panels, ep);
  });
}

void dense_product(int64_t m, int64_t k, int64_t n, const float* a, bool trans_a, const float* x,
                   bool trans_x, float* y, const float* bias) {
  if (m == 0 || n == 0) return;
  // Scratch reused across calls on this thread (grow-only): a training step calls this a few
  // times per layer, and fresh buffers of tens of MB would cost page faults every time.
  thread_local std::vector<float> packed, xt, yt;
  auto grow = [](std::vector<float>& v, int64_t len) {
    if (v.size() < static_cast<size_t>(len)) v.resize(static_cast<size_t>(len));
    return v.data();
  };
  const int mr = kernels().gemm_mr;
  // Y = A X^T with a long shared dimension (a weight gradient dY col^T: k = pixels x batch) would
  // transpose the big X; Y^T = X A^T packs X as panels instead (a sequential read) and
  // transposes only A and the small result. Taken when that moves fewer floats.
  if (trans_x && !trans_a && !bias && n > 1 && m * k + m * n < k * n) {
    float* at = grow(xt, k * m);
    transpose(a, m, k, at);
    pack_panels(n, k, x, false, mr, grow(packed, packed_panel_floats(n, k, mr)));
    float* ytp = grow(yt, n * m);
    run_packed_gemm(packed.data(), n, k, at, m, ytp, Epilogue{nullptr, false});
    transpose(ytp, n, m, y);
    return;
  }
  pack_panels(m, k, a, trans_a, mr, grow(packed, packed_panel_floats(m, k, mr)));
  if (trans_x && n > 1) {  // a single column reads the same either way
    float* t = grow(xt, k * n);
    transpose(x, n, k, t);
    x = t;
  }
  run_packed_gemm(packed.data(), m, k, x, n, y, Epilogue{bias, false});
}

}  // namespace sparsenn
