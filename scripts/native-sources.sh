# The native sources outside node-gyp, in one place: sourced by scripts/test-native.sh (the
# kernel test driver) and scripts/fuzz-native.sh (the libFuzzer target). binding.gyp lists
# the same files for the addon. Each ISA's kernel files are compiled with only its flags.
# shellcheck shell=bash disable=SC2034
CORE_SRCS=(
  native/core/cpu.cc
  native/core/dense_product.cc
  native/core/elementwise.cc
  native/core/kernel_table.cc
  native/core/prepared.cc
  native/core/sparse_conv.cc
  native/core/thread_pool.cc
)
KERNEL_SRCS_scalar=(
  native/kernels/f32-csrspmm/f32-csrspmm-scalar.cc
  native/kernels/f32-csrspmv/f32-csrspmv-scalar.cc
  native/kernels/f32-csrspmmt/f32-csrspmmt-scalar.cc
  native/kernels/f32-sddmm/f32-sddmm-scalar.cc
  native/kernels/f32-bsrspmm/f32-bsrspmm-scalar.cc
  native/kernels/f32-gemm/f32-gemm-scalar.cc
  native/kernels/f32-spconv/f32-spconv-scalar.cc
  native/kernels/f32-vgelu/f32-vgelu-scalar.cc
)
KERNEL_SRCS_avx2=(
  native/kernels/f32-csrspmm/f32-csrspmm-avx2.cc
  native/kernels/f32-csrspmv/f32-csrspmv-avx2.cc
  native/kernels/f32-csrspmmt/f32-csrspmmt-avx2.cc
  native/kernels/f32-sddmm/f32-sddmm-avx2.cc
  native/kernels/f32-bsrspmm/f32-bsrspmm-avx2.cc
  native/kernels/f32-gemm/f32-gemm-avx2.cc
  native/kernels/f32-spconv/f32-spconv-avx2.cc
  native/kernels/f32-vgelu/f32-vgelu-avx2.cc
)
KERNEL_SRCS_avx512=(
  native/kernels/f32-csrspmm/f32-csrspmm-avx512.cc
  native/kernels/f32-csrspmv/f32-csrspmv-avx512.cc
  native/kernels/f32-csrspmmt/f32-csrspmmt-avx512.cc
  native/kernels/f32-sddmm/f32-sddmm-avx512.cc
  native/kernels/f32-bsrspmm/f32-bsrspmm-avx512.cc
  native/kernels/f32-gemm/f32-gemm-avx512.cc
  native/kernels/f32-spconv/f32-spconv-avx512.cc
  native/kernels/f32-vgelu/f32-vgelu-avx512.cc
)
KERNEL_SRCS_neon=(
  native/kernels/f32-csrspmm/f32-csrspmm-neon.cc
  native/kernels/f32-csrspmv/f32-csrspmv-neon.cc
  native/kernels/f32-csrspmmt/f32-csrspmmt-neon.cc
  native/kernels/f32-sddmm/f32-sddmm-neon.cc
  native/kernels/f32-bsrspmm/f32-bsrspmm-neon.cc
  native/kernels/f32-gemm/f32-gemm-neon.cc
  native/kernels/f32-spconv/f32-spconv-neon.cc
  native/kernels/f32-vgelu/f32-vgelu-neon.cc
)
# Per-ISA flags, as in binding.gyp (neon needs none on aarch64).
ISA_FLAGS_scalar=()
ISA_FLAGS_avx2=(-mavx2 -mfma)
ISA_FLAGS_avx512=(-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma)
ISA_FLAGS_neon=()
# Warning flags only (no effect on code): GCC 12's own avx512fintrin.h trips
# -Wmaybe-uninitialized (its _mm512_undefined_ps self-initialises; GCC bug 105593).
WARN_FLAGS_avx512=(-Wno-maybe-uninitialized)
