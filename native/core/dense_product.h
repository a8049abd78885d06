// One-off dense products for the training engine, whose operands change every step: no
// prepared handle, A is packed into GEMM panels on each call (O(m k), next to the O(m k n)
// product) and a transposed X is transposed into scratch first, so the same kernels serve
// Y = W X, dX = W^T dY and dW = dY X^T.
#pragma once
#include <cstdint>

#include "kernels/ukernels.h"

namespace sparsenn {

// Packs op(A) (rows x cols; A stored rows x cols, or cols x rows when `transposed`) into
// panels of `mr` rows: for each k the panel's mr values are adjacent, zero padded past the last
// row. `dst` holds packed_panel_floats(rows, cols, mr) floats (with slack for the GEMV).
int64_t packed_panel_floats(int64_t rows, int64_t cols, int mr);
void pack_panels(int64_t rows, int64_t cols, const float* a, bool transposed, int mr, float* dst);

// dst (cols x rows) = src (rows x cols)^T (blocked; the arrays must not overlap).
void transpose(const float* src, int64_t rows, int64_t cols, float* dst);

// Y (m x n) = A X (+ epilogue) for A packed by pack_panels, X k x n row-major: the GEMM or GEMV
// kernel on the thread pool, the work split by panels or, for short wide products, by columns.
void run_packed_gemm(const float* apack, int64_t m, int64_t k, const float* x, int64_t n, float* y, Epilogue ep);

// Y (m x n) = op(A) op(X), op(A) m x k, op(X) k x n; A stored m x k (or k x m when trans_a), X
// stored k x n (or n x k when trans_x). Shapes are the caller's to check. Runs on the pool.
// `bias` (m values, or null) is added to every column of row r.
void dense_product(int64_t m, int64_t k, int64_t n, const float* a, bool trans_a, const float* x,
                   bool trans_x, float* y, const float* bias = nullptr);

}  // namespace sparsenn
