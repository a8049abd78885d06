// The CUDA backend's host API: plain C++ (no CUDA headers), so the N-API binding and the C++
// test driver compile with the host compiler and link against the nvcc-built objects. Built
// only when CUDA is selected (SPARSENN_CUDA=1); everything here runs on one device and one
// stream per Context. Errors throw sparsenn::CoreError (code ERR_CUDA, or the usual
// ERR_SHAPE / ERR_RANGE for bad arguments, checked before anything reaches the GPU).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sparsenn::cuda {

// What the machine offers: a CUDA build on a machine without a GPU (or without a driver)
// reports available = false with the runtime's reason, and callers fall back to the CPU.
struct DeviceInfo {
  bool available = false;
  std::string reason;  // why not available (empty when available)
  int device = -1;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
  size_t total_memory = 0;
  int runtime_version = 0;  // e.g. 13000
  int driver_version = 0;
};
DeviceInfo device_info();

// Device memory currently held by this backend's buffers (bytes), for tests that check that
// closing a session frees everything.
size_t bytes_in_use();

// A block of device memory; freed by the destructor.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  void* get() const { return ptr_; }
  size_t size() const { return bytes_; }
  void upload(const void* host, size_t bytes);  // synchronous
  void download(void* host, size_t bytes) const;  // synchronous

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// One CUDA stream plus reusable device scratch for inputs and outputs: a session owns one.
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* handle() const { return stream_; }
  void synchronize() const;
  // Device scratch of at least `bytes` for slot i (0: input, 1: output, 2+: temporaries); grows.
  void* scratch(int slot, size_t bytes);
  // Page-locked host staging of at least `bytes` for slot i (0: input, 1: output); grows.
  // Copies from and to it are truly asynchronous (pageable memory makes them synchronous).
  void* pinned(int slot, size_t bytes);
  void copy_to_device_async(void* dst, const void* host, size_t bytes) const;
  void copy_to_host_async(void* host, const void* src, size_t bytes) const;

 private:
  void* stream_ = nullptr;
  DeviceBuffer scratch_[4];
  void* pinned_[2] = {nullptr, nullptr};
  size_t pinned_bytes_[2] = {0, 0};
};

enum class Activation : int { none = 0, relu = 1 };

// A CSR matrix uploaded once (values, column indices pre-scaled at run time by the kernel,
// rows ordered longest first for load balance: the "row swizzle" of Sputnik).
class DeviceCsr {
 public:
  // Validates the CSR on the host (row pointers monotone from 0 to nnz, columns in range),
  // then uploads it. Throws CoreError ERR_FORMAT / ERR_RANGE / ERR_SHAPE, or ERR_CUDA.
  DeviceCsr(int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, const float* values);
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t nnz() const { return nnz_; }
  // Y[rows x n] = A · X[cols x n] (+ bias per row, then the activation), all on the device:
  // x and y are device pointers, n contiguous (batch last, as on the CPU). Asynchronous on
  // the stream.
  void multiply(const float* x, int64_t n, float* y, const float* bias, Activation act, const Stream& s) const;

 private:
  int64_t rows_, cols_, nnz_;
  DeviceBuffer row_ptr_, col_idx_, values_, row_order_;
};

// A dense fp32 matrix uploaded once, multiplied by the tiled shared-memory GEMM (the baseline).
class DeviceDense {
 public:
  DeviceDense(int64_t rows, int64_t cols, const float* values);  // row-major
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  void multiply(const float* x, int64_t n, float* y, const float* bias, Activation act, const Stream& s) const;

 private:
  int64_t rows_, cols_;
  DeviceBuffer values_;
};

// fp16 dense GEMM on tensor cores (WMMA, sm_70+): Y[m x n] (fp32) = A[m x k] (fp16) · X[k x n]
// (fp16), all device pointers, row-major. m, n, k multiples of 16 (the caller pads).
// Throws ERR_CUDA on a device below compute capability 7.0.
void gemm_f16_wmma(const void* a, const void* x, float* y, int64_t m, int64_t n, int64_t k, const Stream& s);

// fp32 → fp16 conversion on the device (n elements), and back (for references in tests).
void to_half(const float* src, void* dst, int64_t n, const Stream& s);
void from_half(const void* src, float* dst, int64_t n, const Stream& s);

// A chain of layers (Y = act(A · X + bias), A sparse CSR or dense) run on the device: the
// weights are uploaded once when the plan is built, a run copies the input in and the output
// out through page-locked staging on the plan's stream, and destroying the plan frees every
// device buffer it holds. One run at a time (the caller serialises runs).
class Plan {
 public:
  // Appends a layer; its column count must equal the previous layer's row count. bias may be
  // null (else `rows` floats). Validates, then uploads.
  void add_csr(int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, const float* values, const float* bias, Activation act);
  void add_dense(int64_t rows, int64_t cols, const float* values, const float* bias, Activation act);
  size_t layers() const { return layers_.size(); }
  int64_t in_features() const;
  int64_t out_features() const;
  // y_host[out_features x n] = the chain applied to x_host[in_features x n] (batch last).
  void run(const float* x_host, int64_t n, float* y_host);

 private:
  struct Layer {
    std::unique_ptr<DeviceCsr> csr;
    std::unique_ptr<DeviceDense> dense;
    DeviceBuffer bias;
    Activation act = Activation::none;
    int64_t rows = 0, cols = 0;
  };
  void check_next(int64_t rows, int64_t cols, const char* what) const;
  Layer& append(int64_t rows, int64_t cols, const float* bias, Activation act);
  std::vector<Layer> layers_;
  Stream stream_;
};

}  // namespace sparsenn::cuda
