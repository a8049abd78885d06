#include "core/prepared.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/dense_product.h"
#include "core/error.h"
#include "core/kernel_table.h"
#include "core/partition.h"
#include "core/thread_pool.h"

namespace sparsenn {
namespace {

constexpr int64_t kMaxDim = 0x7fffffff;

std::string str(int64_t v) { return std::to_string(v); }

// Column stripes for the SpMM kernels (kernels/f32-csrspmm/csrspmm-impl.h): a stripe is `width`
// consecutive columns (or block columns); its entries form a CSR of their own with stripe-local
// 16-bit indices. The width keeps a stripe's panel of X in L1 (the kernel's panel is
// csrspmm_nr floats wide) yet leaves several entries per stripe-row on average, so the
// per-stripe-row work (row pointers, adding into Y) stays small next to the FMAs.
int64_t stripe_width(int64_t rows, int64_t units, int64_t entries, int64_t unit_cols) {
  constexpr int64_t kL1PanelBytes = 24 * 1024;
  constexpr double kMinEntriesPerStripeRow = 32.0;
  const int64_t nr = kernels().csrspmm_nr;
  int64_t width = kL1PanelBytes / (nr * 4) / unit_cols;
  const double density = rows * units > 0 ? static_cast<double>(entries) / (static_cast<double>(rows) * units) : 1.0;
  // No entries: narrow stripes would only cost a row-pointer array each (stripes x rows), so
  // take the widest. Very sparse: clamp in double first (the quotient can exceed int64).
  // At most 65535: a stripe-local index must fit 16 bits, and the padding index is the width.
  if (density == 0) width = 65535;
  else if (kMinEntriesPerStripeRow / density > width)
    width = kMinEntriesPerStripeRow / density >= 65535 ? 65535 : static_cast<int64_t>(kMinEntriesPerStripeRow / density);
  if (width > 65535) width = 65535;
  if (width > units) width = units;
  return width < 1 ? 1 : width;
}

struct Stripes {
  int32_t count = 0;
  std::vector<int32_t> rowptr;  // count x (rows + 1)
  std::vector<uint16_t> col;    // stripe-local index of each entry
  std::vector<int32_t> source;  // position of each entry in the original arrays, -1 for padding
};

// Counts entries per (stripe, row), rounded up to a multiple of `pad`, prefix-sums
// stripe-major, then scatters; rows keep their order, so each stripe-row stays sorted (padding
// comes last, at local column `width`: see below).
template <typename ColAt>
Stripes make_stripes(const int32_t* rowptr, int64_t rows, int64_t units, int64_t width, int pad, ColAt col_at) {
  Stripes st;
  st.count = static_cast<int32_t>((units + width - 1) / width);
  st.rowptr.assign(static_cast<size_t>(st.count) * (rows + 1), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t p = rowptr[r]; p < rowptr[r + 1]; ++p) st.rowptr[(col_at(p) / width) * (rows + 1) + r + 1]++;
  int64_t running = 0;
  for (int32_t s = 0; s < st.count; ++s) {
    int32_t* rp = st.rowptr.data() + static_cast<size_t>(s) * (rows + 1);
    rp[0] = static_cast<int32_t>(running);
    for (int64_t r = 0; r < rows; ++r) {
      running += (rp[r + 1] + pad - 1) / pad * pad;
      if (running > 0x7fffffff) fail("ERR_SHAPE", "matrix too large for the SpMM layout (more than 2^31 - 1 padded entries)");
      rp[r + 1] = static_cast<int32_t>(running);
    }
  }
  const size_t total = static_cast<size_t>(running);
  st.col.assign(total, 0);
  st.source.assign(total, -1);
  std::vector<int32_t> next(st.count);
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t s = 0; s < st.count; ++s) next[s] = st.rowptr[static_cast<size_t>(s) * (rows + 1) + r];
    for (int32_t p = rowptr[r]; p < rowptr[r + 1]; ++p) {
      const int64_t c = col_at(p);
      const int32_t q = next[c / width]++;
      st.col[q] = static_cast<uint16_t>(c % width);
      st.source[q] = p;
    }
    // Padding (value 0) points at local column `width`, which the kernel maps to a zero row it
    // appends to each packed stripe: 0 * X[c] would be NaN for an infinite X[c], and must not
    // reach any row.
    for (int32_t s = 0; s < st.count; ++s) {
      const int32_t end = st.rowptr[static_cast<size_t>(s) * (rows + 1) + r + 1];
      for (int32_t q = next[s]; q < end; ++q) st.col[q] = static_cast<uint16_t>(width);
    }
  }
  return st;
}

}  // namespace

