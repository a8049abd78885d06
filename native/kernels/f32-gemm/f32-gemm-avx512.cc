// f32 gemm kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-gemm/gemm-impl.h"

SPARSENN_DEFINE_GEMM(sparsenn::simd::VecAvx512, f32_gemm_ukernel_8x48__avx512, f32_gemv_ukernel_8x1__avx512)
static_assert(sparsenn::simd::VecAvx512::kGemmMR == 8, "the tile in f32-gemm.inc must match the kernel");
