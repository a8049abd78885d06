#!/usr/bin/env bash
# valgrind memcheck over the native kernel test driver (scripts/test-native.sh, built at -O1
# without sanitizers in native/test/build/x64-O1): invalid reads and writes, uses of
# uninitialised values and definite or indirect leaks are all errors, and any error fails the
# run (exit 99 from valgrind). Memcheck sees what ASan does not (uninitialised reads) and
# runs the uninstrumented code; it is ~25x slower, about 9 minutes here.
#
# Valgrind's virtual CPU has no AVX-512, so the driver tests the scalar and AVX2 kernels under
# it (and says it skips AVX-512). Without valgrind the run is skipped with a message, unless
# SPARSENN_REQUIRE_VALGRIND=1 (set by CI), which makes it an error.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v valgrind >/dev/null 2>&1; then
  if [[ "${SPARSENN_REQUIRE_VALGRIND:-0}" == 1 ]]; then
    echo "error: valgrind is missing (Debian: apt-get install valgrind) and SPARSENN_REQUIRE_VALGRIND=1" >&2
    exit 1
  fi
  echo "== valgrind memcheck SKIPPED: valgrind not found (Debian: apt-get install valgrind)"
  exit 0
fi

export RUNNER="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --track-origins=yes -q"
export OPT=-O1
export SANITIZE=0
export DISTINCT_RUNS_ONLY=1   # the forced best-ISA and fallback runs repeat the default run's code
exec bash scripts/test-native.sh