void check_dims(int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0 || rows > kMaxDim || cols > kMaxDim)
    fail("ERR_SHAPE", "matrix shape " + str(rows) + "x" + str(cols) +
                          " is invalid: rows and cols must be integers in [0, 2^31 - 1]");
}

// ---------------------------------------------------------------- CSR

CsrPrepared::CsrPrepared(int64_t rows, int64_t cols, std::vector<int32_t> rowptr,
                         const int32_t* col, std::vector<float> val, const char* format)
    : PreparedMatrix(rows, cols),
      rowptr_(std::move(rowptr)),
      val_(std::move(val)),
      format_(format),
      narrow_(cols <= 65536) {
  const size_t nnz = val_.size();
  if (narrow_) col16_.assign(col, col + nnz);
  else col32_.assign(col, col + nnz);
  build_stripes();
}

void CsrPrepared::build_stripes() {
  auto col_at = [&](int32_t p) -> int64_t { return narrow_ ? col16_[p] : col32_[p]; };
  const int64_t width = stripe_width(rows_, cols_, static_cast<int64_t>(val_.size()), 1);
  // Stripes are at most 65535 columns wide, so a hypersparse matrix with a huge column count
  // (say 2^20 x 2^31 with a few entries) would need a row-pointer array per stripe: far more
  // memory than the matrix. Such a matrix keeps plain CSR and multiplies with a simple loop.
  const double table = std::ceil(static_cast<double>(cols_) / width) * (static_cast<double>(rows_) + 1);
  if (table > 8.0 * (static_cast<double>(val_.size()) + rows_ + 1) + 65536.0) {
    hypersparse_ = true;
    return;
  }
  Stripes st = make_stripes(rowptr_.data(), rows_, cols_, width, kStripePad, col_at);
  stripe_width_ = static_cast<int32_t>(width);
  stripes_ = st.count;
  stripe_rowptr_ = std::move(st.rowptr);
  stripe_col_ = std::move(st.col);
  stripe_val_.resize(st.source.size());
  for (size_t q = 0; q < st.source.size(); ++q) stripe_val_[q] = st.source[q] < 0 ? 0.f : val_[st.source[q]];
}

void CsrPrepared::set_values(const float* v, size_t len) {
  if (len != val_.size())
    fail("ERR_FORMAT", "values has length " + str(static_cast<int64_t>(len)) + ", the matrix has nnz = " + str(nnz()));
  if (stripe_source_.empty() && !stripe_val_.empty() && !hypersparse_) {
    auto col_at = [&](int32_t p) -> int64_t { return narrow_ ? col16_[p] : col32_[p]; };
    stripe_source_ = make_stripes(rowptr_.data(), rows_, cols_, stripe_width_, kStripePad, col_at).source;
  }
  std::copy(v, v + len, val_.begin());
  for (size_t q = 0; q < stripe_source_.size(); ++q) stripe_val_[q] = stripe_source_[q] < 0 ? 0.f : v[stripe_source_[q]];
}

size_t CsrPrepared::bytes() const {
  return rowptr_.size() * 4 + col32_.size() * 4 + col16_.size() * 2 + val_.size() * 4 +
         stripe_rowptr_.size() * 4 + stripe_col_.size() * 2 + stripe_val_.size() * 4 + colprefix_.size() * 8 +
         stripe_source_.size() * 4;
}

