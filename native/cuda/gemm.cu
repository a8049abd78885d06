// Dense products on the GPU, our own (no cuBLAS on these machines): the fp32 baseline for the
// sparse kernels (64 x 64 output tiles staged through shared memory, 4 x 4 outputs per
// thread) and an fp16 tensor-core GEMM through WMMA. Row-major, Y = A · X.
#include <cuda_fp16.h>
#include <mma.h>

#include <algorithm>
#include <string>

#include "cuda/cuda_api.h"
#include "cuda/cuda_check.h"

namespace sparsenn::cuda {

namespace {

constexpr int kTile = 64;   // output tile edge
constexpr int kDepth = 16;  // k per shared-memory stage
constexpr int kThreads = 16;  // 16 x 16 threads, each 4 x 4 outputs strided by 16

__global__ void gemm_f32_kernel(const float* __restrict__ a, const float* __restrict__ x, float* __restrict__ y,
                                int64_t m, int64_t n, int64_t k, const float* __restrict__ bias, int act) {
  __shared__ float as[kDepth][kTile + 1];  // A tile, transposed (k-major); +1 avoids bank conflicts
  __shared__ float xs[kDepth][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kThreads + tx;
  const int64_t row0 = static_cast<int64_t>(blockIdx.y) * kTile, col0 = static_cast<int64_t>(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kDepth) {
    // 1024 values of each tile, 4 per thread; out-of-range ones are zero.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int e = tid + i * kThreads * kThreads;
      const int ar = e / kDepth, ak = e % kDepth;  // A: 64 rows x 16 k
      const int64_t gr = row0 + ar, gk = k0 + ak;
      as[ak][ar] = gr < m && gk < k ? a[gr * k + gk] : 0.0f;
      const int xk = e / kTile, xc = e % kTile;  // X: 16 k x 64 columns
      const int64_t gxk = k0 + xk, gc = col0 + xc;
      xs[xk][xc] = gxk < k && gc < n ? x[gxk * n + gc] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kDepth; ++kk) {
      float av[4], xv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        av[i] = as[kk][ty + i * kThreads];
        xv[i] = xs[kk][tx + i * kThreads];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * xv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t r = row0 + ty + i * kThreads;
    if (r >= m) continue;
    const float b = bias ? bias[r] : 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t c = col0 + tx + j * kThreads;
      if (c >= n) continue;
      const float v = acc[i][j] + b;
      y[r * n + c] = act == 1 ? fmaxf(v, 0.0f) : v;
    }
  }
}

// One warp per 16 x 16 output tile; fp16 inputs, fp32 accumulation (sm_70+).
__global__ void gemm_f16_wmma_kernel(const __half* __restrict__ a, const __half* __restrict__ x, float* __restrict__ y,
                                     int64_t m, int64_t n, int64_t k) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
  using namespace nvcuda;
  const int64_t tile_r = static_cast<int64_t>(blockIdx.y) * 16, tile_c = static_cast<int64_t>(blockIdx.x) * 16;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fx;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> fy;
  wmma::fill_fragment(fy, 0.0f);
  for (int64_t k0 = 0; k0 < k; k0 += 16) {
    wmma::load_matrix_sync(fa, a + tile_r * k + k0, static_cast<unsigned>(k));
    wmma::load_matrix_sync(fx, x + k0 * n + tile_c, static_cast<unsigned>(n));
    wmma::mma_sync(fy, fa, fx, fy);
  }
  wmma::store_matrix_sync(y + tile_r * n + tile_c, fy, static_cast<unsigned>(n), wmma::mem_row_major);
#endif
}

__global__ void from_half_kernel(const __half* __restrict__ src, float* __restrict__ dst, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = __half2float(src[i]);
}

__global__ void to_half_kernel(const float* __restrict__ src, __half* __restrict__ dst, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = __float2half(src[i]);
}

}  // namespace

DeviceDense::DeviceDense(int64_t rows, int64_t cols, const float* values) : rows_(rows), cols_(cols) {
  if (rows < 0 || cols < 0 || rows > INT32_MAX || cols > INT32_MAX)
    fail("ERR_SHAPE", "a dense matrix needs 0 <= rows, cols <= 2^31 - 1; got " + std::to_string(rows) + " x " + std::to_string(cols));
  const size_t bytes = sizeof(float) * static_cast<size_t>(rows) * static_cast<size_t>(cols);
  if (bytes && !values) fail("ERR_FORMAT", "the values are missing");
  values_ = DeviceBuffer(bytes);
  values_.upload(values, bytes);
}

void DeviceDense::multiply(const float* x, int64_t n, float* y, const float* bias, Activation act, const Stream& s) const {
  if (n < 0) fail("ERR_SHAPE", "the batch must be >= 0, got " + std::to_string(n));
  if (rows_ == 0 || n == 0) return;
  const int64_t gx = (n + kTile - 1) / kTile, gy = (rows_ + kTile - 1) / kTile;
  if (gx > INT32_MAX || gy > 65535) fail("ERR_SHAPE", "the product is too large for one launch");
  gemm_f32_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), dim3(kThreads, kThreads), 0, static_cast<cudaStream_t>(s.handle())>>>(
      static_cast<const float*>(values_.get()), x, y, rows_, n, cols_, bias, static_cast<int>(act));
  check_launch("gemm_f32_kernel");
}

void gemm_f16_wmma(const void* a, const void* x, float* y, int64_t m, int64_t n, int64_t k, const Stream& s) {
  if (m < 0 || n < 0 || k < 0 || m % 16 || n % 16 || k % 16)
    fail("ERR_SHAPE", "gemm_f16_wmma needs m, n, k >= 0 and multiples of 16; got " + std::to_string(m) + ", " + std::to_string(n) + ", " + std::to_string(k));
  if (m == 0 || n == 0) return;
  int dev = 0, major = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "cudaDeviceGetAttribute");
  if (major < 7) fail("ERR_CUDA", "fp16 tensor-core GEMM needs compute capability 7.0 or newer; this device is " + std::to_string(major) + ".x");
  if (n / 16 > INT32_MAX || m / 16 > 65535) fail("ERR_SHAPE", "the product is too large for one launch");
  gemm_f16_wmma_kernel<<<dim3(static_cast<unsigned>(n / 16), static_cast<unsigned>(m / 16)), 32, 0, static_cast<cudaStream_t>(s.handle())>>>(
      static_cast<const __half*>(a), static_cast<const __half*>(x), y, m, n, k);
  check_launch("gemm_f16_wmma_kernel");
}

void to_half(const float* src, void* dst, int64_t count, const Stream& s) {
  if (count <= 0) return;
  const int64_t blocks = std::min<int64_t>((count + 255) / 256, 4096);
  to_half_kernel<<<static_cast<unsigned>(blocks), 256, 0, static_cast<cudaStream_t>(s.handle())>>>(src, static_cast<__half*>(dst), count);
  check_launch("to_half_kernel");
}

void from_half(const void* src, float* dst, int64_t count, const Stream& s) {
  if (count <= 0) return;
  const int64_t blocks = std::min<int64_t>((count + 255) / 256, 4096);
  from_half_kernel<<<static_cast<unsigned>(blocks), 256, 0, static_cast<cudaStream_t>(s.handle())>>>(static_cast<const __half*>(src), dst, count);
  check_launch("from_half_kernel");
}

}  // namespace sparsenn::cuda
