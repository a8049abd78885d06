// f32 csrspmmt kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-csrspmmt/csrspmmt-impl.h"

SPARSENN_DEFINE_CSRSPMMT(sparsenn::simd::VecNeon, f32_csrspmmt_i32_ukernel_1x32__neon, f32_csrspmmt_u16_ukernel_1x32__neon)
