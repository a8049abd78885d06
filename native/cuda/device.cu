// Device discovery, device memory and streams for the CUDA backend (see cuda_api.h).
#include <atomic>

#include "cuda/cuda_api.h"
#include "cuda/cuda_check.h"

namespace sparsenn::cuda {

namespace {
std::atomic<size_t> g_bytes_in_use{0};
}

DeviceInfo device_info() {
  DeviceInfo info;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);  // 0 when no driver is installed
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    info.reason = std::string("no usable CUDA device: ") + cudaGetErrorString(e);
    return info;
  }
  if (count == 0) {
    info.reason = "no CUDA device found";
    return info;
  }
  int dev = 0;
  cudaDeviceProp p{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
    cudaGetLastError();
    info.reason = "the CUDA device could not be queried";
    return info;
  }
  // A GPU this build has no code for (older than the compiled architectures) would accept
  // uploads and then fail every launch: ask for a kernel's attributes first.
  std::string why;
  if (!kernels_loadable(&why)) {
    info.reason = std::string("the GPU (") + p.name + ", compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) +
                  ") cannot run this build's kernels: " + why;
    return info;
  }
  info.available = true;
  info.device = dev;
  info.name = p.name;
  info.major = p.major;
  info.minor = p.minor;
  info.multiprocessors = p.multiProcessorCount;
  info.total_memory = p.totalGlobalMem;
  return info;
}

size_t bytes_in_use() { return g_bytes_in_use.load(); }

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
  g_bytes_in_use += bytes;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) {
    cudaFree(ptr_);
    g_bytes_in_use -= bytes_;
  }
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    this->~DeviceBuffer();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes) {
  if (bytes > bytes_) fail("ERR_RANGE", "upload of " + std::to_string(bytes) + " bytes into a device buffer of " + std::to_string(bytes_));
  if (bytes) {
    check(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (to device)");
    // From pageable memory cudaMemcpy may return before the DMA lands, and the plans' streams
    // do not wait for the legacy stream: finish the upload before any kernel can read it.
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (after an upload)");
  }
}

void DeviceBuffer::download(void* host, size_t bytes) const {
  if (bytes > bytes_) fail("ERR_RANGE", "download of " + std::to_string(bytes) + " bytes from a device buffer of " + std::to_string(bytes_));
  if (bytes) check(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (to host)");
}

Stream::Stream() {
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  stream_ = s;
}

Stream::~Stream() {
  if (stream_) {
    cudaStreamSynchronize(static_cast<cudaStream_t>(stream_));
    cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
  }
  for (void* p : pinned_)
    if (p) cudaFreeHost(p);
}

void* Stream::pinned(int slot, size_t bytes) {
  if (slot < 0 || slot >= 2) fail("ERR_RANGE", "pinned slot " + std::to_string(slot) + " (expected 0 or 1)");
  if (pinned_bytes_[slot] < bytes) {
    synchronize();
    if (pinned_[slot]) cudaFreeHost(pinned_[slot]);
    pinned_[slot] = nullptr;
    pinned_bytes_[slot] = 0;
    const size_t want = bytes + bytes / 4;
    check(cudaHostAlloc(&pinned_[slot], want, cudaHostAllocDefault), "cudaHostAlloc");
    pinned_bytes_[slot] = want;
  }
  return pinned_[slot];
}

void Stream::synchronize() const { check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)), "cudaStreamSynchronize"); }

void* Stream::scratch(int slot, size_t bytes) {
  if (slot < 0 || slot >= 4) fail("ERR_RANGE", "scratch slot " + std::to_string(slot) + " (expected 0..3)");
  DeviceBuffer& b = scratch_[slot];
  if (b.size() < bytes) {
    synchronize();  // the old buffer may still be in use by queued work
    b = DeviceBuffer(bytes + bytes / 4);
  }
  return b.get();
}

void Stream::copy_to_device_async(void* dst, const void* host, size_t bytes) const {
  if (bytes) check(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream_)), "cudaMemcpyAsync (to device)");
}

void Stream::copy_to_host_async(void* host, const void* src, size_t bytes) const {
  if (bytes) check(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(stream_)), "cudaMemcpyAsync (to host)");
}

}  // namespace sparsenn::cuda
