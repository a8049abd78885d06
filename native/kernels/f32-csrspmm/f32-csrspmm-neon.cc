// f32 csrspmm kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-csrspmm/csrspmm-impl.h"

SPARSENN_DEFINE_CSRSPMM(sparsenn::simd::VecNeon, f32_csrspmm_ukernel_1x16__neon)
