// f32 csrspmm kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-csrspmm/csrspmm-impl.h"

SPARSENN_DEFINE_CSRSPMM(sparsenn::simd::VecAvx2, f32_csrspmm_ukernel_1x32__avx2)
