// f32 gemm kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-gemm/gemm-impl.h"

SPARSENN_DEFINE_GEMM(sparsenn::simd::VecAvx2, f32_gemm_ukernel_6x16__avx2, f32_gemv_ukernel_6x1__avx2)
static_assert(sparsenn::simd::VecAvx2::kGemmMR == 6, "the tile in f32-gemm.inc must match the kernel");
