// f32 GELU kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-vgelu/vgelu-impl.h"

SPARSENN_DEFINE_VGELU(sparsenn::simd::VecAvx512, f32_vgelu_ukernel_1x32__avx512)
