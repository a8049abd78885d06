// Matrices prepared for the kernels ("plan once, run many"): validated once, copied into memory
// the native side owns (so later writes to the caller's arrays cannot make a kernel read out of
// bounds), with column indices narrowed to 16 bits where the column count allows, and dense
// weights packed into GEMM panels for the ISA in use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/ukernels.h"

namespace sparsenn {

class PreparedMatrix {
 public:
  virtual ~PreparedMatrix() = default;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  virtual const char* format() const = 0;
  // Bytes of native memory held (reported to V8 as external memory).
  virtual size_t bytes() const = 0;
  // Rows of the X and Y a product reads and writes (each n floats wide): cols and rows for a
  // matrix; an operator with its own input layout (a direct convolution) says otherwise.
  virtual int64_t input_rows() const { return cols_; }
  virtual int64_t output_rows() const { return rows_; }
  // Y (rows x n) = A X (+ bias, ReLU); X is cols x n row-major. Runs on the thread pool.
  virtual void multiply(const float* x, int64_t n, float* y, Epilogue ep) const = 0;

 protected:
  PreparedMatrix(int64_t rows, int64_t cols) : rows_(rows), cols_(cols) {}
  int64_t rows_, cols_;
};

// CSR with canonical rows (column indices strictly increasing). Also the executed form of N:M
// matrices, whose rows all hold the same number of entries.
class CsrPrepared : public PreparedMatrix {
 public:
  CsrPrepared(int64_t rows, int64_t cols, std::vector<int32_t> rowptr, const int32_t* col,
              std::vector<float> val, const char* format);
  const char* format() const override { return format_; }
  size_t bytes() const override;
  void multiply(const float* x, int64_t n, float* y, Epilogue ep) const override;
  // Y (cols x n) = A^T X, X is rows x n.
  void multiply_transposed(const float* x, int64_t n, float* y) const;
  // out[p] = dot(A[r, :], B[col[p], :]) on this matrix's pattern; A rows x n, B cols x n.
  void sddmm(const float* a, const float* b, int64_t n, float* out) const;
  int64_t nnz() const { return static_cast<int64_t>(val_.size()); }
  // Replaces the values (same pattern, `len` must be nnz): the training engine's per-step
  // update, O(nnz) instead of a new preparation. Not safe while a product uses this matrix.
  void set_values(const float* v, size_t len);
  bool narrow_indices() const { return narrow_; }

 private:
  const std::vector<int64_t>& column_prefix() const;
  std::vector<int32_t> rowptr_;
  std::vector<int32_t> col32_;
  std::vector<uint16_t> col16_;
  std::vector<float> val_;
  // Column-striped copy for the SpMM kernel (see kernels/f32-csrspmm/csrspmm-impl.h).
  int32_t stripe_width_ = 0, stripes_ = 0;
  std::vector<int32_t> stripe_rowptr_;
  std::vector<uint16_t> stripe_col_;
  std::vector<float> stripe_val_;
  std::vector<int32_t> stripe_source_;  // stripe entry -> CSR entry (-1: padding), built by set_values
  bool hypersparse_ = false;             // no stripes (see build_stripes): products use a plain loop
  void build_stripes();
  const char* format_;
  bool narrow_;  // cols <= 65536: indices stored as uint16 (6 bytes per entry instead of 8)
  mutable std::once_flag colprefix_once_;
  mutable std::vector<int64_t> colprefix_;  // entries per column, prefix-summed (transposed split)
};

class BsrPrepared : public PreparedMatrix {
 public:
  BsrPrepared(int64_t rows, int64_t cols, int32_t br, int32_t bc, std::vector<int32_t> rowptr,
              const std::vector<int32_t>& col, const std::vector<float>& val);
  const char* format() const override { return "bsr"; }
  size_t bytes() const override;
  void multiply(const float* x, int64_t n, float* y, Epilogue ep) const override;

 private:
  int32_t br_, bc_;
  std::vector<int32_t> rowptr_;  // blocks per block row (for the thread split)
  // Column-striped blocks for the kernel (see kernels/f32-bsrspmm/bsrspmm-impl.h).
  int32_t stripe_width_ = 0, stripes_ = 0;  // in block columns
  std::vector<int32_t> stripe_rowptr_;
  std::vector<uint16_t> stripe_col_;
  std::vector<float> stripe_val_;
};

class DensePrepared : public PreparedMatrix {
 public:
  DensePrepared(int64_t rows, int64_t cols, const float* data);
  const char* format() const override { return "dense"; }
  size_t bytes() const override { return packed_.size() * sizeof(float); }
  void multiply(const float* x, int64_t n, float* y, Epilogue ep) const override;

 private:
  int mr_;
  std::vector<float> packed_;
};

// Validating constructors: throw CoreError (ERR_FORMAT / ERR_SHAPE / ERR_RANGE) on bad input.
std::unique_ptr<CsrPrepared> prepare_csr(int64_t rows, int64_t cols, const int32_t* rowptr,
                                         size_t rowptr_len, const int32_t* col, size_t col_len,
                                         const float* val, size_t val_len);
std::unique_ptr<CsrPrepared> prepare_nm(int64_t rows, int64_t cols, int32_t n, int32_t m,
                                        const float* val, size_t val_len, const uint8_t* idx,
                                        size_t idx_len);
std::unique_ptr<BsrPrepared> prepare_bsr(int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                         const int32_t* rowptr, size_t rowptr_len,
                                         const int32_t* col, size_t col_len, const float* val,
                                         size_t val_len);
std::unique_ptr<DensePrepared> prepare_dense(int64_t rows, int64_t cols, const float* data,
                                             size_t len);
// Throws CoreError unless (rowptr, col) is a canonical CSR of a rows x cols matrix with
// val_len stored values: rowptr of length rows + 1 from 0 to val_len, non-decreasing, and
// strictly increasing columns in range within each row.
void validate_csr(int64_t rows, int64_t cols, const int32_t* rowptr, size_t rowptr_len, const int32_t* col,
                  size_t col_len, size_t val_len);
// Checks shared by every product: sizes fit, n is a positive count.
void check_dims(int64_t rows, int64_t cols);

}  // namespace sparsenn
