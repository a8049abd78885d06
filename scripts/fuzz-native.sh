#!/usr/bin/env bash
# Builds the native libFuzzer target (fuzz/native/fuzz_kernels.cc: every validating constructor
# and geometry check of native/core, then the products and pooling against float64 references)
# with clang and -fsanitize=fuzzer,address,undefined, and runs it on the kept corpus
# (fuzz/corpus/native/, new inputs added there) and the inputs of past findings
# (fuzz/regressions/native/, each a bug that was fixed).
#
#   bash scripts/fuzz-native.sh [seconds=60]       run for a time
#   RUNS=1000000 bash scripts/fuzz-native.sh        run a number of executions
#
# Any crash, sanitizer report, wrong result or leak fails the run; libFuzzer writes the input
# to fuzz/findings/native/. Needs clang (Debian: clang).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/native-sources.sh
source scripts/native-sources.sh

CXX="${FUZZ_CXX:-clang++}"
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "error: $CXX not found (Debian: apt-get install clang)" >&2
  exit 1
fi
SECONDS_BUDGET="${1:-60}"
BUILD=fuzz/native/build
mkdir -p "$BUILD" fuzz/corpus/native fuzz/findings/native
FLAGS=(-std=c++17 -g -O1 -fno-math-errno -fno-trapping-math -Inative -pthread -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

objs=()
pids=()
build() {  # build <source> <extra flags...>
  local src="$1"
  shift
  local obj="$BUILD/$(basename "${src%.cc}").o"
  objs+=("$obj")
  if [[ -f "$obj" && "$obj" -nt "$src" && "$obj" -nt scripts/fuzz-native.sh && -z "$(find native -name '*.h' -newer "$obj" -print -quit)" ]]; then return; fi
  "$CXX" "${FLAGS[@]}" "$@" -c "$src" -o "$obj" &
  pids+=($!)
}
for src in "${CORE_SRCS[@]}" fuzz/native/fuzz_kernels.cc; do build "$src"; done
for isa in scalar avx2 avx512; do
  declare -n srcs="KERNEL_SRCS_$isa" flags="ISA_FLAGS_$isa"
  for src in "${srcs[@]}"; do build "$src" "${flags[@]}"; done
done
for p in "${pids[@]}"; do wait "$p"; done
"$CXX" "${FLAGS[@]}" "${objs[@]}" -o "$BUILD/fuzz_kernels"

args=(-max_len=4096 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix=fuzz/findings/native/)
if [[ -n "${RUNS:-}" ]]; then args+=(-runs="$RUNS"); else args+=(-max_total_time="$SECONDS_BUDGET"); fi
echo "== fuzz_kernels ${RUNS:+$RUNS runs}${RUNS:-$SECONDS_BUDGET s} (corpus fuzz/corpus/native)"
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" "$BUILD/fuzz_kernels" "${args[@]}" fuzz/corpus/native fuzz/regressions/native
