// f32 gemm kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-gemm/gemm-impl.h"

SPARSENN_DEFINE_GEMM(sparsenn::simd::VecNeon, f32_gemm_ukernel_8x12__neon, f32_gemv_ukernel_8x1__neon)
static_assert(sparsenn::simd::VecNeon::kGemmMR == 8, "the tile in f32-gemm.inc must match the kernel");
