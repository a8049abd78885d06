// f32 sddmm kernels for avx512: the shared template instantiated with the avx512 vector type.
#include "kernels/simd/vec-avx512.h"
#include "kernels/f32-sddmm/sddmm-impl.h"

SPARSENN_DEFINE_SDDMM(sparsenn::simd::VecAvx512, f32_sddmm_i32_ukernel_2x32__avx512, f32_sddmm_u16_ukernel_2x32__avx512)
