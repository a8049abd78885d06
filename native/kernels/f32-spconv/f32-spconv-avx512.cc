// f32 direct sparse convolution kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-spconv/spconv-impl.h"

SPARSENN_DEFINE_SPCONV(sparsenn::simd::VecAvx512, f32_spconv_ukernel_2x8__avx512)
