// f32 GELU kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-vgelu/vgelu-impl.h"

SPARSENN_DEFINE_VGELU(sparsenn::simd::VecNeon, f32_vgelu_ukernel_1x8__neon)
