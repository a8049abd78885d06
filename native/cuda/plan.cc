// The CUDA backend's layer chain (see cuda_api.h): host code only, on top of the kernels.
#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "cuda/cuda_api.h"

namespace sparsenn::cuda {

void Plan::check_next(int64_t rows, int64_t cols, const char* what) const {
  if (rows <= 0 || cols <= 0) fail("ERR_SHAPE", std::string(what) + " layer needs rows, cols >= 1; got " + std::to_string(rows) + " x " + std::to_string(cols));
  if (!layers_.empty() && layers_.back().rows != cols)
    fail("ERR_SHAPE", std::string(what) + " layer takes " + std::to_string(cols) + " features but the previous layer gives " + std::to_string(layers_.back().rows));
}

Plan::Layer& Plan::append(int64_t rows, int64_t cols, const float* bias, Activation act) {
  if (act != Activation::none && act != Activation::relu) fail("ERR_RANGE", "unknown activation " + std::to_string(static_cast<int>(act)));
  Layer l;
  l.rows = rows;
  l.cols = cols;
  l.act = act;
  if (bias) {
    l.bias = DeviceBuffer(sizeof(float) * static_cast<size_t>(rows));
    l.bias.upload(bias, sizeof(float) * static_cast<size_t>(rows));
  }
  layers_.push_back(std::move(l));
  return layers_.back();
}

void Plan::add_csr(int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, const float* values, const float* bias, Activation act) {
  check_next(rows, cols, "a CSR");
  auto m = std::make_unique<DeviceCsr>(rows, cols, row_ptr, col_idx, values);  // validates before anything is appended
  append(rows, cols, bias, act).csr = std::move(m);
}

void Plan::add_dense(int64_t rows, int64_t cols, const float* values, const float* bias, Activation act) {
  check_next(rows, cols, "a dense");
  auto m = std::make_unique<DeviceDense>(rows, cols, values);
  append(rows, cols, bias, act).dense = std::move(m);
}

int64_t Plan::in_features() const { return layers_.empty() ? 0 : layers_.front().cols; }
int64_t Plan::out_features() const { return layers_.empty() ? 0 : layers_.back().rows; }

void Plan::run(const float* x_host, int64_t n, float* y_host) {
  if (layers_.empty()) fail("ERR_SHAPE", "the plan has no layers");
  if (n < 0) fail("ERR_SHAPE", "the batch must be >= 0, got " + std::to_string(n));
  if (n == 0) return;
  const size_t in_bytes = sizeof(float) * static_cast<size_t>(in_features() * n);
  const size_t out_bytes = sizeof(float) * static_cast<size_t>(out_features() * n);
  int64_t widest = 0;
  for (const Layer& l : layers_) widest = std::max(widest, l.rows);
  const size_t act_bytes = sizeof(float) * static_cast<size_t>(widest * n);

  void* in_stage = stream_.pinned(0, in_bytes);
  void* out_stage = stream_.pinned(1, out_bytes);
  std::memcpy(in_stage, x_host, in_bytes);
  float* bufs[3] = {static_cast<float*>(stream_.scratch(0, in_bytes)), static_cast<float*>(stream_.scratch(1, act_bytes)),
                    static_cast<float*>(stream_.scratch(2, act_bytes))};
  stream_.copy_to_device_async(bufs[0], in_stage, in_bytes);
  const float* cur = bufs[0];
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    float* out = bufs[1 + i % 2];
    const float* bias = static_cast<const float*>(l.bias.get());
    if (l.csr) l.csr->multiply(cur, n, out, bias, l.act, stream_);
    else l.dense->multiply(cur, n, out, bias, l.act, stream_);
    cur = out;
  }
  stream_.copy_to_host_async(out_stage, cur, out_bytes);
  stream_.synchronize();
  std::memcpy(y_host, out_stage, out_bytes);
}

}  // namespace sparsenn::cuda
