// f32 bsrspmm kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-bsrspmm/bsrspmm-impl.h"

SPARSENN_DEFINE_BSRSPMM(sparsenn::simd::VecNeon, f32_bsrspmm_ukernel_Rx16__neon)
