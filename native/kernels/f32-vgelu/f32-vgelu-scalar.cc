// f32 GELU kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-vgelu/vgelu-impl.h"

SPARSENN_DEFINE_VGELU(sparsenn::simd::VecScalar, f32_vgelu_ukernel_1x2__scalar)
