// f32 csrspmmt kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-csrspmmt/csrspmmt-impl.h"

SPARSENN_DEFINE_CSRSPMMT(sparsenn::simd::VecScalar, f32_csrspmmt_i32_ukernel_1x2__scalar, f32_csrspmmt_u16_ukernel_1x2__scalar)
