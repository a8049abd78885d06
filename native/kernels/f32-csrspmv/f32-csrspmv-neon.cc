// f32 csrspmv kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-csrspmv/csrspmv-impl.h"

SPARSENN_DEFINE_CSRSPMV(sparsenn::simd::VecNeon, f32_csrspmv_i32_ukernel_1x8__neon, f32_csrspmv_u16_ukernel_1x8__neon)
