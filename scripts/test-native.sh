#!/usr/bin/env bash
# Builds the native kernel test driver (native/test/kernel_test.cc: every kernel of every ISA
# the CPU runs against float64 references, the prepared path, input validation) with plain
# g++ (no Node, no node-gyp) into native/test/build/, then runs it: once normally, then once
# per supported ISA forced through SPARSENN_ISA (prepared path only; the kernel tests already
# cover every ISA in the first run), then once with an unusable SPARSENN_ISA (fallback).
#
# Each ISA's kernel files are compiled with only that ISA's flags, as binding.gyp's per-ISA
# static libraries are; everything else at the baseline of the target. The avx512 kernels are
# always compiled on x86-64, and the driver skips (and says so) any ISA the CPU lacks.
#
# Environment:
#   SANITIZE=1   build with -fsanitize=address,undefined (any report fails the run);
#                SANITIZE=ubsan for -fsanitize=undefined alone
#   CXX          compiler (default g++); its target (-dumpmachine) picks the ISA set
#   RUNNER       command prefix to run the binary (scripts/test-neon.sh sets a qemu one)
#   OPT          optimisation flag (default -O2)
#   KERNEL_TEST_SEED  seed for the driver's pseudo-random cases
#   DISTINCT_RUNS_ONLY=1  skip the runs that repeat the default run's code paths (the forced
#                run of the best ISA and the fallback run); scripts/valgrind-native.sh sets it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CXX="${CXX:-g++}"
OPT="${OPT:--O2}"
SANITIZE="${SANITIZE:-0}"
read -r -a RUN <<<"${RUNNER:-}"

# ---------------------------------------------------------------- the source lists (one place)
# shellcheck source=scripts/native-sources.sh
source "$ROOT/scripts/native-sources.sh"
TEST_SRCS=(native/test/kernel_test.cc)
# ----------------------------------------------------------------

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "error: compiler '$CXX' not found" >&2
  exit 1
fi
MACHINE="$("$CXX" -dumpmachine)"
case "$MACHINE" in
  x86_64-*) ARCH=x64; ISAS=(scalar avx2 avx512) ;;
  aarch64-*) ARCH=arm64; ISAS=(scalar neon) ;;
  *)
    echo "error: $CXX targets $MACHINE; expected x86_64 or aarch64" >&2
    exit 1
    ;;
esac

HOST_MACHINE="$(uname -m)"
if [[ "$MACHINE" != "$HOST_MACHINE"-* && ${#RUN[@]} -eq 0 ]]; then
  echo "error: $CXX builds for $MACHINE but this machine is $HOST_MACHINE; set RUNNER to run the" >&2
  echo "       binary (for arm64 use scripts/test-neon.sh, which runs it under qemu-user)" >&2
  exit 1
fi

COMMON_FLAGS=(-std=c++17 "$OPT" -fno-math-errno -fno-trapping-math -Wall -Wextra -Wno-unused-parameter -Inative -pthread)
LINK_FLAGS=(-pthread)
VARIANT="$ARCH"
case "$SANITIZE" in
  0 | "") SANITIZERS="" ;;
  1) SANITIZERS=address,undefined ;;
  ubsan) SANITIZERS=undefined ;;
  *)
    echo "error: SANITIZE=$SANITIZE; expected 1 (address,undefined), ubsan, or 0" >&2
    exit 1
    ;;
esac
if [[ -n "$SANITIZERS" ]]; then
  SAN_FLAGS=("-fsanitize=$SANITIZERS" -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  COMMON_FLAGS+=("${SAN_FLAGS[@]}")
  LINK_FLAGS+=("${SAN_FLAGS[@]}")
  VARIANT="$ARCH-san-${SANITIZERS/,/-}"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
[[ "$OPT" != -O2 ]] && VARIANT="$VARIANT$OPT"   # e.g. x64-O1 (scripts/valgrind-native.sh)
BUILD="native/test/build/$VARIANT"
BIN="$BUILD/kernel_test"
mkdir -p "$BUILD"

echo "== building $BIN with $CXX ($MACHINE) $OPT${SANITIZERS:+, sanitizers: $SANITIZERS}"
echo "   common flags: ${COMMON_FLAGS[*]}"
for isa in "${ISAS[@]}"; do
  declare -n flags="ISA_FLAGS_$isa"
  echo "   $isa kernels: common flags ${flags[*]:-(no extra flags)}"
done

# Compile in parallel (one job per file); any failure stops the script after all finish.
# An object is rebuilt unless its stamp (a hash of its command line, its source and every
# header under native/) matches: content hashes, not timestamps, so edits made while a build
# runs are never missed.
HEADERS_HASH="$(find native -path native/test/build -prune -o \( -name '*.h' -o -name '*.inc' \) -print |
  LC_ALL=C sort | xargs sha1sum | sha1sum | cut -d' ' -f1)"
