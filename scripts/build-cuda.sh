#!/usr/bin/env bash
# Builds the CUDA backend (native/cuda/*.cu, nvcc) and its C++ test driver
# (native/cuda/test/cuda_test.cc, the host compiler) into native/cuda/build/, then runs the
# driver: on a machine with an NVIDIA GPU it checks every CUDA kernel against float64
# references; without one it says why and exits 0 (the build itself is the check there, so
# the CUDA sources never rot). Only the CUDA runtime is linked (no cuBLAS or cuSPARSE).
#
# Environment:
#   NVCC           nvcc to use (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc)
#   CUDA_ARCHS     space-separated SM versions to build for (default "75 80 90", plus PTX of
#                  the last for newer GPUs)
#   CUDA_TEST_ARGS arguments for the driver (--require-gpu, --bench); NO_RUN=1 builds only
#   SPARSENN_REQUIRE_CUDA_BUILD=1  a missing nvcc is an error (CI) rather than a skip
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
if [[ ! -x "$NVCC" ]]; then
  if [[ "${SPARSENN_REQUIRE_CUDA_BUILD:-0}" == 1 ]]; then
    echo "error: nvcc not found and SPARSENN_REQUIRE_CUDA_BUILD=1" >&2
    exit 1
  fi
  echo "== CUDA build SKIPPED: nvcc not found"
  exit 0
fi
read -r -a ARCHS <<<"${CUDA_ARCHS:-75 80 90}"
GENCODE=()
for a in "${ARCHS[@]}"; do GENCODE+=(-gencode "arch=compute_$a,code=sm_$a"); done
GENCODE+=(-gencode "arch=compute_${ARCHS[-1]},code=compute_${ARCHS[-1]}")

BUILD=native/cuda/build
mkdir -p "$BUILD"
CU_SRCS=(native/cuda/device.cu native/cuda/csr_spmm.cu native/cuda/gemm.cu)
OBJS=()
echo "== building the CUDA backend with $NVCC ($("$NVCC" --version | tail -n 1)) for sm_${ARCHS[*]}"
for src in "${CU_SRCS[@]}"; do
  obj="$BUILD/$(basename "${src%.cu}").o"
  echo "   NVCC $src"
  "$NVCC" -std=c++17 -O3 -Xcompiler -fPIC -Xcompiler -Wall -Inative "${GENCODE[@]}" -c "$src" -o "$obj"
  OBJS+=("$obj")
done
for src in native/cuda/plan.cc native/cuda/test/cuda_test.cc; do
  obj="$BUILD/$(basename "${src%.cc}").o"
  echo "   CXX  $src"
  "${CXX:-g++}" -std=c++17 -O2 -Wall -Wextra -Inative -c "$src" -o "$obj"
  [[ "$src" == *cuda_test.cc ]] || OBJS+=("$obj")
done
echo "   LINK $BUILD/cuda_test"
# nvcc links (it knows where its runtime is), with the static CUDA runtime: nothing to find at run time.
"$NVCC" "$BUILD/cuda_test.o" "${OBJS[@]}" -cudart static -Xcompiler -pthread -o "$BUILD/cuda_test"

[[ "${NO_RUN:-0}" == 1 ]] && exit 0
echo "== run: $BUILD/cuda_test ${CUDA_TEST_ARGS:-}"
# shellcheck disable=SC2086
"$BUILD/cuda_test" ${CUDA_TEST_ARGS:-}
