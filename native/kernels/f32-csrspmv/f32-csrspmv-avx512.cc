// f32 csrspmv kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-csrspmv/csrspmv-impl.h"

SPARSENN_DEFINE_CSRSPMV(sparsenn::simd::VecAvx512, f32_csrspmv_i32_ukernel_1x32__avx512, f32_csrspmv_u16_ukernel_1x32__avx512)