void validate_csr(int64_t rows, int64_t cols, const int32_t* rowptr, size_t rowptr_len, const int32_t* col,
                  size_t col_len, size_t val_len) {
  if (rowptr_len != static_cast<size_t>(rows) + 1)
    fail("ERR_FORMAT", "CSR rowPtr has length " + str(rowptr_len) + ", expected rows + 1 = " + str(rows + 1));
  if (col_len != val_len)
    fail("ERR_FORMAT", "CSR colIdx has length " + str(col_len) + " but values has length " + str(val_len) +
                           "; they must be equal (one column index per stored value)");
  if (rowptr[0] != 0) fail("ERR_FORMAT", "CSR rowPtr[0] is " + str(rowptr[0]) + ", expected 0");
  for (int64_t r = 0; r < rows; ++r)
    if (rowptr[r + 1] < rowptr[r])
      fail("ERR_FORMAT", "CSR rowPtr is not non-decreasing: rowPtr[" + str(r + 1) + "] = " + str(rowptr[r + 1]) +
                             " < rowPtr[" + str(r) + "] = " + str(rowptr[r]));
  if (static_cast<size_t>(rowptr[rows]) != val_len)
    fail("ERR_FORMAT", "CSR rowPtr[rows] is " + str(rowptr[rows]) + ", expected nnz = " + str(val_len));
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t p = rowptr[r]; p < rowptr[r + 1]; ++p) {
      const int32_t c = col[p];
      if (c < 0 || c >= cols)
        fail("ERR_RANGE", "CSR colIdx[" + str(p) + "] = " + str(c) + " in row " + str(r) +
                              " is out of range; expected 0 <= col < " + str(cols));
      if (p > rowptr[r] && c <= col[p - 1])
        fail("ERR_FORMAT", "CSR row " + str(r) + " has column indices out of order or repeated (" +
                               str(col[p - 1]) + " then " + str(c) +
                               "); expected strictly increasing columns within a row (use CsrMatrix.fromCoo to sort and merge)");
    }
  }
}

std::unique_ptr<CsrPrepared> prepare_csr(int64_t rows, int64_t cols, const int32_t* rowptr,
                                         size_t rowptr_len, const int32_t* col, size_t col_len,
                                         const float* val, size_t val_len) {
  check_dims(rows, cols);
  validate_csr(rows, cols, rowptr, rowptr_len, col, col_len, val_len);
  std::vector<int32_t> rp(rowptr, rowptr + rows + 1);
  std::vector<float> v(val, val + val_len);
  return std::make_unique<CsrPrepared>(rows, cols, std::move(rp), col, std::move(v), "csr");
}

std::unique_ptr<CsrPrepared> prepare_nm(int64_t rows, int64_t cols, int32_t n, int32_t m,
                                        const float* val, size_t val_len, const uint8_t* idx,
                                        size_t idx_len) {
  check_dims(rows, cols);
  if (m < 1 || m > 255 || n < 1 || n > m)
    fail("ERR_FORMAT", "N:M pattern " + str(n) + ":" + str(m) + " is invalid; expected 1 <= N <= M <= 255");
  const int64_t groups = (cols + m - 1) / m;
  const int64_t per_row = groups * n;
  if (rows * per_row > kMaxDim) fail("ERR_SHAPE", "N:M matrix has more than 2^31 - 1 stored values");
  const size_t expect = static_cast<size_t>(rows * per_row);
  if (val_len != expect || idx_len != expect)
    fail("ERR_FORMAT", "N:M values and indices must both have length rows * ceil(cols / M) * N = " + str(expect) +
                           "; got " + str(val_len) + " and " + str(idx_len));
  std::vector<int32_t> rowptr(rows + 1);
  std::vector<int32_t> col(expect);
  for (int64_t r = 0; r <= rows; ++r) rowptr[r] = static_cast<int32_t>(r * per_row);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g)
      for (int32_t j = 0; j < n; ++j) {
        const int64_t p = (r * groups + g) * n + j;
        const int64_t c = g * m + idx[p];
        if (idx[p] >= m || c >= cols)
          fail("ERR_RANGE", "N:M index " + str(idx[p]) + " at row " + str(r) + ", group " + str(g) +
                                " is out of range; expected an offset < M that stays inside " + str(cols) + " columns");
        if (j > 0 && idx[p] <= idx[p - 1])
          fail("ERR_FORMAT", "N:M offsets within a group must be strictly increasing (row " + str(r) +
                                 ", group " + str(g) + ")");
        col[p] = static_cast<int32_t>(c);
      }
  std::vector<float> v(val, val + val_len);
  return std::make_unique<CsrPrepared>(rows, cols, std::move(rowptr), col.data(), std::move(v), "nm");
}

