// f32 bsrspmm kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-bsrspmm/bsrspmm-impl.h"

SPARSENN_DEFINE_BSRSPMM(sparsenn::simd::VecScalar, f32_bsrspmm_ukernel_Rx4__scalar)
