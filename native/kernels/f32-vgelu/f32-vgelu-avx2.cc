// f32 GELU kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-vgelu/vgelu-impl.h"

SPARSENN_DEFINE_VGELU(sparsenn::simd::VecAvx2, f32_vgelu_ukernel_1x16__avx2)