void CsrPrepared::multiply(const float* x, int64_t n, float* y, Epilogue ep) const {
  const KernelTable& k = kernels();
  const int32_t* rp = rowptr_.data();
  const float* v = val_.data();
  const int64_t rows = rows_;
  if (n == 1) {
    // An SpMV entry (index load, scattered x load, one FMA) costs several times a multiply-add
    // of the SpMM's vector panels; weighted so, a 768x3072 matrix at 10% (236k entries, ~110 us)
    // splits across 2 threads (1.6x faster measured) and LeNet's 300x784 (24k) does not.
    constexpr int64_t kSpmvEntryCost = 8;
    const RowSplit split = split_by_prefix(rp, rows, kSpmvEntryCost);
    ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
      if (narrow_) k.csrspmv_u16(rp, col16_.data(), v, x, y, split.begin(t), split.end(t), ep);
      else k.csrspmv_i32(rp, col32_.data(), v, x, y, split.begin(t), split.end(t), ep);
    });
    return;
  }
  if (hypersparse_) {
    const RowSplit split = split_by_prefix(rp, rows, n);
    ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
      for (int64_t r = split.begin(t); r < split.end(t); ++r) {
        float* yr = y + r * n;
        std::fill(yr, yr + n, ep.bias ? ep.bias[r] : 0.f);
        for (int32_t p = rp[r]; p < rp[r + 1]; ++p) {
          const float* xc = x + (narrow_ ? col16_[p] : col32_[p]) * n;
          for (int64_t j = 0; j < n; ++j) yr[j] += v[p] * xc[j];
        }
        if (ep.relu)
          for (int64_t j = 0; j < n; ++j) yr[j] = yr[j] > 0.f || yr[j] != yr[j] ? yr[j] : 0.f;  // NaN stays, as in the kernels
      }
    });
    return;
  }
  // A batch wide enough for a kernel panel per thread splits by columns (see split_columns);
  // a narrower one by rows.
  const int64_t work = (static_cast<int64_t>(rp[rows]) + rows * kRowCost) * n;
  const ProductSplit split = split_product(n, k.csrspmm_nr, work, rows, [&] { return split_by_prefix(rp, rows, n); });
  ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
    const ProductSplit::Range q = split.range(t);
    k.csrspmm(stripe_rowptr_.data(), stripes_, stripe_width_, rows, cols_, stripe_col_.data(), stripe_val_.data(), x + q.j0,
              q.j1 - q.j0, n, y + q.j0, q.r0, q.r1, ep);
  });
}

const std::vector<int64_t>& CsrPrepared::column_prefix() const {
  std::call_once(colprefix_once_, [this] {
    colprefix_.assign(cols_ + 1, 0);
    for (size_t p = 0; p < val_.size(); ++p) colprefix_[(narrow_ ? col16_[p] : col32_[p]) + 1]++;
    for (int64_t c = 0; c < cols_; ++c) colprefix_[c + 1] += colprefix_[c];
  });
  return colprefix_;
}

