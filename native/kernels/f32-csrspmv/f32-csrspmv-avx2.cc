// f32 csrspmv kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-csrspmv/csrspmv-impl.h"

SPARSENN_DEFINE_CSRSPMV(sparsenn::simd::VecAvx2, f32_csrspmv_i32_ukernel_1x16__avx2, f32_csrspmv_u16_ukernel_1x16__avx2)
