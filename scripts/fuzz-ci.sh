#!/usr/bin/env bash
# The bounded fuzzing run of `npm test`: the model-file loaders (npm run fuzz, FUZZ_SECONDS
# each, default 20) and the native boundary (scripts/fuzz-native.sh, FUZZ_NATIVE_SECONDS,
# default 60). Both replay their kept corpus first, so every earlier finding is re-checked.
# The native fuzzer needs clang; without it that part is skipped with a message, unless
# SPARSENN_REQUIRE_FUZZ=1 (set by CI), which makes a missing clang an error.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "== fuzz: model-file loaders (${FUZZ_SECONDS:-20} s each)"
npm run --silent build:ts   # the loader fuzzer instruments dist/cjs/index.cjs
npx tsx fuzz/fuzz.ts --seconds "${FUZZ_SECONDS:-20}"

if command -v "${FUZZ_CXX:-clang++}" >/dev/null 2>&1; then
  echo "== fuzz: native boundary (${FUZZ_NATIVE_SECONDS:-60} s)"
  SPARSENN_THREADS=1 bash scripts/fuzz-native.sh "${FUZZ_NATIVE_SECONDS:-60}"
elif [[ "${SPARSENN_REQUIRE_FUZZ:-0}" == 1 ]]; then
  echo "error: clang++ is missing (Debian: apt-get install clang) and SPARSENN_REQUIRE_FUZZ=1" >&2
  exit 1
else
  echo "== fuzz: native boundary SKIPPED: clang++ not found (Debian: apt-get install clang)"
fi
