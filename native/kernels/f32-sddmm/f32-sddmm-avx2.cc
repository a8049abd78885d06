// f32 sddmm kernels for avx2: the shared template instantiated with the avx2 vector type.
#include "kernels/simd/vec-avx2.h"
#include "kernels/f32-sddmm/sddmm-impl.h"

SPARSENN_DEFINE_SDDMM(sparsenn::simd::VecAvx2, f32_sddmm_i32_ukernel_2x16__avx2, f32_sddmm_u16_ukernel_2x16__avx2)
