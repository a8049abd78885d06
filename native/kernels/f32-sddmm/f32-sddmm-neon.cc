// f32 sddmm kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-sddmm/sddmm-impl.h"

SPARSENN_DEFINE_SDDMM(sparsenn::simd::VecNeon, f32_sddmm_i32_ukernel_2x8__neon, f32_sddmm_u16_ukernel_2x8__neon)
