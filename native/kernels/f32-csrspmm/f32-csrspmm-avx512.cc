// f32 csrspmm kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-csrspmm/csrspmm-impl.h"

SPARSENN_DEFINE_CSRSPMM(sparsenn::simd::VecAvx512, f32_csrspmm_ukernel_1x32__avx512)
