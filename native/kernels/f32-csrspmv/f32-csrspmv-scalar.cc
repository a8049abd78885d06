// f32 csrspmv kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-csrspmv/csrspmv-impl.h"

SPARSENN_DEFINE_CSRSPMV(sparsenn::simd::VecScalar, f32_csrspmv_i32_ukernel_1x1__scalar, f32_csrspmv_u16_ukernel_1x1__scalar)
