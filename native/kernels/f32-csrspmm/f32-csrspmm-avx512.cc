// f32 csrspmm kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-csrspmm/csrspmm-impl.h"

SPARSENN_DEFINE_CSRSPMM(sparsenn::simd::VecAvx512, f32_csrspmm_i32_ukernel_1x128__avx512, f32_csrspmm_u16_ukernel_1x128__avx512)
