// f32 direct sparse convolution kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-spconv/spconv-impl.h"

SPARSENN_DEFINE_SPCONV(sparsenn::simd::VecAvx2, f32_spconv_ukernel_2x4__avx2)
