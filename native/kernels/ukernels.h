// Micro-kernel signatures and declarations of every kernel in every op's X-macro list.
// Kernels receive raw pointers that the binding layer has already validated; they never
// check bounds themselves. Each processes a slice of the work (a row or panel range) so
// that the thread pool can split a product without the kernel knowing about threads.
#pragma once
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#define SPARSENN_X86 1
#else
#define SPARSENN_X86 0
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define SPARSENN_ARM64 1
#else
#define SPARSENN_ARM64 0
#endif

namespace sparsenn {

// Fused epilogue applied to every output row r: y = act(y + bias[r]).
struct Epilogue {
  const float* bias;  // length = rows of the output, or nullptr
  bool relu;
};

// Y[r, :] = sum over stripes s and entries p of stripe-row (s, r) of val[p] * X[s * kb + col[p], :]
// for rows r in [r0, r1); X is K x n row-major. The matrix is column-striped: stripe s holds
// columns [s * kb, (s + 1) * kb) as a CSR of its own with row pointers
// srowptr[s * (rows + 1) .. s * (rows + 1) + rows] into col/val and stripe-local 16-bit columns.
// `k` is X's row count (the last stripe may be narrower than kb); X and Y rows are `ld` floats
// apart (ld >= n: a caller may run a range of columns). Every stripe-row holds a
// multiple of kStripePad entries, padded with zero values at stripe-local column kb (one past the
// stripe), which the kernel maps to a zero row of its packed copy of X; kb <= 65535.
constexpr int kStripePad = 4;
using csrspmm_t = void(const int32_t* srowptr, int32_t stripes, int32_t kb, int64_t rows,
                       int64_t k, const uint16_t* col, const float* val, const float* x, int64_t n, int64_t ld,
                       float* y, int64_t r0, int64_t r1, Epilogue ep);
// n == 1: y[r] = sum_p val[p] * x[col[p]].
template <typename Idx>
using csrspmv_fn = void(const int32_t* rowptr, const Idx* col, const float* val, const float* x,
                        float* y, int64_t r0, int64_t r1, Epilogue ep);
// Y (K x n) += A^T X for the columns k of A in [k0, k1) only; X is M x n. Columns within a
// row must be sorted so each row's slice [k0, k1) is found by binary search.
template <typename Idx>
using csrspmmt_fn = void(const int32_t* rowptr, const Idx* col, const float* val, const float* x,
                         int64_t n, float* y, int64_t m, int64_t k0, int64_t k1);
// out[p] = dot(A[r, :], B[col[p], :]) for the nonzeros p of rows [r0, r1); A is M x n, B is K x n.
template <typename Idx>
using sddmm_fn = void(const int32_t* rowptr, const Idx* col, const float* a, const float* b,
                      int64_t n, float* out, int64_t r0, int64_t r1);
// Block-sparse rows: blocks of br x bc values (row-major inside the block), column-striped like
// the CSR SpMM: stripe s holds block columns [s * sbw, (s + 1) * sbw) with row pointers per block
// row at srowptr[s * (brows + 1) ..] and stripe-local block-column indices. Block rows [b0, b1);
// `m` is the true row count (padding rows of the last block row are never written) and `k`
// X's row count (the last block column may hang over it; those columns are skipped); X and Y
// rows are `ld` floats apart (ld >= n).
using bsrspmm_fn = void(int32_t br, int32_t bc, const int32_t* srowptr, int32_t stripes,
                        int32_t sbw, int64_t brows, const uint16_t* col, const float* val,
                        const float* x, int64_t k, int64_t n, int64_t ld, float* y, int64_t m, int64_t b0,
                        int64_t b1, Epilogue ep);
// Dense Y = A X with A packed in panels of MR rows (k-major inside a panel, zero padded),
// for panels [p0, p1). `m` is the true row count; X (k x n) and Y (m x n) rows are `ld`
// floats apart (ld >= n: a caller may run a range of columns).
using gemm_fn = void(const float* apack, int64_t m, int64_t k, const float* x, int64_t n, int64_t ld,
                     float* y, int64_t p0, int64_t p1, Epilogue ep);
// n == 1 on the same packed layout.
using gemv_fn = void(const float* apack, int64_t m, int64_t k, const float* x, float* y,
                     int64_t p0, int64_t p1, Epilogue ep);

// Direct sparse convolution on batch-last images (kernels/f32-spconv/spconv-impl.h): for output
// channels o in [o0, o1) and every output row oy < oh,
//   Y[o, oy, :] = sum over entries p of row o of val[p] * XP[(off[p] + oy * row_step) * n + 0 .. ow * n)
// where XP is the padded input image (pixels of n floats, width stride 1 folded into `off`),
// Y is (rows x oh x ow x n) and row_step the pixels between the input rows of consecutive output
// rows (stride_h * padded width). Bias per output channel, ReLU after it.
using spconv_fn = void(const int32_t* rowptr, const int32_t* off, const float* val, const float* xp, int64_t n,
                       int64_t row_step, int64_t oh, int64_t ow, float* y, int64_t o0, int64_t o1, Epilogue ep);

// y[i] = gelu(x[i]) for i < n by the branch-free rational erf (kernels/f32-vgelu/vgelu-impl.h),
// exact to float rounding except below x = -2 and for NaN, which the caller redoes.
using vgelu_fn = void(const float* x, float* y, int64_t n);

using csrspmv_i32_t = csrspmv_fn<int32_t>;
using csrspmv_u16_t = csrspmv_fn<uint16_t>;
using csrspmmt_i32_t = csrspmmt_fn<int32_t>;
using csrspmmt_u16_t = csrspmmt_fn<uint16_t>;
using sddmm_i32_t = sddmm_fn<int32_t>;
using sddmm_u16_t = sddmm_fn<uint16_t>;
using bsrspmm_t = bsrspmm_fn;
using gemm_t = gemm_fn;
using gemv_t = gemv_fn;
using spconv_t = spconv_fn;
using vgelu_t = vgelu_fn;

// Declare every kernel named in the lists.
#define SPARSENN_UKERNEL(slot, isa, fn, tile) slot##_t fn;
#include "kernels/all-kernels.inc"
#undef SPARSENN_UKERNEL

}  // namespace sparsenn
