// f32 csrspmm kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-csrspmm/csrspmm-impl.h"

SPARSENN_DEFINE_CSRSPMM(sparsenn::simd::VecScalar, f32_csrspmm_ukernel_1x4__scalar)
