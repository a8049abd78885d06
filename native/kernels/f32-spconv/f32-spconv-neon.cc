// f32 direct sparse convolution kernels for neon: the shared template instantiated with the neon vector type.
#include "kernels/simd/vec-neon.h"
#include "kernels/f32-spconv/spconv-impl.h"

SPARSENN_DEFINE_SPCONV(sparsenn::simd::VecNeon, f32_spconv_ukernel_2x8__neon)
