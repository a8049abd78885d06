// f32 gemm kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-gemm/gemm-impl.h"

SPARSENN_DEFINE_GEMM(sparsenn::simd::VecScalar, f32_gemm_ukernel_4x4__scalar, f32_gemv_ukernel_4x1__scalar)
static_assert(sparsenn::simd::VecScalar::kGemmMR == 4, "the tile in f32-gemm.inc must match the kernel");
