// f32 csrspmmt kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-csrspmmt/csrspmmt-impl.h"

SPARSENN_DEFINE_CSRSPMMT(sparsenn::simd::VecAvx2, f32_csrspmmt_i32_ukernel_1x32__avx2, f32_csrspmmt_u16_ukernel_1x32__avx2)