declare -a PIDS=() WHAT=() OBJS=()
compile() {  # compile <label> <source> <extra flags...>
  local label="$1" src="$2"
  shift 2
  local obj="$BUILD/$(basename "${src%.cc}").o"
  local cmd=("$CXX" "${COMMON_FLAGS[@]}" "$@" -c "$src" -o "$obj")
  local stamp
  stamp="$(printf '%s\n' "${cmd[*]}" "$(sha1sum <"$src")" "$HEADERS_HASH" | sha1sum | cut -d' ' -f1)"
  OBJS+=("$obj")
  if [[ -f "$obj" && "$(cat "$obj.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "   up to date [$label] $src"
    return
  fi
  echo "   CXX [$label] $src"
  rm -f "$obj.stamp"
  ("${cmd[@]}" && echo "$stamp" >"$obj.stamp") &
  PIDS+=($!)
  WHAT+=("$src")
}
for src in "${CORE_SRCS[@]}" "${TEST_SRCS[@]}"; do compile baseline "$src"; done
for isa in "${ISAS[@]}"; do
  declare -n srcs="KERNEL_SRCS_$isa" flags="ISA_FLAGS_$isa"
  warn=()
  if declare -p "WARN_FLAGS_$isa" >/dev/null 2>&1; then
    declare -n warn_ref="WARN_FLAGS_$isa"
    warn=("${warn_ref[@]}")
  fi
  for src in "${srcs[@]}"; do compile "$isa" "$src" "${flags[@]}" "${warn[@]}"; done
done
failed_builds=0
for i in "${!PIDS[@]}"; do
  if ! wait "${PIDS[$i]}"; then
    echo "error: compiling ${WHAT[$i]} failed" >&2
    failed_builds=1
  fi
done
[[ $failed_builds == 0 ]] || exit 1
echo "   LINK $BIN"
"$CXX" "${OBJS[@]}" "${LINK_FLAGS[@]}" -o "$BIN"

# ---------------------------------------------------------------- runs
LOG="$BUILD/last-run.log"
: >"$LOG"
summaries=()
failed_runs=0
run_driver() {  # run_driver <description> <SPARSENN_ISA value or ""> <driver args...>
  local desc="$1" isa="$2"
  shift 2
  local envset=(env -u SPARSENN_ISA)  # the default run ignores any SPARSENN_ISA of the caller
  [[ -n "$isa" ]] && envset=(env "SPARSENN_ISA=$isa")
  echo
  echo "== run: $desc"
  echo "   \$ ${isa:+SPARSENN_ISA=$isa }${RUN[*]:+${RUN[*]} }$BIN $*"
  local out status=0
  out="$(mktemp)"
  "${envset[@]}" "${RUN[@]}" "$BIN" "$@" 2>&1 | tee "$out" || status=$?
  cat "$out" >>"$LOG"
  local last
  last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)"
  rm -f "$out"
  if [[ $status != 0 || -z "$last" ]]; then
    failed_runs=$((failed_runs + 1))
    summaries+=("FAILED (exit $status): $desc: ${last:-no summary line}")
  else
    summaries+=("ok: $desc: $last")
  fi
}

if ! SUPPORTED="$("${RUN[@]}" "$BIN" --list-isas)"; then
  echo "error: $BIN does not start${RUN[*]:+ under ${RUN[*]}}" >&2
  exit 1
fi
echo
echo "== ISAs compiled in and supported here: $SUPPORTED"

run_driver "all kernels of every supported ISA, prepared path with the default ISA" ""
BEST_ISA="${SUPPORTED##* }"  # the default run's ISA: the driver lists supported ISAs best last
for isa in $SUPPORTED; do
  if [[ "${DISTINCT_RUNS_ONLY:-0}" == 1 && "$isa" == "$BEST_ISA" ]]; then continue; fi
  run_driver "prepared path with SPARSENN_ISA=$isa" "$isa" --prepared-only
done
if [[ "${DISTINCT_RUNS_ONLY:-0}" != 1 ]]; then
  run_driver "unusable SPARSENN_ISA falls back to the best ISA" bogus --prepared-only
fi

echo
echo "== summary ($BIN${RUN[*]:+, run with ${RUN[*]}})"
for s in "${summaries[@]}"; do echo "   $s"; done
if [[ $failed_runs != 0 ]]; then
  echo "test-native: $failed_runs run(s) FAILED (full output in $LOG)"
  exit 1
fi
echo "test-native: all ${#summaries[@]} runs passed"
