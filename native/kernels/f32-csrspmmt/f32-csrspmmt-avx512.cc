// f32 csrspmmt kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-csrspmmt/csrspmmt-impl.h"

SPARSENN_DEFINE_CSRSPMMT(sparsenn::simd::VecAvx512, f32_csrspmmt_i32_ukernel_1x128__avx512, f32_csrspmmt_u16_ukernel_1x128__avx512)