void CsrPrepared::multiply_transposed(const float* x, int64_t n, float* y) const {
  std::fill(y, y + cols_ * n, 0.f);
  const KernelTable& k = kernels();
  const std::vector<int64_t>& prefix = column_prefix();
  // Split the output rows (A's columns) by how many entries land in them; each task scans
  // every row of A but binary-searches straight to its own column slice.
  const RowSplit split = split_by_prefix(prefix.data(), cols_, n);
  ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
    if (narrow_)
      k.csrspmmt_u16(rowptr_.data(), col16_.data(), val_.data(), x, n, y, rows_, split.begin(t), split.end(t));
    else
      k.csrspmmt_i32(rowptr_.data(), col32_.data(), val_.data(), x, n, y, rows_, split.begin(t), split.end(t));
  });
}

void CsrPrepared::sddmm(const float* a, const float* b, int64_t n, float* out) const {
  const KernelTable& k = kernels();
  const RowSplit split = split_by_prefix(rowptr_.data(), rows_, n);
  ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
    if (narrow_) k.sddmm_u16(rowptr_.data(), col16_.data(), a, b, n, out, split.begin(t), split.end(t));
    else k.sddmm_i32(rowptr_.data(), col32_.data(), a, b, n, out, split.begin(t), split.end(t));
  });
}

// ---------------------------------------------------------------- BSR

BsrPrepared::BsrPrepared(int64_t rows, int64_t cols, int32_t br, int32_t bc, std::vector<int32_t> rowptr,
                         const std::vector<int32_t>& col, const std::vector<float>& val)
    : PreparedMatrix(rows, cols), br_(br), bc_(bc), rowptr_(std::move(rowptr)) {
  const int64_t brows = static_cast<int64_t>(rowptr_.size()) - 1, bcols = (cols + bc - 1) / bc;
  const int64_t blk = static_cast<int64_t>(br) * bc;
  stripe_width_ = static_cast<int32_t>(stripe_width(brows, bcols, static_cast<int64_t>(col.size()), bc));
  Stripes st = make_stripes(rowptr_.data(), brows, bcols, stripe_width_, 1, [&](int32_t q) -> int64_t { return col[q]; });
  stripes_ = st.count;
  stripe_rowptr_ = std::move(st.rowptr);
  stripe_col_ = std::move(st.col);
  stripe_val_.resize(val.size());
  for (size_t q = 0; q < st.source.size(); ++q)
    std::copy(val.begin() + st.source[q] * blk, val.begin() + (st.source[q] + 1) * blk, stripe_val_.begin() + q * blk);
}

size_t BsrPrepared::bytes() const {
  return rowptr_.size() * 4 + stripe_rowptr_.size() * 4 + stripe_col_.size() * 2 + stripe_val_.size() * 4;
}

