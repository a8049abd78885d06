#!/usr/bin/env bash
# The CUDA backend in `npm test`: builds the CUDA sources and their C++ driver and runs it
# (scripts/build-cuda.sh: on a GPU every kernel against float64 references, without one a
# skip), then builds the addon with SPARSENN_CUDA=1 (in native/test/build/addon-cuda/, see
# scripts/build-addon-variant.sh) and runs the CUDA-facing vitest files against it: on a GPU
# machine the device plans against the CPU, without one the fallback (capabilities say why,
# a device plan is refused with ERR_CUDA, compile({ device: 'cuda' }) runs on the CPU).
# Without nvcc all of it is skipped with a message, unless SPARSENN_REQUIRE_CUDA_BUILD=1 (CI).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The addon build takes nvcc from CUDA_HOME (binding.gyp: CUDA_HOME, CUDA_PATH or /usr/local/cuda).
CUDA_HOME="${CUDA_HOME:-${CUDA_PATH:-/usr/local/cuda}}"
export CUDA_HOME
if [[ ! -x "$CUDA_HOME/bin/nvcc" ]]; then
  if [[ "${SPARSENN_REQUIRE_CUDA_BUILD:-0}" == 1 ]]; then
    echo "error: $CUDA_HOME/bin/nvcc not found (set CUDA_HOME) and SPARSENN_REQUIRE_CUDA_BUILD=1" >&2
    exit 1
  fi
  echo "== CUDA tests SKIPPED: $CUDA_HOME/bin/nvcc not found (set CUDA_HOME)"
  exit 0
fi
export NVCC="$CUDA_HOME/bin/nvcc"

bash scripts/build-cuda.sh
echo "== building the addon with the CUDA backend (SPARSENN_CUDA=1)"
ADDON="$(SPARSENN_CUDA=1 bash scripts/build-addon-variant.sh cuda | tail -n 1)"
echo "== vitest with $ADDON"
SPARSENN_ADDON="$ADDON" npx vitest run test/cuda test/infer/cuda.test.ts test/runtime.test.ts test/native.test.ts
