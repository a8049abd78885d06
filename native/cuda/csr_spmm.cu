// CSR SpMM and SpMV on the GPU, in the style of Sputnik (Gale et al., "Sparse GPU Kernels for
// Deep Learning", SC20): one warp per output row, rows visited longest first (the row swizzle,
// so warps that run together have similar work), nonzeros loaded 32 at a time by the warp and
// broadcast with shuffles, column indices pre-scaled by the row length of X once per load, and
// X read with float4 vector loads along the batch when the batch allows it.
//
// Layout as on the CPU: X is cols x n and Y rows x n, row-major, the batch n contiguous.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "cuda/cuda_api.h"
#include "cuda/cuda_check.h"

namespace sparsenn::cuda {

namespace {

constexpr int kWarpsPerBlock = 4;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float activate(float v, int act) { return act == 1 ? fmaxf(v, 0.0f) : v; }

// Each warp: one row (row_order[slot]) and a tile of 32 * VEC batch columns.
template <int VEC>
__global__ void csr_spmm_kernel(const int32_t* __restrict__ row_order, const int32_t* __restrict__ row_ptr,
                                const int32_t* __restrict__ col, const float* __restrict__ val,
                                const float* __restrict__ x, int64_t n, float* __restrict__ y,
                                const float* __restrict__ bias, int act, int64_t rows) {
  const int lane = threadIdx.x;
  const int64_t slot = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.y;
  if (slot >= rows) return;  // whole warps only: slot does not depend on the lane
  const int64_t row = row_order[slot];
  const int64_t begin = row_ptr[row], end = row_ptr[row + 1];
  const float b = bias ? bias[row] : 0.0f;
  // Column tiles beyond the grid's 65535 loop here (the same for every lane of the warp).
  for (int64_t tile = blockIdx.y; tile * 32 * VEC < n; tile += gridDim.y) {
    const int64_t c0 = (tile * 32 + lane) * VEC;
    const bool active = c0 < n;  // VEC == 4 only when n % 4 == 0, so c0 < n means c0 + 3 < n
    float acc[VEC];
#pragma unroll
    for (int i = 0; i < VEC; ++i) acc[i] = 0.0f;
    for (int64_t p0 = begin; p0 < end; p0 += 32) {
      const int64_t p = p0 + lane;
      const float v = p < end ? val[p] : 0.0f;
      const int64_t c = p < end ? static_cast<int64_t>(col[p]) * n : 0;  // pre-scaled index
      const int m = static_cast<int>(min(static_cast<int64_t>(32), end - p0));
      for (int j = 0; j < m; ++j) {
        const float vj = __shfl_sync(kFullMask, v, j);
        const int64_t cj = __shfl_sync(kFullMask, c, j);
        if (!active) continue;
        if constexpr (VEC == 4) {
          const float4 xv = *reinterpret_cast<const float4*>(x + cj + c0);
          acc[0] += vj * xv.x;
          acc[1] += vj * xv.y;
          acc[2] += vj * xv.z;
          acc[3] += vj * xv.w;
        } else {
          acc[0] += vj * x[cj + c0];
        }
      }
    }
    if (!active) continue;
    float* out = y + row * n + c0;
    if constexpr (VEC == 4) {
      *reinterpret_cast<float4*>(out) =
          make_float4(activate(acc[0] + b, act), activate(acc[1] + b, act), activate(acc[2] + b, act), activate(acc[3] + b, act));
    } else {
      out[0] = activate(acc[0] + b, act);
    }
  }
}

// n == 1: one warp per row, lanes stride over the row's nonzeros, then a warp reduction.
__global__ void csr_spmv_kernel(const int32_t* __restrict__ row_order, const int32_t* __restrict__ row_ptr,
                                const int32_t* __restrict__ col, const float* __restrict__ val,
                                const float* __restrict__ x, float* __restrict__ y, const float* __restrict__ bias,
                                int act, int64_t rows) {
  const int lane = threadIdx.x;
  const int64_t slot = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.y;
  if (slot >= rows) return;
  const int64_t row = row_order[slot];
  float sum = 0.0f;
  for (int64_t p = row_ptr[row] + lane; p < row_ptr[row + 1]; p += 32) sum += val[p] * x[col[p]];
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(kFullMask, sum, off);
  if (lane == 0) y[row] = activate(sum + (bias ? bias[row] : 0.0f), act);
}

}  // namespace

bool kernels_loadable(std::string* why) {
  cudaFuncAttributes a{};
  const cudaError_t e = cudaFuncGetAttributes(&a, csr_spmv_kernel);
  if (e == cudaSuccess) return true;
  cudaGetLastError();
  *why = cudaGetErrorString(e);
  return false;
}

DeviceCsr::DeviceCsr(int64_t rows, int64_t cols, const int32_t* row_ptr, const int32_t* col_idx, const float* values)
    : rows_(rows), cols_(cols), nnz_(0) {
  if (rows < 0 || cols < 0 || rows > INT32_MAX || cols > INT32_MAX)
    fail("ERR_SHAPE", "a CSR matrix needs 0 <= rows, cols <= 2^31 - 1; got " + std::to_string(rows) + " x " + std::to_string(cols));
  if (!row_ptr) fail("ERR_FORMAT", "the row pointers are missing");
  if (row_ptr[0] != 0) fail("ERR_FORMAT", "row_ptr[0] must be 0, got " + std::to_string(row_ptr[0]));
  for (int64_t r = 0; r < rows; ++r)
    if (row_ptr[r + 1] < row_ptr[r])
      fail("ERR_FORMAT", "row pointers must not decrease; row " + std::to_string(r) + " goes from " + std::to_string(row_ptr[r]) + " to " + std::to_string(row_ptr[r + 1]));
  nnz_ = row_ptr[rows];
  if (nnz_ > 0 && (!col_idx || !values)) fail("ERR_FORMAT", "the column indices or values are missing");
  for (int64_t p = 0; p < nnz_; ++p)
    if (col_idx[p] < 0 || col_idx[p] >= cols)
      fail("ERR_RANGE", "column index " + std::to_string(col_idx[p]) + " at entry " + std::to_string(p) + " is outside [0, " + std::to_string(cols) + ")");

  // Longest rows first; ties keep row order (stable), so equal rows stay adjacent in memory.
  std::vector<int32_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row_ptr[a + 1] - row_ptr[a] > row_ptr[b + 1] - row_ptr[b]; });

  row_ptr_ = DeviceBuffer(sizeof(int32_t) * static_cast<size_t>(rows + 1));
  row_ptr_.upload(row_ptr, sizeof(int32_t) * static_cast<size_t>(rows + 1));
  row_order_ = DeviceBuffer(sizeof(int32_t) * order.size());
  row_order_.upload(order.data(), sizeof(int32_t) * order.size());
  col_idx_ = DeviceBuffer(sizeof(int32_t) * static_cast<size_t>(nnz_));
  col_idx_.upload(col_idx, sizeof(int32_t) * static_cast<size_t>(nnz_));
  values_ = DeviceBuffer(sizeof(float) * static_cast<size_t>(nnz_));
  values_.upload(values, sizeof(float) * static_cast<size_t>(nnz_));
}

