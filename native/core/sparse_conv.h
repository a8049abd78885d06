// A pruned convolution prepared for the direct sparse kernel (kernels/f32-spconv): its kept
// weights as a CSR over (input channel, kernel row, kernel column) per output channel, with each
// entry's column index turned into the tap's offset in the padded input image, so a product
// runs straight on the batch-last input [c, h, w, n] without im2col. Grouped convolutions are
// one operator: each group's taps point at its own input channels.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/elementwise.h"
#include "core/prepared.h"

namespace sparsenn {

class SparseConvPrepared : public PreparedMatrix {
 public:
  // rows = output channels; cols = (input channels / groups) * kh * kw, as the weight matrix.
  SparseConvPrepared(int64_t rows, int64_t cols, const ConvGeometry& g, std::vector<int32_t> rowptr,
                     std::vector<int32_t> off, std::vector<float> val);
  const char* format() const override { return "conv"; }
  size_t bytes() const override;
  int64_t input_rows() const override { return g_.c * g_.h * g_.w; }
  int64_t output_rows() const override { return rows_ * g_.oh * g_.ow; }
  // Y [rows, oh, ow, n] = conv(X [c, h, w, n]) (+ bias per output channel, ReLU).
  void multiply(const float* x, int64_t n, float* y, Epilogue ep) const override;
  int64_t nnz() const { return static_cast<int64_t>(val_.size()); }

 private:
  ConvGeometry g_;  // n unused
  int64_t hp_, wp_;  // the padded image
  std::vector<int32_t> rowptr_, off_;
  std::vector<float> val_;
};

// Validating constructor: the weight as a CSR (rows x cols, columns (ci * kh + ky) * kw + kx of
// its group's channels) and the geometry [c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow] (n
// not part of it). Throws CoreError: ERR_FORMAT for a bad CSR, ERR_SHAPE / ERR_RANGE for a
// geometry that does not add up or that the kernel cannot run (width stride other than 1).
std::unique_ptr<SparseConvPrepared> prepare_conv(int64_t rows, int64_t cols, int64_t groups, const ConvGeometry& g,
                                                 const int32_t* rowptr, size_t rowptr_len, const int32_t* col,
                                                 size_t col_len, const float* val, size_t val_len);

}  // namespace sparsenn
