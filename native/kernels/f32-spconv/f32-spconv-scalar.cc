// f32 direct sparse convolution kernels for scalar: the shared template instantiated with the scalar vector type.
#include "kernels/simd/vec-scalar.h"
#include "kernels/f32-spconv/spconv-impl.h"

SPARSENN_DEFINE_SPCONV(sparsenn::simd::VecScalar, f32_spconv_ukernel_2x2__scalar)
