// f32 bsrspmm kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-bsrspmm/bsrspmm-impl.h"

SPARSENN_DEFINE_BSRSPMM(sparsenn::simd::VecAvx2, f32_bsrspmm_ukernel_Rx8__avx2)