std::unique_ptr<BsrPrepared> prepare_bsr(int64_t rows, int64_t cols, int32_t br, int32_t bc,
                                         const int32_t* rowptr, size_t rowptr_len,
                                         const int32_t* col, size_t col_len, const float* val,
                                         size_t val_len) {
  check_dims(rows, cols);
  if (br != 1 && br != 2 && br != 4 && br != 8)
    fail("ERR_FORMAT", "BSR block height " + str(br) + " is not supported; expected 1, 2, 4 or 8");
  if (bc < 1 || bc > 64) fail("ERR_FORMAT", "BSR block width " + str(bc) + " is invalid; expected 1 to 64");
  const int64_t brows = (rows + br - 1) / br, bcols = (cols + bc - 1) / bc;
  if (rowptr_len != static_cast<size_t>(brows) + 1)
    fail("ERR_FORMAT", "BSR rowPtr has length " + str(rowptr_len) + ", expected ceil(rows / blockRows) + 1 = " + str(brows + 1));
  if (rowptr[0] != 0) fail("ERR_FORMAT", "BSR rowPtr[0] is " + str(rowptr[0]) + ", expected 0");
  for (int64_t b = 0; b < brows; ++b)
    if (rowptr[b + 1] < rowptr[b]) fail("ERR_FORMAT", "BSR rowPtr is not non-decreasing at block row " + str(b));
  if (static_cast<size_t>(rowptr[brows]) != col_len)
    fail("ERR_FORMAT", "BSR rowPtr[last] is " + str(rowptr[brows]) + ", expected the block count " + str(col_len));
  const int64_t blk = static_cast<int64_t>(br) * bc;
  if (static_cast<uint64_t>(col_len) * blk != val_len)
    fail("ERR_FORMAT", "BSR values has length " + str(val_len) + ", expected blocks * blockRows * blockCols = " +
                           str(static_cast<int64_t>(col_len) * blk));
  for (int64_t b = 0; b < brows; ++b)
    for (int32_t q = rowptr[b]; q < rowptr[b + 1]; ++q) {
      if (col[q] < 0 || col[q] >= bcols)
        fail("ERR_RANGE", "BSR block column " + str(col[q]) + " at block " + str(q) + " is out of range; expected 0 <= col < " + str(bcols));
      if (q > rowptr[b] && col[q] <= col[q - 1])
        fail("ERR_FORMAT", "BSR block row " + str(b) + " has block columns out of order or repeated");
    }
  std::vector<float> v(val, val + val_len);
  // Padding rows/columns of edge blocks must not contribute: zero them in our copy.
  for (int64_t b = 0; b < brows; ++b)
    for (int32_t q = rowptr[b]; q < rowptr[b + 1]; ++q)
      for (int32_t r = 0; r < br; ++r)
        for (int32_t c = 0; c < bc; ++c)
          if (b * br + r >= rows || static_cast<int64_t>(col[q]) * bc + c >= cols) v[q * blk + r * bc + c] = 0.f;
  return std::make_unique<BsrPrepared>(rows, cols, br, bc, std::vector<int32_t>(rowptr, rowptr + brows + 1),
                                       std::vector<int32_t>(col, col + col_len), v);
}

void BsrPrepared::multiply(const float* x, int64_t n, float* y, Epilogue ep) const {
  const KernelTable& k = kernels();
  const int64_t brows = static_cast<int64_t>(rowptr_.size()) - 1;
  // As the CSR SpMM: wide batches split by columns (whole kernel panels), narrow ones by rows.
  const int64_t work = static_cast<int64_t>(rowptr_[brows]) * br_ * bc_ * n;
  const ProductSplit split =
      split_product(n, k.csrspmm_nr, work, brows, [&] { return split_by_prefix(rowptr_.data(), brows, n * br_ * bc_); });
  ThreadPool::instance().parallel_for(split.tasks(), [&](int64_t t) {
    const ProductSplit::Range q = split.range(t);
    k.bsrspmm(br_, bc_, stripe_rowptr_.data(), stripes_, stripe_width_, brows, stripe_col_.data(), stripe_val_.data(),
              x + q.j0, cols_, q.j1 - q.j0, n, y + q.j0, rows_, q.r0, q.r1, ep);
  });
}

// ---------------------------------------------------------------- dense

DensePrepared::DensePrepared(int64_t rows, int64_t cols, const float* data)
    : PreparedMatrix(rows, cols), mr_(kernels().gemm_mr) {
  packed_.resize(static_cast<size_t>(packed_panel_floats(rows, cols, mr_)));
  pack_panels(rows, cols, data, false, mr_, packed_.data());
}

std::unique_ptr<DensePrepared> prepare_dense(int64_t rows, int64_t cols, const float* data, size_t len) {
  check_dims(rows, cols);
  if (len != static_cast<size_t>(rows * cols))
    fail("ERR_FORMAT", "dense data has length " + str(len) + ", expected rows * cols = " + str(rows * cols));
  return std::make_unique<DensePrepared>(rows, cols, data);
}

void DensePrepared::multiply(const float* x, int64_t n, float* y, Epilogue ep) const {
  run_packed_gemm(packed_.data(), rows_, cols_, x, n, y, ep);
}

}  // namespace sparsenn