void DeviceCsr::multiply(const float* x, int64_t n, float* y, const float* bias, Activation act, const Stream& s) const {
  if (n < 0) fail("ERR_SHAPE", "the batch must be >= 0, got " + std::to_string(n));
  if (rows_ == 0 || n == 0) return;
  const auto stream = static_cast<cudaStream_t>(s.handle());
  const dim3 block(32, kWarpsPerBlock);
  const int64_t row_blocks = (rows_ + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (row_blocks > INT32_MAX) fail("ERR_SHAPE", "too many rows for one launch");
  const auto* rp = static_cast<const int32_t*>(row_ptr_.get());
  const auto* ro = static_cast<const int32_t*>(row_order_.get());
  const auto* ci = static_cast<const int32_t*>(col_idx_.get());
  const auto* va = static_cast<const float*>(values_.get());
  const int a = static_cast<int>(act);
  if (n == 1) {
    csr_spmv_kernel<<<dim3(static_cast<unsigned>(row_blocks)), block, 0, stream>>>(ro, rp, ci, va, x, y, bias, a, rows_);
    check_launch("csr_spmv_kernel");
    return;
  }
  const bool vec4 = n % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  const int64_t per_tile = 32 * (vec4 ? 4 : 1);
  const int64_t col_tiles = std::min<int64_t>((n + per_tile - 1) / per_tile, 65535);  // more loop in the kernel
  const dim3 grid(static_cast<unsigned>(row_blocks), static_cast<unsigned>(col_tiles));
  if (vec4)
    csr_spmm_kernel<4><<<grid, block, 0, stream>>>(ro, rp, ci, va, x, n, y, bias, a, rows_);
  else
    csr_spmm_kernel<1><<<grid, block, 0, stream>>>(ro, rp, ci, va, x, n, y, bias, a, rows_);
  check_launch("csr_spmm_kernel");
}

}  // namespace sparsenn::cuda
