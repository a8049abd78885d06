// f32 sddmm kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-sddmm/sddmm-impl.h"

SPARSENN_DEFINE_SDDMM(sparsenn::simd::VecScalar, f32_sddmm_i32_ukernel_2x2__scalar, f32_sddmm_u16_ukernel_2x2__scalar)
