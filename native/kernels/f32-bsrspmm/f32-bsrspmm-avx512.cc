// f32 bsrspmm kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-bsrspmm/bsrspmm-impl.h"

SPARSENN_DEFINE_BSRSPMM(sparsenn::simd::VecAvx512, f32_bsrspmm_ukernel_Rx16__avx512)
